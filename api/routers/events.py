"""The event log itself, for auditors and for building projections elsewhere."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import RuntimeDep
from api.encoding import Json
from api.models import Position
from domain.errors import InvalidInput
from projections.eventlog import EVENT_TOPICS, describe

router = APIRouter(tags=["events"])


@router.get("/events")
def events(rt: RuntimeDep, after: Position = 0, limit: int = Query(100, ge=1, le=1000),
           type: str | None = Query(None, description="event type, e.g. DealWon"), aggregate_id: str | None = None):
    """Events in store order after position `after`; `next` is the cursor for the following page."""
    topics = []
    if type:
        if type not in EVENT_TOPICS:
            raise InvalidInput(f"unknown event type {type}", field="type", known=sorted(EVENT_TOPICS))
        topics = [EVENT_TOPICS[type]]
    records = rt.source.query(rt.db, after=after, limit=limit, topics=topics, aggregate_id=aggregate_id)
    items = [describe(r) for r in records]
    nxt = items[-1]["position"] if len(items) == limit else None
    return Json({"items": items, "next": nxt})
