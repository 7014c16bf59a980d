"""Authorisation: what a caller may do and see.

Two layers, both here:
- `RULES`: for every route, the roles that may call it at all (403 otherwise). The app refuses
  to start if a route has no rule, so a new route cannot be left open by accident.
- `Access`: which records a caller sees. Admins, auditors and finance see every record; a
  manager sees the reps of their subtree of the org tree (themselves included) and everything
  of those reps; a rep sees their own records. A record outside that answers 404 exactly like a
  missing one, lists and reports are filtered, and records named in a request body must be
  visible too. Records named in the path are checked before the handler runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import cached_property
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request

from api.auth import Principal
from api.errors import Forbidden
from domain.customer import Customer
from domain.deal import Deal
from domain.errors import NotFound
from domain.lead import Lead
from domain.rep import Rep
from domain.target import parse_scope
from infrastructure.runtime import Runtime
from projections.org import OrgHistory

REP, MANAGER, FINANCE, AUDITOR, ADMIN = "rep", "manager", "finance", "auditor", "admin"
EVERYONE = frozenset({REP, MANAGER, FINANCE, AUDITOR, ADMIN})
SEES_EVERYTHING = frozenset({FINANCE, AUDITOR, ADMIN})
LEAD_READERS = frozenset({REP, MANAGER, AUDITOR, ADMIN})  # finance has no business with prospects
FIELD_WORK = frozenset({REP, MANAGER, ADMIN})  # a rep's own work, and their manager's
MANAGEMENT = frozenset({MANAGER, ADMIN})
MONEY = frozenset({FINANCE, ADMIN})
OPERATIONS = frozenset({ADMIN})
OVERSIGHT = frozenset({AUDITOR, ADMIN})

PUBLIC = frozenset({"GET /health"})

RULES: dict[str, frozenset[str]] = {
    # access keys
    "POST /auth/keys": OPERATIONS,
    "GET /auth/keys": OPERATIONS,
    "POST /auth/keys/{key_id}/revoke": OPERATIONS,
    "GET /auth/whoami": EVERYONE,
    # reps and targets
    "POST /reps": MANAGEMENT,
    "POST /reps/{rep_id}/level": MANAGEMENT,
    "POST /reps/{rep_id}/transfer": MANAGEMENT,
    "POST /reps/{rep_id}/leave": MANAGEMENT,
    "POST /reps/{rep_id}/targets": MANAGEMENT,
    "POST /reps/{rep_id}/plan": MONEY,
    "GET /reps/{record_id}/history": EVERYONE,
    "GET /reps/{record_id}": EVERYONE,
    "POST /targets": MANAGEMENT,
    "POST /targets/decompose": MANAGEMENT,
    "GET /targets/{period}/{metric}": EVERYONE,
    # customers
    "POST /customers": FIELD_WORK,
    "GET /customers/distribution": EVERYONE,
    "POST /customers/dormancy-check": OPERATIONS,
    "POST /customers/{customer_id}/grade": MANAGEMENT,
    "POST /customers/{customer_id}/classification": MANAGEMENT,
    "POST /customers/{customer_id}/credit": MONEY,
    "POST /customers/{customer_id}/owner": MANAGEMENT,
    "POST /customers/{customer_id}/visits": FIELD_WORK,
    "POST /customers/{customer_id}/stakeholders": FIELD_WORK,
    "PATCH /customers/{customer_id}/stakeholders/{stakeholder_id}": FIELD_WORK,
    "POST /customers/{customer_id}/stakeholders/{stakeholder_id}/remove": FIELD_WORK,
    "POST /customers/{customer_id}/feedback": FIELD_WORK,
    "POST /customers/{customer_id}/churn": MANAGEMENT,
    "POST /customers/{customer_id}/reactivate": MANAGEMENT,
    "GET /customers/{record_id}/history": EVERYONE,
    "POST /customers/{record_id}/forget": OPERATIONS,
    "GET /customers/{customer_id}": EVERYONE,
    # leads
    "POST /leads": FIELD_WORK,
    "GET /leads": LEAD_READERS,
    "GET /leads/pool": LEAD_READERS,
    "GET /leads/queue/{rep_id}": LEAD_READERS,
    "GET /leads/reports/sla": frozenset({MANAGER, AUDITOR, ADMIN}),
    "GET /leads/reports/sources": frozenset({MANAGER, AUDITOR, ADMIN}),
    "GET /leads/policy": EVERYONE,
    "PUT /leads/policy": OPERATIONS,
    "POST /leads/sla-check": OPERATIONS,
    "POST /leads/{lead_id}/score": FIELD_WORK,
    "POST /leads/{lead_id}/assign": MANAGEMENT,
    "POST /leads/{lead_id}/claim": FIELD_WORK,
    "POST /leads/{lead_id}/return": FIELD_WORK,
    "POST /leads/{lead_id}/contacts": FIELD_WORK,
    "POST /leads/{lead_id}/qualify": FIELD_WORK,
    "POST /leads/{lead_id}/disqualify": FIELD_WORK,
    "POST /leads/{lead_id}/convert": FIELD_WORK,
    "POST /leads/{lead_id}/merge": MANAGEMENT,
    "GET /leads/{lead_id}/timeline": LEAD_READERS,
    "GET /leads/{record_id}/history": LEAD_READERS,
    "POST /leads/{record_id}/forget": OPERATIONS,
    "GET /leads/{record_id}": LEAD_READERS,
    # deals
    "POST /deals": FIELD_WORK,
    "GET /deals/policy": EVERYONE,
    "PUT /deals/policy": OPERATIONS,
    "POST /deals/{deal_id}/stage": FIELD_WORK,
    "POST /deals/{deal_id}/revise": FIELD_WORK,
    "POST /deals/{deal_id}/line-items": FIELD_WORK,
    "POST /deals/{deal_id}/splits": MANAGEMENT,
    "POST /deals/{deal_id}/win": FIELD_WORK,
    "POST /deals/{deal_id}/lose": FIELD_WORK,
    "POST /deals/{deal_id}/payments": MONEY,
    "POST /deals/{deal_id}/refunds": MONEY,
    "GET /deals/{record_id}/history": EVERYONE,
    "GET /deals/{record_id}": EVERYONE,
    # read models and the engine
    "GET /pipeline": EVERYONE,
    "GET /receivables": EVERYONE,
    "GET /org": EVERYONE,
    "GET /kpis": EVERYONE,
    "GET /leaderboards/{metric}": EVERYONE,  # published to the whole sales force by design
    "GET /projections": EVERYONE,
    "GET /projections/{name}/dead-letters": OVERSIGHT,
    "POST /projections/{name}/dead-letters/retry": OPERATIONS,
    "GET /metrics": EVERYONE,
    "GET /metrics/{name}": OVERSIGHT,
    "GET /events": OVERSIGHT,
    # commissions
    "POST /plans": MONEY,
    "POST /plans/{plan_id}/versions": MONEY,
    "GET /plans/{plan_id}": EVERYONE,  # the rules of pay are open to all who are paid by them
    "GET /commissions/statements/{rep_id}/{period}.csv": EVERYONE,
    "GET /commissions/statements/{rep_id}/{period}/verify": EVERYONE,
    "GET /commissions/statements/{rep_id}/{period}": EVERYONE,
    "GET /commissions/lines/{line_id}/explain": EVERYONE,
    "POST /commissions/periods/{period}/close": MONEY,
    "POST /commissions/periods/{period}/adjustments": frozenset({MANAGER, FINANCE, ADMIN}),
    "POST /commissions/periods/{period}/disputes": FIELD_WORK,
    "POST /commissions/periods/{period}/disputes/{dispute_id}/resolve": MONEY,
    "POST /commissions/simulate": frozenset({FINANCE, AUDITOR, ADMIN}),  # writes nothing
}

# path parameters naming a record whose visibility is checked before the handler runs
RECORD_KINDS = {"rep_id": Rep, "customer_id": Customer, "lead_id": Lead, "deal_id": Deal}
RECORD_PREFIXES = {"/reps/": Rep, "/customers/": Customer, "/leads/": Lead, "/deals/": Deal}


def route_key(method: str, path: str) -> str:
    return f"{method} {path}"


class RouteTable:
    """The app's routes as `METHOD /path/{param}` keys, matched in the router's own order."""

    def __init__(self, app: FastAPI) -> None:
        self.routes: list[tuple[str, str, re.Pattern]] = []
        for path, operations in app.openapi()["paths"].items():
            parts = re.split(r"(\{[^}/]+\})", path)
            pattern = re.compile("^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")
            self.routes += [(method.upper(), path, pattern) for method in operations]

    def route_keys(self) -> list[str]:
        return [route_key(method, path) for method, path, _ in self.routes]

    def key_for(self, method: str, path: str) -> str | None:
        return next((route_key(m, p) for m, p, pattern in self.routes if m == method and pattern.match(path)), None)


def check_rules(app: FastAPI) -> RouteTable:
    """Every route must have a rule: refuse to start otherwise."""
    table = RouteTable(app)
    missing = [key for key in table.route_keys() if key not in RULES and key not in PUBLIC]
    if missing:
        raise RuntimeError(f"routes without an access rule: {', '.join(missing)}")
    return table


class Access:
    """What one caller may see, worked out once per request."""

    def __init__(self, principal: Principal, rt: Runtime) -> None:
        self.principal, self.rt = principal, rt
        self._ids: dict[str, str] = {}

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def sees_everything(self) -> bool:
        return self.role in SEES_EVERYTHING

    @cached_property
    def reps(self) -> frozenset[str] | None:
        """Ids of the reps whose records the caller sees; None means every rep."""
        if self.sees_everything:
            return None
        me = self.principal.rep_id or ""
        if self.role != MANAGER:
            return frozenset({me})
        return frozenset(subtree(self.org, me, date.today()))

    @cached_property
    def org(self) -> OrgHistory:
        self.rt.fresh("org")  # a report moved under a manager a moment ago is already theirs
        with self.rt.db.read() as tx:
            return OrgHistory(tx)

    def sees_rep(self, rep_id: str | None) -> bool:
        return self.reps is None or (rep_id is not None and rep_id in self.reps)

    def sees_any(self, rep_ids: Iterable[str | None]) -> bool:
        return self.reps is None or any(r in self.reps for r in rep_ids if r)

    def sees(self, record: Any, *, change: bool = False) -> bool:
        """May the caller see `record` (or, with `change`, act on it: a deal only through its
        owner, not through a share of its credit)?"""
        if self.reps is None:
            return True
        if isinstance(record, Rep):
            return str(record.id) in self.reps
        if isinstance(record, Customer):
            return record.owner_id in self.reps
        if isinstance(record, Deal):
            return self.sees_any([record.owner_id, *([] if change else (s["rep_id"] for s in record.splits))])
        if isinstance(record, Lead):  # unassigned leads wait in the pool, open to anyone who may claim them
            return record.assignee_id in self.reps or (record.assignee_id is None and record.status == "pool")
        return False

    # -- checks that raise ---------------------------------------------------------------------
    def record(self, cls: type, record_id: str, *, change: bool = False) -> Any:
        """Load a record the caller may see; 404 (as if missing) otherwise."""
        found = self.rt.ledger.store.load(cls, record_id)
        if not self.sees(found, change=change):
            kind = cls.__name__.lower()
            raise NotFound(f"no {kind} with id {record_id}", kind=kind, id=record_id)
        return found

    def rep(self, rep_id: str | None, field: str = "rep_id") -> None:
        """A rep named in a request must be one the caller may act for."""
        if rep_id is not None and not self.sees_rep(self.canonical(rep_id)):
            raise NotFound(f"{field}: no rep with id {rep_id}", field=field, id=rep_id)

    def scope(self, scope: str, field: str = "scope") -> None:
        """company / region:X / team:Y / rep:ID — every rep in it now must be visible."""
        if self.reps is None:
            return
        scope = parse_scope(scope)
        if scope.startswith("rep:"):
            return self.rep(scope[4:], field)
        members = self.org.members(date.today(), scope)
        if not members or not set(members) <= self.reps:
            raise NotFound(f"{field}: {scope} is not within your part of the organisation", field=field, scope=scope)

    def sees_scope(self, scope: str) -> bool:
        try:
            self.scope(scope)
        except NotFound:
            return False
        return True

    def myself(self, rep_id: str, field: str) -> None:
        """A rep or manager may put only their own name to an approval."""
        if self.canonical(rep_id) != self.principal.rep_id:
            raise Forbidden(f"{field} must be your own rep id", field=field, role=self.role)

    def not_own(self, rep_id: str, what: str = "your own record") -> None:
        """Managers act on the reps below them, never on themselves (no self-promotion, no
        self-approved pay)."""
        if self.role == MANAGER and self.canonical(rep_id) == self.principal.rep_id:
            raise Forbidden(f"a manager may not change {what}; ask the manager above", role=self.role)

    def canonical(self, rep_id: str) -> str:
        """The rep id as stored (ids may arrive in any UUID spelling); unknown ids as given."""
        if rep_id not in self._ids:
            try:
                self._ids[rep_id] = str(self.rt.ledger.store.load(Rep, rep_id).id)
            except NotFound:
                self._ids[rep_id] = rep_id
        return self._ids[rep_id]


def subtree(org: OrgHistory, root: str, day: date) -> set[str]:
    """`root` and everyone reporting to them, directly or not, on `day` (leavers included, so a
    manager still sees a former report's records)."""
    reports: dict[str, list[str]] = {}
    for rep_id in org.timelines:
        manager = (org.attrs(rep_id, day) or {}).get("manager_id")
        if manager:
            reports.setdefault(manager, []).append(rep_id)
    seen, todo = {root}, [root]
    while todo:
        for child in reports.get(todo.pop(), []):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def authorise(request: Request) -> Access:
    """Run for every route: the role rule, then the visibility of records named in the path."""
    key = (
        request.app.state.routes.key_for("GET" if request.method == "HEAD" else request.method, request.url.path) or ""
    )
    if key in PUBLIC:
        return None  # type: ignore[return-value]
    principal: Principal = request.state.principal
    access = Access(principal, request.app.state.runtime)
    if principal.role not in RULES.get(key, ()):
        raise Forbidden(f"a {principal.role} key may not use {key}", role=principal.role)
    if not access.sees_everything:
        access.reps  # noqa: B018 -- worked out now, before any handler opens a read transaction
        for name, value in request.path_params.items():
            cls = RECORD_KINDS.get(name) or (
                name == "record_id"
                and next((c for prefix, c in RECORD_PREFIXES.items() if key.split(" ")[1].startswith(prefix)), None)
            )
            if cls:
                access.record(cls, value, change=request.method != "GET")
            elif name == "line_id":  # "<period>~<rep id>~<line>": the statement's rep must be visible
                parts = value.split("~")
                if len(parts) != 3 or not access.sees_rep(access.canonical(parts[1])):
                    raise NotFound(f"no commission line {value}", kind="line", id=value)
    return access


AccessDep = Annotated[Access, Depends(authorise)]
