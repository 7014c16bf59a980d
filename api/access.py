"""Authorisation: what a caller may do and see.

Two layers, both here:
- A policy declared at each route, visible in its decorator:

      @router.get("/deals/{deal_id}", dependencies=[Allow(EVERYONE, scope=Record(Deal, "deal_id"))])
      @router.post("/deals/{deal_id}/payments", dependencies=[Allow(MONEY, scope=Record(Deal, "deal_id"))])

  `Allow` names the roles that may call the route at all (403 otherwise) and, optionally, the
  record named in the path that the caller must be able to see (404 as if missing otherwise;
  for a command, a deal only through its owner). The app refuses to start if a route other
  than the public ones (`/health`, the docs) has no policy, so a new route cannot be left open
  by accident.
- `Access`: which records a caller sees. Admins, auditors and finance see every record; a
  manager sees the reps of their subtree of the org tree (themselves included) and everything
  of those reps; a rep sees their own records. A record outside that answers 404 exactly like a
  missing one, lists and reports are filtered (handlers take `AccessDep`), and records named in
  a request body must be visible too.

Subtree questions are answered by the runtime's `OrgDirectory` (application/directory.py), an
in-memory org timeline kept current from the Rep events, as of the organisation's today.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Protocol

from fastapi import Depends, FastAPI, Request, params
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.concurrency import run_in_threadpool

from api.auth import PUBLIC_PATHS, Principal
from api.errors import Forbidden
from application import clock
from application.directory import OrgDirectory
from domain.access import Role
from domain.customer import Customer
from domain.deal import Deal
from domain.errors import NotFound
from domain.lead import Lead
from domain.rep import Rep
from domain.target import parse_scope
from infrastructure.runtime import Runtime

# -- roles (defined once, in domain.access.Role) and the sets the routes name ------------------
REP, MANAGER, FINANCE, AUDITOR, ADMIN = (
    Role.REP.value,
    Role.MANAGER.value,
    Role.FINANCE.value,
    Role.AUDITOR.value,
    Role.ADMIN.value,
)
EVERYONE = frozenset(role.value for role in Role)
SEES_EVERYTHING = frozenset({FINANCE, AUDITOR, ADMIN})
LEAD_READERS = frozenset({REP, MANAGER, AUDITOR, ADMIN})  # finance has no business with prospects
FIELD_WORK = frozenset({REP, MANAGER, ADMIN})  # a rep's own work, and their manager's
MANAGEMENT = frozenset({MANAGER, ADMIN})
MONEY = frozenset({FINANCE, ADMIN})
OPERATIONS = frozenset({ADMIN})
OVERSIGHT = frozenset({AUDITOR, ADMIN})


class Access:
    """What one caller may see, worked out once per request."""

    def __init__(self, principal: Principal, rt: Runtime) -> None:
        self.principal, self.rt = principal, rt

    @property
    def role(self) -> str:
        return self.principal.role

    @property
    def sees_everything(self) -> bool:
        return self.role in SEES_EVERYTHING

    @property
    def directory(self) -> OrgDirectory:
        return self.rt.directory

    @cached_property
    def reps(self) -> frozenset[str] | None:
        """Ids of the reps whose records the caller sees; None means every rep."""
        if self.sees_everything:
            return None
        me = self.principal.rep_id or ""
        if self.role != MANAGER:
            return frozenset({me})
        return self.directory.subtree(me, clock.today())

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

    def member(self, rep_id: str) -> None:
        """A rep named in the path must be one the caller sees (from the org directory, no load)."""
        if not self.sees_rep(self.directory.canonical(rep_id)):
            raise NotFound(f"no rep with id {rep_id}", kind="rep", id=rep_id)

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
        members = self.directory.members(clock.today(), scope)
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
        return self.directory.canonical(rep_id) or rep_id


# -- scopes: the record named in the path that the caller must see ----------------------------
class Scope(Protocol):
    param: str

    def check(self, access: Access, value: str, *, change: bool) -> None: ...


@dataclass(frozen=True)
class Record:
    """The `kind` of record named by path parameter `param` (default `<kind>_id`: `Record(Deal)`
    is `{deal_id}`): 404 unless the caller sees it; for commands, a deal only through its owner."""

    kind: type
    param: str = ""

    def __post_init__(self) -> None:
        if not self.param:
            object.__setattr__(self, "param", f"{self.kind.__name__.lower()}_id")

    def check(self, access: Access, value: str, *, change: bool) -> None:
        if self.kind is Rep:
            access.member(value)
        else:
            access.record(self.kind, value, change=change)


@dataclass(frozen=True)
class CommissionLine:
    """A commission line named by `param` ("<period>~<rep id>~<line>"): its statement's rep must
    be visible."""

    param: str = "line_id"

    def check(self, access: Access, value: str, *, change: bool) -> None:
        parts = value.split("~")
        if len(parts) != 3 or not access.sees_rep(access.canonical(parts[1])):
            raise NotFound(f"no commission line {value}", kind="line", id=value)


# -- the policy a route declares -------------------------------------------------------------
def access_for(request: Request) -> Access:
    """The caller's `Access`, made once per request."""
    access = getattr(request.state, "access", None)
    if access is None:
        access = request.state.access = Access(request.state.principal, request.app.state.runtime)
    return access


class Policy:
    """Who may call one route, and which record named in its path they must see."""

    def __init__(self, roles: frozenset[str], scope: Scope | None = None) -> None:
        self.roles, self.scope = roles, scope

    async def __call__(self, request: Request) -> Access:
        access = access_for(request)
        if access.role not in self.roles:
            raise Forbidden(f"a {access.role} key may not use {_route_key(request)}", role=access.role)
        if not access.sees_everything:  # reads the org and the record: in the thread pool
            await run_in_threadpool(self._check, access, request)
        return access

    def _check(self, access: Access, request: Request) -> None:
        access.reps  # noqa: B018 -- the caller's part of the org, worked out once, before the handler runs
        if self.scope is not None:
            value = request.path_params[self.scope.param]
            self.scope.check(access, value, change=request.method not in ("GET", "HEAD"))

    def __repr__(self) -> str:
        return f"Allow({', '.join(sorted(self.roles))}{f', scope={self.scope}' if self.scope else ''})"


def Allow(*roles: str | Iterable[str], scope: Scope | None = None) -> params.Depends:
    """The access policy of a route, as a FastAPI dependency: `dependencies=[Allow(MONEY)]`,
    `Allow(MANAGER, FINANCE, ADMIN)`, `Allow(EVERYONE, scope=Record(Deal, "deal_id"))`."""
    names = frozenset(r for role in roles for r in ((role,) if isinstance(role, str) else role))
    unknown = names - EVERYONE
    if unknown or not names:
        raise ValueError(f"Allow needs roles among {sorted(EVERYONE)}; got {sorted(names)}")
    return Depends(Policy(names, scope))


async def access_dep(request: Request) -> Access:
    return access_for(request)


AccessDep = Annotated[Access, Depends(access_dep)]


def _route_key(request: Request) -> str:
    route = request.scope.get("route")
    return f"{request.method} {getattr(route, 'path_format', None) or request.url.path}"


# -- every route declares one policy: checked at start-up and by the tests ---------------------
def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS


def policies_of(route: Any) -> list[Policy]:
    return [d.dependency for d in route.dependencies or () if isinstance(d.dependency, Policy)]


def api_routes(app: FastAPI) -> Iterator[tuple[str, str, Policy | None]]:
    """(method, path template, policy) for every API route of the app, in routing order; the
    policy is None for public routes."""
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        found = policies_of(route)
        for method in sorted(route.methods or ()):
            yield method, route.path, found[0] if len(found) == 1 else None


def require_policies(app: FastAPI) -> None:
    """Every route but the public ones declares exactly one policy: refuse to start otherwise."""
    wrong = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or is_public(route.path):
            continue
        if len(policies_of(route)) != 1:
            wrong += [f"{method} {route.path}" for method in sorted(route.methods or ())]
    if wrong:
        raise RuntimeError(f"routes without exactly one access policy (Allow): {', '.join(wrong)}")
