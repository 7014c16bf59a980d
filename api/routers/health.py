from __future__ import annotations

from fastapi import Request

from api.errors import ErrorBody
from api.responses.health import Health, Readiness
from api.routing import Router

router = Router(tags=["health"])


@router.get("/health", response_model=Health)
def health():
    """Liveness: the process answers. Touches no database, so a database outage never gets a
    healthy process restarted."""
    return {"status": "ok"}


@router.get(
    "/health/ready",
    responses={503: {"model": ErrorBody, "description": "the database cannot be reached or used (see Retry-After)"}},
    response_model=Readiness,
)
def ready(request: Request):
    """Readiness: the database answers (the read models' connections and the event store's). 503
    `database_unavailable` with `Retry-After` while it does not; it recovers by itself."""
    runtime = request.app.state.runtime
    with runtime.db.read() as tx:
        tx.value("SELECT 1")
    runtime.source.head()
    return {"status": "ready"}
