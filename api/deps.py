"""Request-scoped inputs shared by the routers: the runtime, command metadata, If-Match and
read-your-writes waits."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.encoding import Json
from api.errors import NotCaughtUp
from application.base import Written
from domain.base import Meta
from domain.errors import InvalidInput
from infrastructure.runtime import Runtime
from projections.engine.runner import wait_for


# The dependencies below are `async def` because they only compute: FastAPI runs a plain `def`
# dependency in the thread pool, a hop per dependency and request. Anything that reads the
# database goes to the thread pool explicitly.
def runtime(request: Request) -> Runtime:
    return request.app.state.runtime


async def runtime_dep(request: Request) -> Runtime:
    return runtime(request)


async def command_meta(request: Request, x_correlation_id: Annotated[str | None, Header()] = None) -> Meta:
    """The caller's principal is the actor of every event the command records."""
    request_id = request.state.request_id
    return Meta(
        actor=request.state.principal.actor,
        correlation_id=(x_correlation_id or request_id)[:200],
        causation_id=request_id,
    )


async def expected_version(if_match: Annotated[str | None, Header()] = None) -> int | None:
    """`If-Match: 3` (or an ETag-style `"3"`) makes a command conditional on that version."""
    if if_match is None or if_match.strip() in ("", "*"):
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput("If-Match must be an aggregate version number", field="If-Match", value=if_match)
    return int(text)


RuntimeDep = Annotated[Runtime, Depends(runtime_dep)]
MetaDep = Annotated[Meta, Depends(command_meta)]
IfMatch = Annotated[int | None, Depends(expected_version)]
MinPosition = Annotated[
    int | None,
    Query(ge=0, le=2**62, description="wait (up to 5 s) until the read model has processed this store position"),
]


def new_request_id() -> str:
    return uuid.uuid4().hex


def answer(rt: Runtime, written: Written, status_code: int = 200) -> Json:
    rt.written()
    body = {"id": written.id, "version": written.version, "position": written.position, **written.extra}
    return Json(body, status_code=status_code, headers={"ETag": f'"{written.version}"'})


def await_position(request: Request, projections: str | tuple[str, ...], min_position: int | None) -> None:
    """Read-your-writes: block until each projection has processed `min_position`, else 503."""
    if min_position is None:
        return
    head = runtime(request).source.head()
    if min_position > head:  # no command ever answered this position: waiting cannot help
        raise InvalidInput(
            f"min_position {min_position} is beyond the newest event ({head})", field="min_position", head=head
        )
    rt = runtime(request)
    for name in (projections,) if isinstance(projections, str) else projections:
        reached, current = wait_for(
            rt.db,
            name,
            min_position,
            timeout=request.app.state.settings.min_position_timeout,
            source=rt.source,
            topics=rt.topics_of(name),
        )
        if not reached:
            raise NotCaughtUp(name, min_position, current)


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


_declared: dict[int, frozenset[str]] = {}
OPEN_QUERY = "x-open-query"  # `openapi_extra={OPEN_QUERY: True}`: the route takes any query parameter


def _already_current(request: Request, value: str) -> None:
    """Queries answered from the event store itself (an aggregate, its history, the event log)
    are always current: `min_position` is accepted there and only checked."""
    if not value.isdigit():
        raise InvalidInput("min_position must be a non-negative integer", field="min_position", value=value)
    head = runtime(request).source.head()
    if int(value) > head:
        raise InvalidInput(f"min_position {value} is beyond the newest event ({head})", field="min_position", head=head)


async def reject_unknown_query_params(request: Request) -> None:
    """A query parameter the route does not declare is a mistake (`?correlation=` filtering
    nothing), not something to ignore: 422 naming it. Every query accepts `min_position`."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    if (route.openapi_extra or {}).get(OPEN_QUERY):  # the route hands its query on (metric projections)
        return
    known = _declared.get(id(route))
    if known is None:
        known = _declared[id(route)] = frozenset(_query_names(route.dependant))
    given = set(request.query_params.keys())
    if "min_position" in given and "min_position" not in known and request.method in ("GET", "HEAD"):
        await run_in_threadpool(_already_current, request, request.query_params["min_position"])
        given.discard("min_position")
    unknown = sorted(given - known)
    if unknown:
        raise InvalidInput(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"
            f" (this route takes: {', '.join(sorted(known)) or 'none'})",
            field=unknown[0],
            unknown=unknown,
            allowed=sorted(known),
        )
