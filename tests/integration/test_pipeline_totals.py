"""The pipeline board read from maintained totals equals the board computed deal by deal (the
definition), for every filter, on a demo history with transfers; and totals built batch by batch
equal totals built in one pass."""

import itertools
import json
import statistics
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pytest

from application.demo import load_demo
from domain.fx import convert
from domain.values import OPEN_STAGES, Period
from projections.engine import tracking
from projections.engine.runner import catch_up, process, rebuild
from projections.engine.tracking import active_tables
from projections.fx import FX, rate_on
from projections.money import fraction, from_cents
from projections.org import ORG, OrgHistory, Placement
from projections.pipeline import DEAL_COLUMNS, PIPELINE, ROLLUPS, pipeline_board
from tests.helpers import table_rows


def reference(tx, *, currency="CNY", period=None, owners=None, as_of, **filters):
    """The board by its definition: every deal, placed in the org on its own date."""
    t = active_tables(tx, PIPELINE)
    deals = [dict(zip(DEAL_COLUMNS, row, strict=True)) for row in tx.all(f"SELECT * FROM {t['deals']}")]
    deals = [d for d in deals if d["currency"] == currency]
    deals = [d for d in deals if all(filters.get(k) in (None, d[k]) for k in ("owner_id", "product_line"))]
    if period:
        deals = [d for d in deals if date.fromisoformat(d["opened_on"]) in period]
    if owners is not None:
        deals = [d for d in deals if d["owner_id"] in owners]
    scopes = [f"{k}:{filters[k]}" for k in ("team", "region") if filters.get(k)]
    org = OrgHistory(tx)

    def day(d):
        closed = d["closed_on"] if d["status"] != "open" else None
        return date.fromisoformat(closed) if closed else as_of

    deals = [d for d in deals if all(org.in_scope(d["owner_id"], day(d), s) for s in scopes)]
    stages = {s: [0, 0, 0] for s in OPEN_STAGES}
    forecast = defaultdict(lambda: [0, 0, 0])
    won, lost, reasons = [0, 0, 0, 0], [0, 0], Counter()
    for d in deals:
        if d["status"] == "open":
            for b in (stages[d["stage"]], forecast[(d["expected_close"] or "")[:7] or "unscheduled"]):
                b[0], b[1], b[2] = b[0] + 1, b[1] + d["amount_cents"], b[2] + d["weighted_cents"]
        elif d["status"] == "won":
            won = [won[0] + 1, won[1] + d["signed_cents"], won[2] + d["margin_cents"], won[3] + d["refunded_cents"]]
        else:
            lost = [lost[0] + 1, lost[1] + d["amount_cents"]]
            reasons[d["lost_reason"] or "unspecified"] += 1
    stays = {s: [] for s in OPEN_STAGES}
    for d in deals:
        for (stage, entered), (_, left) in itertools.pairwise(json.loads(d["steps"])):
            if stage in stays:
                stays[stage].append((date.fromisoformat(left) - date.fromisoformat(entered)).days)

    def days(values):
        if not values:
            return {"count": 0, "mean_days": None, "median_days": None}
        q = Decimal("0.01")
        return {
            "count": len(values),
            "mean_days": (Decimal(sum(values)) / len(values)).quantize(q, ROUND_HALF_UP),
            "median_days": Decimal(str(statistics.median(values))).quantize(q, ROUND_HALF_UP),
        }

    reached = [sum(1 for d in deals if d["status"] == "won" or d["max_stage"] >= i) for i in range(len(OPEN_STAGES))]
    counts, steps = [*reached, won[0]], [*OPEN_STAGES, "won"]
    return {
        "stages": [(s, c, from_cents(a), from_cents(w)) for s, (c, a, w) in stages.items()],
        "won": (won[0], from_cents(won[1]), from_cents(won[2]), from_cents(won[3])),
        "lost": (lost[0], from_cents(lost[1])),
        "reasons": sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])),
        "forecast": [(m, c, from_cents(a), from_cents(w)) for m, (c, a, w) in sorted(forecast.items())],
        "conversion": [(steps[i], counts[i], counts[i + 1], fraction(counts[i + 1], counts[i])) for i in range(4)],
        "velocity": [(s, days(v)) for s, v in stays.items()],
    }


def in_base(tx, board, *, as_of, **case):
    """The board without `currency`: every currency's deals in base currency. Closed deals convert
    one by one at the rate of their closing date (read here from the fx read model, not from the
    pipeline's rows); open ones per group at the rate on `as_of` (within a cent per group)."""
    rates = active_tables(tx, FX)["rates"]
    codes = sorted({row[0] for row in tx.all(f"SELECT DISTINCT currency FROM {active_tables(tx, PIPELINE)['deals']}")})
    assert len(codes) > 1  # the demo sells in US dollars too
    won = lost = Decimal("0.00")
    opened, count = Decimal("0.00"), 0
    for code in codes:
        theirs = reference(tx, currency=code, as_of=as_of, **case)
        count += theirs["won"][0]
        if code == "CNY":
            won, lost, opened = (
                won + theirs["won"][1],
                lost + theirs["lost"][1],
                opened + sum(s[2] for s in theirs["stages"]),
            )
            continue
        for deal in deals_of(tx, code, as_of=as_of, **case):
            if deal["status"] == "open":
                continue
            rate = rate_on(tx, rates, code, date.fromisoformat(deal["closed_on"])).rate
            if deal["status"] == "won":
                won += convert(from_cents(deal["signed_cents"]), rate)
            else:
                lost += convert(from_cents(deal["amount_cents"]), rate)
        opened += convert(sum(s[2] for s in theirs["stages"]), rate_on(tx, rates, code, as_of).rate)
    assert (board["won"]["count"], board["won"]["amount"], board["lost"]["amount"]) == (count, won, lost), case
    assert abs(board["open"]["amount"] - opened) <= Decimal("0.01") * 40, case
    assert board["currency"] == "CNY" and board["unconverted"] == []


def deals_of(tx, currency, *, as_of, period=None, owners=None, **filters):
    """The deals `reference` counts for one currency (the same filters, by the same rules)."""
    kept = []
    t = active_tables(tx, PIPELINE)
    org = OrgHistory(tx)
    scopes = [f"{k}:{filters[k]}" for k in ("team", "region") if filters.get(k)]
    for row in tx.all(f"SELECT * FROM {t['deals']} WHERE currency = ?", (currency,)):
        d = dict(zip(DEAL_COLUMNS, row, strict=True))
        if not all(filters.get(k) in (None, d[k]) for k in ("owner_id", "product_line")):
            continue
        if (period and date.fromisoformat(d["opened_on"]) not in period) or (
            owners is not None and d["owner_id"] not in owners
        ):
            continue
        day = date.fromisoformat(d["closed_on"]) if d["status"] != "open" and d["closed_on"] else as_of
        if all(org.in_scope(d["owner_id"], day, s) for s in scopes):
            kept.append(d)
    return kept


def shape(board):
    return {
        "stages": [(s["stage"], s["count"], s["amount"], s["weighted_amount"]) for s in board["stages"]],
        "won": tuple(board["won"][k] for k in ("count", "amount", "gross_margin", "refunded")),
        "lost": (board["lost"]["count"], board["lost"]["amount"]),
        "reasons": [(r["reason"], r["count"]) for r in board["loss_reasons"]],
        "forecast": [(f["month"], f["count"], f["amount"], f["weighted_amount"]) for f in board["forecast"]],
        "conversion": [(c["from"], c["reached_from"], c["reached_to"], c["rate"]) for c in board["conversion"]],
        "velocity": [(v["stage"], {k: v[k] for k in ("count", "mean_days", "median_days")}) for v in board["velocity"]],
    }


@pytest.fixture
def demo(runtime):
    load_demo(runtime.ledger, seed=3, reps=12, deals=160)
    catch_up(runtime.db, runtime.source, ORG)
    catch_up(runtime.db, runtime.source, FX)
    return runtime


def test_totals_answer_what_the_deals_say_for_every_filter(demo):
    rt = demo
    generation = None
    with rt.db.read() as tx:
        generation = tracking.registration(tx, PIPELINE.name).active_generation
        start = tracking.position(tx, PIPELINE.name, generation)
    position = start
    while True:  # small batches: deals change across batches
        position, applied = process(rt.db, rt.source, PIPELINE, generation, position, limit=17)
        if not applied and position >= rt.source.head():
            break
    with rt.db.read() as tx:
        t = active_tables(tx, PIPELINE)
        org = OrgHistory(tx)
        teams = sorted({c.get("team") for tl in org.timelines.values() for c in tl if c.get("team")})
        regions = sorted({c.get("region") for tl in org.timelines.values() for c in tl if c.get("region")})
        owners = sorted({row[0] for row in tx.all(f"SELECT owner_id FROM {t['deals']}")})
        lines = sorted({row[0] for row in tx.all(f"SELECT product_line FROM {t['deals']}")})
        moved = sum(1 for tl in org.timelines.values() for c in tl if "team" in c) > len(org.timelines)
        assert moved  # the demo transfers reps: the timeline matters
        cases = [{}, {"owners": set(owners[::2])}, {"period": Period.parse("2026-Q2")}]
        cases += [{"team": team} for team in teams] + [{"region": region} for region in regions]
        cases += [{"owner_id": owners[0]}, {"product_line": lines[0]}, {"team": teams[0], "product_line": lines[-1]}]
        for as_of, case in itertools.product((date(2026, 3, 15), date(2026, 12, 31)), cases):
            one = {**case, "currency": "CNY"}  # one currency in its own amounts
            assert shape(pipeline_board(tx, as_of=as_of, **one)) == reference(tx, as_of=as_of, **one), case
            in_base(tx, pipeline_board(tx, as_of=as_of, **case), as_of=as_of, **case)
        for rollup, (source, kept, measures) in ROLLUPS.items():  # the company's rollups: sums over owners
            summed = tx.all(
                f"SELECT {', '.join(kept)}, {', '.join(f'SUM({m})' for m in measures)} FROM {t[source]} "
                f"GROUP BY {', '.join(kept)}"
            )
            stored = tx.all(f"SELECT {', '.join(kept)}, {', '.join(measures)} FROM {t[rollup]}")
            key = len(kept)
            assert sorted(tuple(r) for r in summed if any(r[key:])) == sorted(tuple(r) for r in stored), rollup
            assert stored
    batched = table_rows(rt.db, PIPELINE.table_names(generation))
    rebuild(rt.db, rt.source, PIPELINE)
    with rt.db.read() as tx:
        rebuilt = tracking.registration(tx, PIPELINE.name).active_generation
    assert table_rows(rt.db, PIPELINE.table_names(rebuilt)) == batched


def test_a_transfer_within_a_month_splits_that_months_wins(client):
    """Wins in the month a rep moved stay with the team of their signing day."""
    from tests.e2e.test_organisation import Org

    org = Org(client)
    director = org.rep("总监", "director", "销售总部", "全国")
    a = org.rep("Amy 安", "senior", "华东一组", "华东", director)
    org.won_deal(a, "10000.00", "1000.00", "2026-02-05")
    org.won_deal(a, "20000.00", "2000.00", "2026-02-20")
    org.won_deal(a, "40000.00", "4000.00", "2026-01-20")
    org.post(
        f"/reps/{a}/transfer", {"team": "华南一组", "region": "华南", "effective_from": "2026-02-15", "reason": "x"}
    )
    old = org.get("/pipeline", team="华东一组", as_of="2026-06-30")
    new = org.get("/pipeline", team="华南一组", as_of="2026-06-30", region="华南")
    assert (old["won"]["count"], old["won"]["amount"]) == (2, "50000.00")
    assert (new["won"]["count"], new["won"]["amount"]) == (1, "20000.00")
    assert [c["reached_to"] for c in new["conversion"]][-1] == 1


def test_kpis_and_leaderboards_from_monthly_totals_equal_the_facts(demo):
    """As things are now (monthly totals) equals as recorded by a moment after every event (facts)."""
    from datetime import UTC, datetime, timedelta

    from projections.kpi import KPI
    from projections.performance import METRICS, _scope_totals, kpis, leaderboard

    rt = demo
    catch_up(rt.db, rt.source, KPI)
    later = datetime.now(UTC) + timedelta(days=1)
    with rt.db.read() as tx:
        org = OrgHistory(tx)
        teams = sorted({c["team"] for tl in org.timelines.values() for c in tl if c.get("team")})
        scopes = ["company", *(f"team:{t}" for t in teams), f"rep:{sorted(org.timelines)[0]}"]
        for period, scope in itertools.product(map(Period.parse, ("2026-03", "2026-Q2", "2026")), scopes):
            now, then = kpis(tx, scope=scope, period=period), kpis(tx, scope=scope, period=period, as_of=later)
            assert {**now, "as_of": None} == {**then, "as_of": None}, (period, scope)
            for subtract in (False, True):  # the scope's pairs summed, or all pairs less those out
                both = _scope_totals(tx, org, scope, period, None, subtract=subtract)
                facts = _scope_totals(tx, org, scope, period, later)
                assert {k: v[:2] for k, v in both.items() if v[2]} == {k: v[:2] for k, v in facts.items()}, scope
        for metric, scope in itertools.product(METRICS, scopes[:2]):
            now = leaderboard(tx, metric=metric, period=Period.parse("2026-Q3"), scope=scope, limit=50)
            then = leaderboard(tx, metric=metric, period=Period.parse("2026-Q3"), scope=scope, limit=50, as_of=later)
            assert now["rows"] == then["rows"], (metric, scope)


def test_rollups_left_stale_by_a_big_batch_are_summed_at_the_head(demo, monkeypatch):
    """A rebuild or a backlog does not upsert the rollups batch after batch: it marks them stale,
    boards read the owners' totals meanwhile, and the batch that reaches the head sums them. A
    rebuild's big batches leave the owners' totals and stays to the head too, summed from the deals."""
    import projections.pipeline as pipeline

    rt = demo
    with rt.db.read() as tx:
        generation = tracking.registration(tx, PIPELINE.name).active_generation
        position = tracking.position(tx, PIPELINE.name, generation)
    while position < rt.source.head():  # kept batch by batch: the rollups upkept
        position, _ = process(rt.db, rt.source, PIPELINE, generation, position, limit=50)
    kept = table_rows(rt.db, PIPELINE.table_names(generation))
    with rt.db.read() as tx:
        boards = [pipeline_board(tx, as_of=date(2026, 12, 31), **case) for case in ({}, {"product_line": "ERP"})]

    monkeypatch.setattr(pipeline, "ROLLUP_BATCH", 1)  # every batch counts as big
    rebuild(rt.db, rt.source, PIPELINE, limit=40)
    with rt.db.read() as tx:
        rebuilt = tracking.registration(tx, PIPELINE.name).active_generation
        t = active_tables(tx, PIPELINE)
        assert not pipeline.rollups_stale(tx, t)  # summed by the last batch
        assert [
            pipeline_board(tx, as_of=date(2026, 12, 31), **case) for case in ({}, {"product_line": "ERP"})
        ] == boards
    rows = table_rows(rt.db, PIPELINE.table_names(rebuilt))
    # the rebuild's batches left the owners' totals and stays (row 2) and the rollups (row 1) to
    # the head, where they were summed from the deals
    assert rows.pop("rollup_state") == [(1, 0), (2, 0)] and kept.pop("rollup_state") == []
    assert rows == kept  # the same rows as kept batch by batch
    with rt.db.read() as tx:  # a generation that answers queries keeps its totals batch by batch
        assert pipeline._answering(tx, PIPELINE.table_names(rebuilt))
        assert not pipeline._answering(tx, PIPELINE.table_names(rebuilt + 1))

    with rt.db.transaction() as tx:  # while stale, boards read the owners' totals: the same answer
        pipeline._mark_rollups(tx, t, stale=True)
        tx.execute(f"DELETE FROM {t['all_totals']}")
    with rt.db.read() as tx:
        assert [
            pipeline_board(tx, as_of=date(2026, 12, 31), **case) for case in ({}, {"product_line": "ERP"})
        ] == boards


def test_stale_rollups_are_summed_by_a_head_batch_without_deal_events(demo, monkeypatch):
    """A backlog's big batch leaves the rollups stale; when the batches that reach the head hold no
    deal event (leads, say), the head batch still sums them: the company's board does not stay on
    the owners' totals until the next deal event."""
    import projections.pipeline as pipeline
    from domain.base import Meta

    rt = demo
    catch_up(rt.db, rt.source, PIPELINE)
    with rt.db.read() as tx:
        generation = tracking.registration(tx, PIPELINE.name).active_generation
        t = active_tables(tx, PIPELINE)
        board = pipeline_board(tx, as_of=date(2026, 12, 31))
        [deal_id] = tx.all(f"SELECT deal_id FROM {t['deals']} WHERE status = 'open' ORDER BY deal_id LIMIT 1")[0]
    monkeypatch.setattr(pipeline, "ROLLUP_BATCH", 1)  # the next deal batch counts as big
    meta = Meta(actor="test")
    rt.ledger.deals.lose_deal(meta, deal_id, reason="price", lost_on=date(2026, 12, 1))
    for n in range(3):
        rt.ledger.leads.capture_lead(meta, company=f"线索 {n}", source="trade_show", region="华东", industry="retail")
    with rt.db.read() as tx:
        position = tracking.position(tx, PIPELINE.name, generation)
    assert position == rt.source.head() - 4
    position, _ = process(rt.db, rt.source, PIPELINE, generation, position, limit=1, live=True)  # the deal event
    with rt.db.read() as tx:
        assert pipeline.rollups_stale(tx, t)  # the big batch left them to the head
    while position < rt.source.head():  # lead events only: nothing of the pipeline's topics
        position, applied = process(rt.db, rt.source, PIPELINE, generation, position, limit=2, live=True)
        assert applied == 0
    with rt.db.read() as tx:
        assert not pipeline.rollups_stale(tx, t)
        lost = pipeline_board(tx, as_of=date(2026, 12, 31))
    assert lost["lost"]["count"] == board["lost"]["count"] + 1


def test_collection_totals_equal_the_won_deals_whatever_the_batches(demo):
    """The accounts projection's collection totals per owner, signing month and currency are the
    won deals' billed and kept amounts summed, kept batch by batch or rebuilt in one pass; and the
    collection rate read from them is the one computed deal by deal."""
    from projections.accounts import ACCOUNTS, receivables, scope_collection_rate

    rt = demo
    catch_up(rt.db, rt.source, ACCOUNTS)

    def by_deals(tx):
        t = active_tables(tx, ACCOUNTS)
        return {
            (owner, month, code): (int(b), int(k))
            for owner, month, code, b, k in tx.all(
                f"SELECT owner_id, substr(signed_on, 1, 7), currency, SUM(signed_cents - cancelled_cents), "
                f"SUM(collected_cents - refunded_cents) FROM {t['deals']} WHERE status = 'won' "
                "GROUP BY owner_id, substr(signed_on, 1, 7), currency"
            )
            if int(b) or int(k)
        }

    def kept(tx):
        t = active_tables(tx, ACCOUNTS)
        rows = tx.all(f"SELECT owner_id, month, currency, billed_cents, kept_cents FROM {t['collections']}")
        return {(o, m, c): (b, k) for o, m, c, b, k in rows}

    with rt.db.read() as tx:
        totals = kept(tx)
        assert totals and totals == by_deals(tx)
        org = OrgHistory(tx)
        for period in map(Period.parse, ("2026-02", "2026-Q2", "2026")):  # as the receivables report's teams
            rows = receivables(tx, period=period, as_of=date(2026, 12, 31), group_by="team")["rows"]
            assert rows
            for row in rows:
                rate = scope_collection_rate(tx, period=period, scope=f"team:{row['team']}", org=org)
                assert rate == row["collection_rate"], (period, row)
    for limit in (7, 100_000):
        rebuild(rt.db, rt.source, ACCOUNTS, limit=limit)
        with rt.db.read() as tx:
            assert kept(tx) == totals, limit


def test_revisit_adherence_of_a_scope_is_what_its_revisits_say(demo):
    """Adherence per team, region and rep, each owner placed month by month (day by day in a month
    they moved), equals the revisits counted one by one on their due dates."""
    from domain.base import Meta
    from projections.revisits import REVISITS, revisit_adherence

    rt = demo
    catch_up(rt.db, rt.source, REVISITS)
    with rt.db.read() as tx:
        t = active_tables(tx, REVISITS)
        rows = tx.all(f"SELECT owner_id, due_on, state FROM {t['due']} WHERE state <> 'open'")
    # an owner moves on the day one of their revisits fell due: that month is placed day by day
    owner, due_on, _ = next(r for r in rows if r[0] and r[1].startswith("2026") and not r[1].endswith("-01"))
    day = date.fromisoformat(due_on)
    rt.ledger.org.transfer_rep(Meta(actor="test"), owner, effective_from=day, reason="x", team="新团队")
    catch_up(rt.db, rt.source, ORG)
    with rt.db.read() as tx:
        org = OrgHistory(tx)
        assert Placement(tx, ["team:新团队"], org).month(owner, due_on[:7]) is None
        teams = sorted({c["team"] for tl in org.timelines.values() for c in tl if c.get("team")})
        regions = sorted({c["region"] for tl in org.timelines.values() for c in tl if c.get("region")})
        scopes = [*(f"team:{x}" for x in teams), *(f"region:{x}" for x in regions), f"rep:{rows[0][0]}"]
        counted = 0
        for period, scope in itertools.product(map(Period.parse, ("2026-03", "2026-Q2", "2026")), scopes):
            on_time = missed = 0
            for owner, due_on, state in rows:
                day = date.fromisoformat(due_on)
                if day in period and owner and org.in_scope(owner, day, scope):
                    on_time, missed = on_time + (state == "on_time"), missed + (state != "on_time")
            got = revisit_adherence(tx, period=period, scope=scope, org=org)
            assert (got["on_time"], got["late_or_overdue"]) == (on_time, missed), (period, scope)
            counted += on_time + missed
        assert counted


def test_active_customers_of_a_scope_are_counted_from_its_owners_customers(demo):
    """A KPI card's active customers by grade: the customers with a first win by the period's end
    whose owner sits in the scope at that end, read only for the owners who ever sat in it."""
    from projections.kpi import KPI
    from projections.performance import kpis

    rt = demo
    catch_up(rt.db, rt.source, KPI)
    with rt.db.read() as tx:
        org = OrgHistory(tx)
        t = active_tables(tx, KPI)
        customers = tx.all(f"SELECT owner_id, grade, first_won_on FROM {t['customers']}")
        teams = sorted({c["team"] for tl in org.timelines.values() for c in tl if c.get("team")})
        total = 0
        for period, scope in itertools.product(
            map(Period.parse, ("2026-03", "2026")), ["company", *(f"team:{x}" for x in teams)]
        ):
            expected = {"A": 0, "B": 0, "C": 0, "ungraded": 0}
            for owner, grade, won in customers:
                if won and won <= period.end.isoformat() and owner and org.in_scope(owner, period.end, scope):
                    expected[grade or "ungraded"] += 1
            assert kpis(tx, scope=scope, period=period)["active_customers_by_grade"] == expected, (period, scope)
            total += sum(expected.values())
        assert total
