"""The event log itself, for auditors and for building projections elsewhere."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import Query

from api.access import OVERSIGHT, Allow
from api.deps import RuntimeDep
from api.encoding import Json
from api.models import FilterText, Position, SaneMoment
from api.responses.events import EventPage
from api.routing import Router
from domain.errors import InvalidInput
from projections.eventlog import EVENT_TOPICS, EventFilter, browse, describe

router = Router(tags=["events"])


def event_filter(
    type: str | None,
    aggregate_id: str | None,
    actor: str | None,
    since: datetime | None,
    until: datetime | None,
    correlation_id: str | None = None,
) -> EventFilter:
    """Check and build an event filter (shared by the API and the export command)."""
    topics: tuple[str, ...] = ()
    if type:
        if type not in EVENT_TOPICS:
            raise InvalidInput(f"unknown event type {type}", field="type", known=sorted(EVENT_TOPICS))
        topics = (EVENT_TOPICS[type],)
    since, until = (None if t is None else t if t.tzinfo else t.replace(tzinfo=UTC) for t in (since, until))
    return EventFilter(topics, aggregate_id, actor, since, until, correlation_id)


@router.get("/events", dependencies=[Allow(OVERSIGHT)], response_model=EventPage)
def events(
    rt: RuntimeDep,
    after: Position = 0,
    limit: int = Query(100, ge=1, le=1000),
    type: str | None = Query(None, description="event type, e.g. DealWon"),
    aggregate_id: FilterText = None,
    actor: FilterText = None,
    correlation_id: FilterText = None,
    from_: SaneMoment | None = Query(None, alias="from", description="recorded at or after (ISO)"),
    to: SaneMoment | None = Query(None, description="recorded before (ISO)"),
):
    """Events in store order after position `after`, with metadata; `next` is the cursor for the
    following page (null when there is nothing more)."""
    records, cursor = browse(
        rt.source,
        rt.db,
        after=after,
        limit=limit,
        wanted=event_filter(type, aggregate_id, actor, from_, to, correlation_id),
    )
    return Json({"items": [describe(r) for r in records], "next": cursor})
