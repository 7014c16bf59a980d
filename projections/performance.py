"""KPIs against targets and leaderboards, for any scope (company, region:X, team:Y, rep:ID)
and period, computed from KPI facts and the organisation as it was on each fact's date."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.errors import NotFound
from domain.rep import LEVEL_ORDER
from domain.target import parse_scope
from domain.values import MONEY_METRICS, SELLING_LEVELS, Metric, Period, base_currency
from infrastructure.database import Tx
from projections.accounts import scope_collection_rate
from projections.engine.tracking import active_tables
from projections.fx import redenominate
from projections.kpi import DISTINCT_SUBJECTS, KPI, relief, utc_text
from projections.money import fraction, from_cents
from projections.org import OrgHistory, Placement, ever_in_clause, month_bounds
from projections.revisits import revisit_adherence
from projections.targets import targets_in_force

METRICS = tuple(m.value for m in Metric)
KPI_MONEY = ("metrics[].actual", "metrics[].target", "metrics[].relief", "product_mix[].revenue")


def _facts(
    tx: Tx,
    period: Period,
    as_of: datetime | None,
    metrics: tuple[str, ...] = METRICS,
    reps: tuple[str, list[str]] = ("", []),
) -> list[tuple]:
    """The period's facts of `metrics` (those recorded by `as_of`; of the reps `reps` names, an
    `ever_in_clause`), in the order they happened: a distinct subject counts at its first fact."""
    t = active_tables(tx, KPI)
    sql = (
        f"SELECT rep_id, day, metric, product_line, amount_cents, qty, customer_id FROM {t['facts']} "
        f"WHERE day >= ? AND day <= ? AND metric IN ({', '.join('?' * len(metrics))}){reps[0]}"
    )
    params: list[Any] = [period.start.isoformat(), period.end.isoformat(), *metrics, *reps[1]]
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(utc_text(as_of))
    sql += " ORDER BY day, position, fact_id"
    facts, seen = [], set()
    for rep, day, metric, line, cents, qty, subject in tx.all(sql, params):
        if metric in DISTINCT_SUBJECTS:  # count each (rep, lead) once per period
            if (rep, subject) in seen:
                continue
            seen.add((rep, subject))
        facts.append((rep, date.fromisoformat(day), metric, line, cents, qty))
    return facts


def _monthly(tx: Tx, period: Period, metrics: tuple[str, ...]) -> list[tuple]:
    """Per rep, month, metric and product line: the maintained totals of the period's months."""
    t = active_tables(tx, KPI)
    return tx.all(
        f"SELECT rep_id, month, metric, product_line, amount_cents, qty FROM {t['monthly']} "
        f"WHERE month >= ? AND month <= ? AND metric IN ({', '.join('?' * len(metrics))})",
        [period.start.isoformat()[:7], period.end.isoformat()[:7], *metrics],
    )


def _distinct_in_scope(
    tx: Tx, org: OrgHistory, scope: str, period: Period, reps: tuple[str, list[str]] = ("", [])
) -> Iterator[tuple[str, str, int]]:
    """(rep, metric, subjects) of the distinct-subject metrics in scope: each subject counted once
    per rep and period, on the day of its first fact in the period. Reads the projection's counts
    per rep and month of that first fact (rows bounded by reps x months), placing each rep month
    by month; for a month in which a rep moved, the first facts of that month, day by day."""
    t = active_tables(tx, KPI)
    metrics = sorted(DISTINCT_SUBJECTS)
    placement = Placement(tx, [scope], org)
    for rep, month, metric, qty in tx.all(
        f"SELECT rep_id, month, metric, qty FROM {t['firsts_monthly']} WHERE period = ? "
        f"AND metric IN ({', '.join('?' * len(metrics))}) AND qty <> 0{reps[0]}",
        [period.label, *metrics, *reps[1]],
    ):
        whole = placement.month(rep, month)
        if whole:
            yield rep, metric, int(qty)
        elif whole is None:
            start, end = month_bounds(month)
            days = tx.all(
                f"SELECT day FROM {t['firsts']} WHERE rep_id = ? AND period = ? AND day >= ? AND day <= ? "
                "AND metric = ?",
                [rep, period.label, start.isoformat(), end.isoformat(), metric],
            )
            yield rep, metric, sum(1 for (day,) in days if placement.on(rep, date.fromisoformat(day)))


def _rep_facts(tx: Tx, rep: str, start: date, end: date, metrics: tuple[str, ...]) -> list[tuple]:
    t = active_tables(tx, KPI)
    return tx.all(
        f"SELECT day, metric, product_line, amount_cents, qty FROM {t['facts']} WHERE rep_id = ? AND day >= ? "
        f"AND day <= ? AND metric IN ({', '.join('?' * len(metrics))})",
        [rep, start.isoformat(), end.isoformat(), *metrics],
    )


def _in_scope(tx: Tx, org: OrgHistory, scope: str, period: Period, as_of: datetime | None):
    """(rep, day, metric, product line, cents, qty) of the facts in scope on their own dates.

    As things are now (no `as_of`) this reads the monthly totals, bounded by reps x metrics x
    months, placing each rep month by month through the org timeline (the facts of a rep only for a
    month in which they moved) and the facts of distinct-subject metrics; as things were recorded
    by `as_of` it reads every fact of the period, which grows with the period's history."""
    if as_of is not None:
        yield from (f for f in _facts(tx, period, as_of) if org.in_scope(f[0], f[1], scope))
        return
    additive = tuple(m for m in METRICS if m not in DISTINCT_SUBJECTS)
    placement = Placement(tx, [scope], org)
    split: set[tuple[str, str]] = set()
    for rep, month, metric, line, amount, count in _monthly(tx, period, additive):
        whole = placement.month(rep, month)
        if whole is None:
            split.add((rep, month))
        elif whole:
            yield rep, None, metric, line or None, int(amount), int(count)
    for rep, month in sorted(split):
        start, end = month_bounds(month)
        for day, metric, line, amount, count in _rep_facts(tx, rep, start, end, additive):
            if placement.on(rep, date.fromisoformat(day)):
                yield rep, None, metric, line, amount, count
    for rep, metric, subjects in _distinct_in_scope(tx, org, scope, period):
        yield rep, None, metric, None, 0, subjects


def _scope_totals(
    tx: Tx, org: OrgHistory, scope: str, period: Period, as_of: datetime | None, *, subtract: bool | None = None
) -> dict[tuple[str, str | None], list[int]]:
    """{(metric, product line): [cents, qty, facts]} of the facts in scope on their own dates: what
    `_in_scope` yields, summed. As things are now, the database sums the monthly totals of the
    (rep, month) pairs wholly in scope, or all of them less the pairs wholly out when those are
    fewer (a big region), so that rows bounded by metrics x product lines come back; the company
    reads the projection's company totals (rows bounded by months x metrics x product lines) less
    the pairs of reps not yet hired. The reps only partly in scope in a month are read fact by
    fact, as in `_in_scope`. `subtract` forces one way or the other (tests; False: the company's
    pairs are summed from the reps' totals)."""
    sums: dict[tuple[str, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
    if as_of is not None:
        for _rep, _day, metric, line, amount, count in _in_scope(tx, org, scope, period, as_of):
            _count(sums, metric, line, amount, count, 1)
        return sums
    t = active_tables(tx, KPI)
    additive = tuple(m for m in METRICS if m not in DISTINCT_SUBJECTS)
    span = [period.start.isoformat()[:7], period.end.isoformat()[:7]]
    in_metrics = f"metric IN ({', '.join('?' * len(additive))})"
    placement = Placement(tx, [scope], org)
    inside, outside, split = [], [], []
    reps, ever = ever_in_clause(tx, org, scope, "rep_id")  # a team's, a region's reps: only theirs are read
    # The company holds every rep from their hiring on: its totals are the projection's company
    # totals less the (rep, month) pairs of the reps not hired by the period's start.
    company = not reps and subtract is not False
    for rep, month in tx.all(
        f"SELECT rep_id, month FROM {t['rep_months']} WHERE month >= ? AND month <= ?{reps}", [*span, *ever]
    ):  # rows bounded by reps x months
        if company and placement.on(rep, period.start):  # in the company's totals, all period long
            continue
        whole = placement.month(rep, month)
        (split if whole is None else inside if whole else outside).append((rep, month))

    def total(pairs: list[tuple[str, str]] | None, sign: int) -> None:
        if pairs is None and company:
            for metric, line, amount, count, rows in tx.all(
                f"SELECT metric, product_line, SUM(amount_cents), SUM(qty), SUM(reps) FROM {t['company_monthly']} "
                f"WHERE month >= ? AND month <= ? AND {in_metrics} GROUP BY metric, product_line",
                [*span, *additive],
            ):
                _count(sums, metric, line or None, sign * int(amount), sign * int(count), sign * int(rows))
            return
        size = tx.list_limit
        for chunk in [None] if pairs is None else [pairs[i : i + size] for i in range(0, len(pairs), size)]:
            where, values = (reps, ever) if chunk is None else tx.pairs_among(("rep_id", "month"), chunk)
            where = where if chunk is None else f" AND {where}"
            for metric, line, amount, count, rows in tx.all(
                f"SELECT metric, product_line, SUM(amount_cents), SUM(qty), COUNT(*) FROM {t['monthly']} "
                f"WHERE month >= ? AND month <= ? AND {in_metrics}{where} GROUP BY metric, product_line",
                [*span, *additive, *values],
            ):
                _count(sums, metric, line or None, sign * int(amount), sign * int(count), sign * int(rows))

    if not (company or (len(inside) > len(outside) + len(split) if subtract is None else subtract)):
        total(inside, 1) if inside else None
    else:
        total(None, 1)
        total(outside + split, -1) if outside or split else None
    for rep, month in sorted(split):
        start, end = month_bounds(month)
        for day, metric, line, amount, count in _rep_facts(tx, rep, start, end, additive):
            if placement.on(rep, date.fromisoformat(day)):
                _count(sums, metric, line, amount, count, 1)
    for _rep, metric, subjects in _distinct_in_scope(tx, org, scope, period, (reps, ever)):
        _count(sums, metric, None, 0, subjects, subjects)
    return sums


def _count(sums: dict, metric: str, line: str | None, amount: int, count: int, facts: int) -> None:
    acc = sums[(metric, line)]
    acc[0] += amount
    acc[1] += count
    acc[2] += facts


def unconverted(
    tx: Tx, org: OrgHistory, scope: str, period: Period, as_of: datetime | None = None
) -> dict[tuple[str, str], dict[str, int]]:
    """Amounts in scope for the period that no rate converts yet, per (rep, metric) and currency
    (original cents): never summed in, never dropped. Reads only the facts still unconverted."""
    t = active_tables(tx, KPI)
    sql = (
        f"SELECT rep_id, day, metric, currency, orig_cents FROM {t['facts']} "
        "WHERE converted = 0 AND day >= ? AND day <= ?"
    )
    params: list[Any] = [period.start.isoformat(), period.end.isoformat()]
    if as_of is not None:
        sql += " AND recorded_at <= ?"
        params.append(utc_text(as_of))
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rep, day, metric, code, cents in tx.all(sql, params):
        if org.in_scope(rep, date.fromisoformat(day), scope):
            out[(rep, metric)][code] += cents
    return out


def unconverted_list(by_currency: dict[str, int]) -> list[dict[str, Any]]:
    return [{"currency": code, "amount": from_cents(cents)} for code, cents in sorted(by_currency.items()) if cents]


def _value(metric: str, cents: int, qty: int) -> Decimal | int:
    return from_cents(cents) if metric in MONEY_METRICS else qty


def member_totals(tx: Tx, *, scope: str, period: Period, metrics: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per rep, each metric's total of the facts that counted in `scope` for `period` (the rep's
    share of the scope's KPIs: a rep who joined mid-period counts from then on)."""
    totals: dict[str, dict[str, list[int]]] = defaultdict(lambda: {m: [0, 0] for m in metrics})
    for rep, _day, metric, _line, amount, count in _in_scope(tx, OrgHistory.of(tx), parse_scope(scope), period, None):
        if metric in metrics:
            totals[rep][metric][0] += amount
            totals[rep][metric][1] += count
    return {rep: {m: _value(m, *v) for m, v in by.items()} for rep, by in totals.items()}


def kpis(
    tx: Tx, *, scope: str, period: Period, as_of: datetime | None = None, display: str | None = None
) -> dict[str, Any]:
    """Actual against target per metric for the scope and period, money in base currency (or in
    `display`, at its rate on the period's last day)."""
    card = _kpis(tx, scope=scope, period=period, as_of=as_of)
    money = {"metrics": [row for row in card["metrics"] if row["metric"] in MONEY_METRICS]}
    money["product_mix"] = card["product_mix"]
    shown = redenominate(tx, money, display, period.end, KPI_MONEY)
    return {**card, "currency": shown.get("currency", base_currency()), **_rate_of(shown)}


def _rate_of(shown: dict[str, Any]) -> dict[str, Any]:
    return {"display_rate": shown["display_rate"]} if "display_rate" in shown else {}


def _kpis(tx: Tx, *, scope: str, period: Period, as_of: datetime | None = None) -> dict[str, Any]:
    scope = parse_scope(scope)
    org = OrgHistory.of(tx)
    if scope.startswith("rep:") and scope[4:] not in org.timelines:
        raise NotFound(f"no rep with id {scope[4:]}", kind="rep", id=scope[4:])
    cents: dict[str, int] = defaultdict(int)
    qty: dict[str, int] = defaultdict(int)
    mix: dict[str, int] = defaultdict(int)
    for (metric, line), (amount, count, facts) in _scope_totals(tx, org, scope, period, as_of).items():
        cents[metric] += amount
        qty[metric] += count
        if metric == "revenue" and facts:  # a product line with revenue facts in scope
            mix[line] += amount
    targets = targets_in_force(tx, period=period, scope=scope)
    relieved = relief(tx, org, scope=scope, period=period)
    left_out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (_rep, metric), by_currency in unconverted(tx, org, scope, period, as_of).items():
        for code, amount in by_currency.items():
            left_out[metric][code] += amount
    rows = []
    for metric in METRICS:
        actual = _value(metric, cents[metric], qty[metric])
        target, source = targets.get(period, metric, scope)
        row = {
            "metric": metric,
            "target": target,
            "actual": actual,
            "attainment": fraction(actual, target),
            "target_source": source,
        }
        if left_out.get(metric):  # in base currency; what no rate converts yet is listed apart
            row["unconverted"] = unconverted_list(left_out[metric])
        if metric in relieved:  # credit toward attainment, never part of the actual
            row["relief"] = relieved[metric]
            row["attainment"] = fraction(Decimal(actual) + relieved[metric], target)
        rows.append(row)
    adherence = revisit_adherence(tx, period=period, scope=scope, org=org)  # the revisit plan kept: no target
    rows.append({"metric": "revisit_adherence", "target": None, "actual": adherence["rate"], "attainment": None})
    revenue = from_cents(cents["revenue"])
    working_days = period.working_days()
    return {
        "scope": scope,
        "period": period.label,
        "as_of": as_of,
        "metrics": rows,
        "gross_margin_attainment": next(r["attainment"] for r in rows if r["metric"] == "gross_margin"),
        "collection_rate": scope_collection_rate(tx, period=period, scope=scope, org=org),  # as GET /receivables
        "revisit_adherence": adherence,
        "visits_per_working_day": fraction(Decimal(qty["visits"]), Decimal(working_days)),
        "working_days": working_days,
        "members": len(org.members(period.end, scope)),
        "active_customers_by_grade": _active_customers(tx, org, scope, period),
        "product_mix": [
            {"product_line": line, "revenue": from_cents(amount), "share": fraction(from_cents(amount), revenue)}
            for line, amount in sorted(mix.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
    }


def _active_customers(tx: Tx, org: OrgHistory, scope: str, period: Period) -> dict[str, int]:
    """Customers owned in scope at the period's end that had signed a first contract by then."""
    t = active_tables(tx, KPI)
    counts = {"A": 0, "B": 0, "C": 0, "ungraded": 0}
    owners, ever = ever_in_clause(tx, org, scope, "owner_id")  # a team's, a region's owners: only theirs
    for owner, grade, n in tx.all(  # rows bounded by owners x grades
        f"SELECT owner_id, grade, COUNT(*) FROM {t['customers']} WHERE first_won_on IS NOT NULL AND first_won_on <= ?"
        f"{owners} GROUP BY owner_id, grade",
        (period.end.isoformat(), *ever),
    ):
        if owner and org.in_scope(owner, period.end, scope):
            counts[grade or "ungraded"] += int(n)
    return counts


def _ranking(
    tx: Tx,
    org: OrgHistory,
    metric: str,
    period: Period,
    scope: str,
    as_of: datetime | None,
    levels: Collection[str] = SELLING_LEVELS,
) -> list[dict[str, Any]]:
    reference = min(period.end, as_of.date()) if as_of else period.end
    members = [
        rep
        for rep in org.timelines
        if org.in_scope(rep, reference, scope)
        and (org.attrs(rep, reference) or {}).get("level") in levels
        and any((org.attrs(rep, d) or {}).get("status") == "active" for d in (period.start, reference))
    ]
    totals = {rep: [0, 0] for rep in members}
    t = active_tables(tx, KPI)
    if as_of is None and metric in DISTINCT_SUBJECTS:  # subjects counted once per rep in the period
        rows = (
            (rep, None, None, None, 0, count)
            for rep, count in tx.all(
                f"SELECT rep_id, SUM(qty) FROM {t['firsts_monthly']} WHERE period = ? AND metric = ? GROUP BY rep_id",
                [period.label, metric],
            )
        )
    elif as_of is None:  # standings: the reps' monthly totals
        rows = (  # summed per rep by the database: rows bounded by reps
            (rep, None, None, None, amount, count)
            for rep, amount, count in tx.all(
                f"SELECT rep_id, SUM(amount_cents), SUM(qty) FROM {t['monthly']} "
                "WHERE month >= ? AND month <= ? AND metric = ? GROUP BY rep_id",
                [period.start.isoformat()[:7], period.end.isoformat()[:7], metric],
            )
        )
    else:  # as recorded by `as_of`: the period's facts
        rows = _facts(tx, period, as_of, (metric,))
    for rep, _, _, _, amount, count in rows:
        if rep in totals:
            totals[rep][0] += int(amount)
            totals[rep][1] += int(count)
    rows = sorted(
        ({"rep_id": rep, "name": org.names.get(rep) or "", "value": _value(metric, *totals[rep])} for rep in members),
        key=lambda r: (-r["value"], r["name"], r["rep_id"]),
    )
    rank, last = 0, None
    for row in rows:  # dense ranking: ties share a rank, listed by name
        if row["value"] != last:
            rank, last = rank + 1, row["value"]
        row["rank"] = rank
        attrs = org.attrs(row["rep_id"], reference)
        row.update(level=attrs["level"], team=attrs["team"], region=attrs["region"])
    return rows


def leaderboard(
    tx: Tx,
    *,
    metric: str,
    period: Period,
    scope: str = "company",
    limit: int = 10,
    as_of: datetime | None = None,
    levels: Collection[str] = SELLING_LEVELS,
    display: str | None = None,
) -> dict[str, Any]:
    """Reps (junior, mid and senior unless `levels` says otherwise) ranked densely by `metric`
    (money in base currency, or in `display` at its rate on the period's last day).

    At most `limit` rows, except that everyone tied with the last row shown is shown too — unless
    that tie is at zero: reps with nothing to their name are not placed beyond `limit`."""
    metric = Metric.parse(metric, "metric")
    scope = parse_scope(scope)
    org = OrgHistory.of(tx)
    rows = _ranking(tx, org, metric, period, scope, as_of, levels)
    before = {r["rep_id"]: r["rank"] for r in _ranking(tx, org, metric, period.previous(), scope, as_of, levels)}
    targets = targets_in_force(tx, metric=metric, period=period)
    cut = rows[min(limit, len(rows)) - 1]["rank"] if rows else 0
    shown = [r for i, r in enumerate(rows) if r["rank"] <= cut and (i < limit or r["value"])]
    left_out = unconverted(tx, org, scope, period, as_of) if metric in MONEY_METRICS else {}
    for row in shown:
        if left_out.get((row["rep_id"], metric)):  # in base currency; what no rate converts is listed apart
            row["unconverted"] = unconverted_list(left_out[(row["rep_id"], metric)])
        target, _ = targets.get(period, metric, f"rep:{row['rep_id']}")
        row["attainment"] = fraction(row["value"], target)
        row["previous_rank"] = before.get(row["rep_id"])
        row["rank_change"] = None if row["previous_rank"] is None else row["previous_rank"] - row["rank"]
    money = MONEY_METRICS if metric in MONEY_METRICS else ()
    shown_in = redenominate(tx, {"rows": shown}, display, period.end, ("rows[].value",)) if money else {}
    return {
        "currency": shown_in.get("currency", base_currency()) if money else None,
        **_rate_of(shown_in),
        "metric": metric,
        "period": period.label,
        "previous_period": period.previous().label,
        "scope": scope,
        "as_of": as_of,
        "levels": sorted(levels, key=LEVEL_ORDER.index),
        "rows": shown,
        "best": [r for r in shown if r["rank"] == 1 and r["value"]],
    }
