"""Prometheus metrics at `GET /prometheus` (admin; the text exposition format): request latency
per route template, commands by outcome, the store's head, and per projection its position, lag
and state. (`/metrics/{name}` belongs to the pluggable projections' own reads.)

Each API process keeps its own request figures; with `serve --workers N` a scrape reads the worker
that answered it (scrape each worker, or run one worker per port, to see them all)."""

from __future__ import annotations

import time

from fastapi import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.access import OPERATIONS, Allow
from api.asgi import HttpMiddleware
from api.deps import RuntimeDep, new_request_id
from api.routing import Router
from projections.engine.runner import status

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Histogram(
    "salesledger_http_request_duration_seconds",
    "Time to answer a request, by method, route template and status code",
    ("method", "route", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
COMMANDS = Counter(
    "salesledger_commands_total",
    "Commands (POST, PUT, PATCH, DELETE) answered, by route template and outcome",
    ("route", "outcome"),
    registry=REGISTRY,
)
HEAD = Gauge("salesledger_store_head", "Position of the newest event in the store", registry=REGISTRY)
POSITION = Gauge(
    "salesledger_projection_position", "Last event position a projection applied", ("projection",), registry=REGISTRY
)
LAG = Gauge(
    "salesledger_projection_lag_events", "Events a projection has still to apply", ("projection",), registry=REGISTRY
)
STATE = Gauge(
    "salesledger_projection_state",
    "1 for the state a projection is in (live, catching_up, rebuilding, retrying, failed), else 0",
    ("projection", "state"),
    registry=REGISTRY,
)
PARKED = Gauge("salesledger_projection_parked", "Events a projection set aside", ("projection",), registry=REGISTRY)
STATES = ("live", "catching_up", "rebuilding", "retrying", "failed")
COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestId(HttpMiddleware):
    """ASGI middleware: every request has an id (`X-Request-ID` as sent, or a new one) in
    `request.state.request_id`, answered back in the `X-Request-ID` header."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        request_id = request.state.request_id = request.headers.get("x-request-id") or new_request_id()

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
            await send(message)

        await self.app(scope, receive, tagged)


class Timing(HttpMiddleware):
    """ASGI middleware: time every request under its route template (`/deals/{deal_id}`, never
    the raw path), and count commands by outcome."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = time.perf_counter()
        status_code = 500

        async def noted(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noted)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            REQUESTS.labels(method, route, str(status_code)).observe(time.perf_counter() - began)
            if method in COMMAND_METHODS:
                outcome = "ok" if status_code < 400 else ("refused" if status_code < 500 else "error")
                COMMANDS.labels(route, outcome).inc()


router = Router(tags=["operations"])


@router.get("/prometheus", dependencies=[Allow(OPERATIONS)], response_class=Response)
def prometheus(rt: RuntimeDep) -> Response:
    """Metrics in Prometheus' text format: request latency histograms per route template, commands
    by outcome, the store's head and per projection its position, lag, state and parked events."""
    rows = status(rt.db, rt.source, rt.projections)
    for row in rows:
        name = row["name"]
        POSITION.labels(name).set(row["position"])
        LAG.labels(name).set(row["lag"])
        PARKED.labels(name).set(row["parked"])
        for state in STATES:
            STATE.labels(name, state).set(1 if row["state"] == state else 0)
    if rows:
        HEAD.set(rows[0]["head"])
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
