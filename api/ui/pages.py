"""The dashboard's pages: each reads (and, on the finance page, writes) only through the JSON API
as the signed-in caller, and hands a template what it found."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from application import clock

SELLING = ("junior", "mid", "senior")
METRIC_NAMES = (
    "revenue",
    "gross_margin",
    "contracts_signed",
    "leads_contacted",
    "visits",
    "collections",
    "new_customers",
)


@dataclass
class Ctx:
    request: Request
    api: Any
    lang: str
    arg: str = ""
    me: dict[str, Any] = field(default_factory=dict)
    form: dict[str, Any] = field(default_factory=dict)

    def q(self, name: str, default: str = "") -> str:
        return (self.form.get(name) or self.request.query_params.get(name) or default).strip()

    @property
    def role(self) -> str:
        return str(self.me.get("role", ""))

    @property
    def rep_id(self) -> str | None:
        return self.me.get("rep_id")


Page = Callable[[Ctx], Awaitable[tuple[str, dict[str, Any]]]]


def this_month() -> str:
    return clock.today().strftime("%Y-%m")


def moment(day: str) -> str | None:
    """An `as_of` date from the page means the end of that day (what was recorded by then)."""
    if not day:
        return None
    try:
        return f"{date.fromisoformat(day).isoformat()}T23:59:59+00:00"
    except ValueError:
        return day


def problem(answer: Any) -> dict[str, Any] | None:
    """A refused or failed API answer as the template shows it (None when it succeeded)."""
    if answer.ok:
        return None
    kind = {403: "forbidden", 404: "missing"}.get(answer.status, "error")
    return {"status": answer.status, "kind": kind, "message": answer.error}


async def reps_by_id(ctx: Ctx) -> dict[str, dict[str, Any]]:
    found = await ctx.api.get("/reps", limit=200)
    return {r["rep_id"]: r for r in found.body.get("items", [])} if found.ok else {}


# -- home ---------------------------------------------------------------------------------------
async def home(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    period, as_of = ctx.q("period", this_month()), ctx.q("as_of")
    reps = await reps_by_id(ctx)
    me = reps.get(ctx.rep_id or "")
    team = [r for r in reps.values() if r["level"] in SELLING and r["status"] == "active"]
    heading, blocks, refused = "company_numbers", [], None
    if ctx.role == "rep" and ctx.rep_id:
        heading, choices = "my_numbers", [[f"rep:{ctx.rep_id}"]]
    elif ctx.role == "manager" and ctx.rep_id:
        # the whole subtree when it is a region (or the company); otherwise each team in it
        heading = "team_numbers"
        teams = sorted({r["team"] for r in team if r.get("team")})
        choices = [["company"], [f"region:{me['region']}"] if me else [], [f"team:{t}" for t in teams]]
        choices.append([f"rep:{ctx.rep_id}"])
    else:
        choices = [["company"]]
    for scopes in choices:
        found = await asyncio.gather(
            *(ctx.api.get("/kpis", period=period, scope=scope, as_of=moment(as_of)) for scope in scopes)
        )
        blocks = [k.body for k in found if k.ok]
        refused = next((problem(k) for k in found if not k.ok), None)
        if blocks:
            break
    for block in blocks:
        block["revenue"] = next((m for m in block.get("metrics", []) if m["metric"] == "revenue"), None)
        kind, _, name = str(block.get("scope", "")).partition(":")
        block["label"] = reps[name]["name"] if kind == "rep" and name in reps else block.get("scope")
    queue: list[dict[str, Any]] = []
    statements: list[dict[str, Any]] = []
    period_total = None
    if ctx.role == "rep" and ctx.rep_id:
        team = [me] if me else []
    elif ctx.role != "manager":
        team = []
    if team:
        queues = await asyncio.gather(*(ctx.api.get(f"/leads/queue/{r['rep_id']}") for r in team[:12]))
        for rep, answer in zip(team, queues, strict=False):
            for item in answer.body.get("items", []) if answer.ok else []:
                if item.get("sla_state") in ("due", "breached", "overdue"):
                    queue.append({**item, "rep_name": rep["name"]})
        sheets = await asyncio.gather(
            *(ctx.api.get(f"/commissions/statements/{r['rep_id']}/{period}") for r in team[:12])
        )
        statements = [{**s.body, "name": r["name"]} for r, s in zip(team, sheets, strict=False) if s.ok]
    else:
        found = await ctx.api.get(f"/commissions/periods/{period}")
        if found.ok:
            statements, period_total = found.body.get("statements", []), found.body.get("total")
    queue.sort(key=lambda i: (i.get("sla_state") != "breached", (i.get("next_due") or {}).get("at") or ""))
    return "home.html", {
        "period": period,
        "as_of": as_of,
        "heading": heading,
        "blocks": blocks,
        "kpi_problem": None if blocks else refused,
        "queue": queue[:20],
        "overdue": sum(1 for i in queue if i.get("sla_state") in ("breached", "overdue")),
        "due": sum(1 for i in queue if i.get("sla_state") == "due"),
        "statements": statements,
        "period_total": period_total
        if period_total is not None
        else str(sum((Decimal(s.get("total") or 0) for s in statements), Decimal("0.00"))),
        "reps": reps,
    }


# -- pipeline -----------------------------------------------------------------------------------
async def pipeline(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    filters = {k: ctx.q(k) for k in ("team", "region", "owner_id", "product_line", "period", "as_of")}
    board, deals, reps = await asyncio.gather(
        ctx.api.get("/pipeline", **filters),
        ctx.api.get(
            "/deals",
            status="open",
            limit=100,
            **{k: filters[k] for k in ("team", "region", "owner_id", "product_line", "as_of")},
        ),
        reps_by_id(ctx),
    )
    return "pipeline.html", {
        "filters": filters,
        "board": board.body if board.ok else None,
        "problem": problem(board),
        "deals": deals.body.get("items", []) if deals.ok else [],
        "reps": reps,
        "teams": sorted({r["team"] for r in reps.values() if r.get("team")}),
        "regions": sorted({r["region"] for r in reps.values() if r.get("region")}),
        "product_lines": ["ERP", "CRM", "BI", "IoT", "Cloud"],
    }


async def deal(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    as_of = ctx.q("as_of")
    found, history, reps = await asyncio.gather(
        ctx.api.get(f"/deals/{ctx.arg}", as_of=moment(as_of)),
        ctx.api.get(f"/deals/{ctx.arg}/history"),
        reps_by_id(ctx),
    )
    return "deal.html", {
        "deal": found.body if found.ok else None,
        "problem": problem(found),
        "events": history.body.get("events", []) if history.ok else [],
        "reps": reps,
        "as_of": as_of,
    }


# -- leaderboards -------------------------------------------------------------------------------
async def leaderboards(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    metric = ctx.q("metric", "revenue")
    period, scope, as_of = ctx.q("period", this_month()), ctx.q("scope", "company"), ctx.q("as_of")
    board, reps = await asyncio.gather(
        ctx.api.get(f"/leaderboards/{metric}", period=period, scope=scope, as_of=moment(as_of), limit=50),
        reps_by_id(ctx),
    )
    return "leaderboards.html", {
        "metric": metric,
        "metrics": METRIC_NAMES,
        "period": period,
        "scope": scope,
        "as_of": as_of,
        "board": board.body if board.ok else None,
        "problem": problem(board),
        "scopes": ["company"]
        + [f"region:{r}" for r in sorted({r["region"] for r in reps.values() if r.get("region")})]
        + [f"team:{t}" for t in sorted({r["team"] for r in reps.values() if r.get("team")})],
    }


# -- leads --------------------------------------------------------------------------------------
async def leads(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    reps = await reps_by_id(ctx)
    rep_id = ctx.q("rep_id", ctx.rep_id or "")
    as_of = ctx.q("as_of")
    pool, queue = await asyncio.gather(
        ctx.api.get("/leads/pool", limit=50),
        ctx.api.get(f"/leads/queue/{rep_id}", as_of=moment(as_of)) if rep_id else asyncio.sleep(0, None),
    )
    return "leads.html", {
        "pool": pool.body.get("items", []) if pool.ok else [],
        "problem": problem(pool),
        "queue": queue.body.get("items", []) if queue is not None and queue.ok else [],
        "queue_problem": problem(queue) if queue is not None else None,
        "rep_id": rep_id,
        "as_of": as_of,
        "reps": reps,
        "selling": [r for r in reps.values() if r["level"] in SELLING],
    }


async def lead(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    found, timeline, reps = await asyncio.gather(
        ctx.api.get(f"/leads/{ctx.arg}"), ctx.api.get(f"/leads/{ctx.arg}/timeline"), reps_by_id(ctx)
    )
    return "lead.html", {
        "lead": found.body if found.ok else None,
        "problem": problem(found),
        "events": timeline.body.get("events", []) if timeline.ok else [],
        "reps": reps,
    }


# -- customers ----------------------------------------------------------------------------------
async def customers(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    filters = {k: ctx.q(k) for k in ("region", "grade", "status", "owner_id")}
    found, reps = await asyncio.gather(ctx.api.get("/customers", limit=100, **filters), reps_by_id(ctx))
    return "customers.html", {
        "customers": found.body.get("items", []) if found.ok else [],
        "problem": problem(found),
        "filters": filters,
        "reps": reps,
    }


async def customer(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    as_of = ctx.q("as_of")
    found, deliveries, revisits, reps = await asyncio.gather(
        ctx.api.get(f"/customers/{ctx.arg}", as_of=moment(as_of)),
        ctx.api.get("/deliveries", customer_id=ctx.arg),
        ctx.api.get("/customers/revisits", within_days=366),
        reps_by_id(ctx),
    )
    body = found.body if found.ok else None
    exposure = None
    if body:
        deals = body.get("deals", [])
        exposure = str(sum((Decimal(d.get("receivable") or 0) for d in deals), Decimal("0.00")))
    revisit_items = revisits.body.get("items", revisits.body) if revisits.ok else []
    if isinstance(revisit_items, dict):
        revisit_items = []
    next_revisit = next((r for r in revisit_items if r.get("customer_id") == ctx.arg), None)
    delivery_items = deliveries.body.get("items", deliveries.body) if deliveries.ok else []
    return "customer.html", {
        "c": body,
        "problem": problem(found),
        "as_of": as_of,
        "exposure": exposure,
        "deliveries": delivery_items if isinstance(delivery_items, list) else [],
        "next_revisit": next_revisit,
        "reps": reps,
    }


# -- commissions ----------------------------------------------------------------------------------
async def statement(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    rep_id = ctx.q("rep_id", ctx.rep_id or "")
    period = ctx.q("period", this_month())
    reps = await reps_by_id(ctx)
    found = await ctx.api.get(f"/commissions/statements/{rep_id}/{period}") if rep_id else None
    sheet = found.body if found is not None and found.ok else None
    groups: dict[str, dict[str, Any]] = {}
    for line in (sheet or {}).get("lines", []):
        group = groups.setdefault(line["kind"], {"lines": [], "total": Decimal("0.00")})
        group["lines"].append(line)
        group["total"] += Decimal(line["amount"])
    return "statement.html", {
        "rep_id": rep_id,
        "period": period,
        "sheet": sheet,
        "groups": groups,
        "problem": problem(found) if found is not None else None,
        "reps": reps,
        "rep": reps.get(rep_id),
    }


async def explain(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    found = await ctx.api.get(f"/commissions/lines/{ctx.q('line_id')}/explain")
    return "explain.html", {"x": found.body if found.ok else None, "problem": problem(found)}


async def verify(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    found = await ctx.api.get(f"/commissions/statements/{ctx.q('rep_id')}/{ctx.q('period')}/verify")
    return "verify.html", {"v": found.body if found.ok else None, "problem": problem(found)}


async def finance(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    period = ctx.q("period", this_month())
    outcome = None
    if ctx.request.method == "POST":
        action, rep_id = ctx.q("action"), ctx.q("rep_id")
        if action == "close":
            done = await ctx.api.post(f"/commissions/periods/{period}/close")
        elif action == "approve":
            done = await ctx.api.post(f"/commissions/statements/{rep_id}/{period}/approve")
        elif action == "pay":
            body = {"paid_on": ctx.q("paid_on", clock.today().isoformat()), "reference": ctx.q("reference")}
            done = await ctx.api.post(f"/commissions/statements/{rep_id}/{period}/pay", body)
        else:
            done = None
        if done is not None:
            outcome = {"ok": done.ok, "action": action, "message": "" if done.ok else done.error}
    found, disputes, reps = await asyncio.gather(
        ctx.api.get(f"/commissions/periods/{period}"),
        ctx.api.get("/commissions/disputes", period=period),
        reps_by_id(ctx),
    )
    return "finance.html", {
        "period": period,
        "p": found.body if found.ok else None,
        "problem": problem(found),
        "disputes": disputes.body.get("items", []) if disputes.ok else [],
        "outcome": outcome,
        "may_act": ctx.role in ("finance", "admin"),
        "reps": reps,
        "today": clock.today().isoformat(),
    }


# -- audit ----------------------------------------------------------------------------------------
EVENT_FILTERS = ("type", "aggregate_id", "actor", "correlation_id", "from", "to", "after")


async def events(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    filters = {k: ctx.q(k) for k in EVENT_FILTERS}
    position = ctx.q("position")
    if position.isdigit():
        filters["after"] = str(max(0, int(position) - 1))
    params = dict(filters)
    params["from"] = moment(filters["from"]) if filters["from"] and len(filters["from"]) == 10 else filters["from"]
    if filters["to"] and len(filters["to"]) == 10:
        params["to"] = moment(filters["to"])
    found = await ctx.api.get("/events", limit=1 if position.isdigit() else 50, **params)
    return "events.html", {
        "filters": filters,
        "position": position,
        "items": found.body.get("items", []) if found.ok else [],
        "next": found.body.get("next") if found.ok else None,
        "problem": problem(found),
    }


async def projections(ctx: Ctx) -> tuple[str, dict[str, Any]]:
    found = await ctx.api.get("/projections")
    return "projections.html", {"items": found.body if found.ok else [], "problem": problem(found)}


PAGES: dict[str, Page] = {
    "home": home,
    "pipeline": pipeline,
    "deal": deal,
    "leaderboards": leaderboards,
    "leads": leads,
    "lead": lead,
    "customers": customers,
    "customer": customer,
    "statement": statement,
    "explain": explain,
    "verify": verify,
    "finance": finance,
    "events": events,
    "projections": projections,
}

# (page, roles that may open it): links for other roles are hidden; the API decides regardless
NAV = [
    ("home", "rep manager finance auditor admin"),
    ("pipeline", "rep manager finance auditor admin"),
    ("leaderboards", "rep manager finance auditor admin"),
    ("leads", "rep manager auditor admin"),
    ("customers", "rep manager finance auditor admin"),
    ("statement", "rep manager finance auditor admin"),
    ("finance", "finance auditor admin"),
    ("events", "auditor admin"),
    ("projections", "rep manager finance auditor admin"),
]
