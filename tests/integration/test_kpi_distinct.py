"""Leads contacted counts each lead once per rep and period, on the day of its first contact in
the period. The projection keeps those first contacts and their counts per month, so that KPI
cards and leaderboards read counts instead of every contact; they must agree with the contacts
themselves (the `as_of` path) whatever order the business dates arrive in, across a transfer
within a month, and whatever the batches of a rebuild."""

import itertools
from datetime import UTC, datetime, timedelta

from domain.values import Period
from projections.engine import tracking
from projections.engine.runner import catch_up, rebuild
from projections.kpi import KPI
from projections.org import OrgHistory
from projections.performance import _scope_totals, kpis, leaderboard
from tests.e2e.test_organisation import Org
from tests.helpers import table_rows

CONTACTS = [  # (lead, business date), in the order they are recorded
    ("L1", "2026-02-20"),  # after the transfer: 华南一组
    ("L1", "2026-02-10"),  # earlier, recorded later: L1's first contact of February, Q1 and 2026 (华东一组)
    ("L1", "2026-03-05"),
    ("L2", "2026-03-01"),
    ("L2", "2026-01-10"),  # moves L2's first contact of Q1 and 2026 from March to January
    ("L3", "2026-02-16"),  # on a day that February's placement of the rep is split by the transfer
]


def contacted(card):
    return next(m["actual"] for m in card["metrics"] if m["metric"] == "leads_contacted")


def test_leads_contacted_counts_first_contacts_per_period_and_scope(client):
    org = Org(client)
    director = org.rep("总监", "director", "销售总部", "全国")
    amy = org.rep("Amy 安", "senior", "华东一组", "华东", director)
    leads = {}
    for name in ("L1", "L2", "L3"):
        lead = org.lead(f"公司 {name}", captured_on="2026-01-01")["id"]
        org.post(f"/leads/{lead}/assign", {"rep_id": amy, "reason": "x", "assigned_at": "2026-01-02T00:00:00Z"})
        leads[name] = lead
    org.post(
        f"/reps/{amy}/transfer", {"team": "华南一组", "region": "华南", "effective_from": "2026-02-15", "reason": "x"}
    )
    for name, day in CONTACTS:
        org.post(
            f"/leads/{leads[name]}/contacts",
            {"channel": "call", "outcome": "ok", "occurred_at": f"{day}T10:00:00+08:00"},
        )

    expected = {
        (f"rep:{amy}", "2026-01"): 1,  # L2
        (f"rep:{amy}", "2026-02"): 2,  # L1, L3
        (f"rep:{amy}", "2026-03"): 2,  # L1, L2
        (f"rep:{amy}", "2026-Q1"): 3,
        ("team:华东一组", "2026-02"): 1,  # L1 on 02-10
        ("team:华南一组", "2026-02"): 1,  # L3 on 02-16; L1's 02-20 is not its first
        ("team:华东一组", "2026-Q1"): 2,  # L1 (02-10), L2 (01-10)
        ("team:华南一组", "2026-Q1"): 1,  # L3
        ("team:华南一组", "2026-03"): 2,
        ("company", "2026"): 3,
    }
    for (scope, period), count in expected.items():
        assert contacted(org.get("/kpis", scope=scope, period=period)) == count, (scope, period)

    rt = client.app.state.runtime
    later = datetime.now(UTC) + timedelta(days=1)
    with rt.db.read() as tx:  # counts read as things are now == the contacts themselves
        history = OrgHistory(tx)
        for (scope, _), period in itertools.product(expected, ("2026-01", "2026-02", "2026-03", "2026-Q1", "2026")):
            period = Period.parse(period)
            assert (
                kpis(tx, scope=scope, period=period)["metrics"]
                == kpis(tx, scope=scope, period=period, as_of=later)["metrics"]
            ), (scope, period)
            for subtract in (False, True):
                now = _scope_totals(tx, history, scope, period, None, subtract=subtract)
                assert (
                    now[("leads_contacted", None)][:2]
                    == _scope_totals(tx, history, scope, period, later)[("leads_contacted", None)][:2]
                ), (scope, period)
        board = leaderboard(tx, metric="leads_contacted", period=Period.parse("2026-Q1"), scope="company")
        assert [(r["rep_id"], r["value"]) for r in board["rows"]] == [(amy, 3)]
        assert (
            board["rows"]
            == leaderboard(tx, metric="leads_contacted", period=Period.parse("2026-Q1"), scope="company", as_of=later)[
                "rows"
            ]
        )


def test_the_kpi_tables_are_the_same_whatever_the_batches(client):
    """Event by event or in one batch, every KPI table holds the same rows: the first contacts and
    their counts (a count that a later-recorded, earlier contact moved away leaves no empty row
    behind), the monthly totals, their (rep, month) pairs and the company's totals."""
    org = Org(client)
    amy = org.rep("Amy 安", "senior")
    for round in range(2):
        leads = {}
        for name in sorted({name for name, _ in CONTACTS}):
            leads[name] = org.lead(f"公司 {name} {round}", captured_on="2026-01-01")["id"]
            org.post(
                f"/leads/{leads[name]}/assign", {"rep_id": amy, "reason": "x", "assigned_at": "2026-01-02T00:00:00Z"}
            )
        for name, day in CONTACTS:
            body = {"channel": "call", "outcome": "ok", "occurred_at": f"{day}T02:00:00Z"}
            org.post(f"/leads/{leads[name]}/contacts", body)
    rt = client.app.state.runtime
    catch_up(rt.db, rt.source, KPI)

    def tables():
        with rt.db.read() as tx:
            generation = tracking.registration(tx, KPI.name).active_generation
        return table_rows(rt.db, KPI.table_names(generation))

    live = tables()
    # per round: L1 in February, March, Q1 and 2026; L2 in January, March, Q1 and 2026; L3 in February, Q1, 2026
    assert len(live["firsts"]) == 2 * (4 + 4 + 3)
    assert all(qty for *_, qty in live["firsts_monthly"])
    assert live["rep_months"] and live["company_monthly"]
    for limit in (1, 10_000):  # one event per batch; everything in one batch
        rebuild(rt.db, rt.source, KPI, limit=limit)
        assert tables() == live, limit


def test_company_totals_leave_out_what_a_rep_did_before_being_hired(client):
    """The company's KPIs read the projection's company totals less the months of reps hired
    later than the period's start: a deal signed before its owner's hiring date counts nowhere,
    one signed after counts, as the facts say (the `as_of` path)."""
    org = Org(client)
    director = org.rep("总监", "director", "销售总部", "全国")
    amy = org.rep("Amy 安", "senior", "华东一组", "华东", director)
    late = org.rep("Lu 陆", "junior", "华东一组", "华东", director, hired_on="2026-02-15")
    org.won_deal(amy, "1000.00", "100.00", "2026-01-20")
    org.won_deal(late, "20000.00", "2000.00", "2026-02-10")  # before Lu's hiring: in no scope
    org.won_deal(late, "300.00", "30.00", "2026-02-20")
    org.won_deal(late, "4000.00", "400.00", "2026-03-05")
    revenue = {
        period: next(
            m["actual"] for m in org.get("/kpis", scope="company", period=period)["metrics"] if m["metric"] == "revenue"
        )
        for period in ("2026-01", "2026-02", "2026-Q1")
    }
    assert revenue == {"2026-01": "1000.00", "2026-02": "300.00", "2026-Q1": "5300.00"}
    rt = client.app.state.runtime
    later = datetime.now(UTC) + timedelta(days=1)
    with rt.db.read() as tx:
        history = OrgHistory(tx)
        for period in map(Period.parse, ("2026-01", "2026-02", "2026-03", "2026-Q1", "2026")):
            facts = _scope_totals(tx, history, "company", period, later)
            for subtract in (None, False):
                now = _scope_totals(tx, history, "company", period, None, subtract=subtract)
                assert {k: v[:2] for k, v in now.items() if v[2]} == {k: v[:2] for k, v in facts.items()}, period
