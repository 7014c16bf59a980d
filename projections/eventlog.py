"""The public shape of recorded events (`GET /events`) and the names of every event type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from infrastructure.database import Database
from infrastructure.eventsource import EventSource
from infrastructure.store import AGGREGATES
from projections.engine.projection import Recorded, type_name

_ENVELOPE = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}


def _event_classes() -> dict[str, str]:
    topics = {}
    for cls in AGGREGATES.values():
        for value in vars(cls).values():
            if isinstance(value, type) and issubclass(value, Aggregate.Event):
                topic = get_topic(value)
                topics[type_name(topic)] = topic
    return topics


EVENT_TOPICS: dict[str, str] = _event_classes()


def describe(record: Recorded) -> dict[str, Any]:
    event = record.event
    meta = getattr(event, "meta", None) or {}
    return {
        "position": record.position,
        "type": record.type,
        "aggregate_id": record.aggregate_id,
        "version": event.originator_version,
        "recorded_at": event.timestamp,
        "actor": meta.get("actor"),
        "correlation_id": meta.get("correlation_id"),
        "causation_id": meta.get("causation_id"),
        "data": {k: v for k, v in vars(event).items() if k not in _ENVELOPE},
    }


@dataclass(frozen=True)
class EventFilter:
    """What an auditor is looking for in the log; empty fields match everything."""

    topics: tuple[str, ...] = ()
    aggregate_id: str | None = None
    actor: str | None = None
    since: datetime | None = None  # recorded at or after
    until: datetime | None = None  # recorded before
    correlation_id: str | None = None

    def matches(self, record: Recorded) -> bool:
        event = record.event
        meta = getattr(event, "meta", None) or {}
        if self.actor is not None and meta.get("actor") != self.actor:
            return False
        if self.correlation_id is not None and meta.get("correlation_id") != self.correlation_id:
            return False
        if self.since is not None and event.timestamp < self.since:
            return False
        return self.until is None or event.timestamp < self.until


def browse(
    source: EventSource,
    db: Database,
    *,
    after: int,
    limit: int,
    wanted: EventFilter,
    scan: int = 1000,
    max_scan: int = 100_000,
) -> tuple[list[Recorded], int | None]:
    """Matching events in store order after `after`, and the cursor to continue from (None when
    the log is exhausted). Filters on actor and time are applied while scanning, so a page may
    stop early after `max_scan` events with a cursor to carry on."""
    items: list[Recorded] = []
    cursor, scanned = after, 0
    while scanned < max_scan:
        batch = source.query(db, after=cursor, limit=scan, topics=wanted.topics, aggregate_id=wanted.aggregate_id)
        for record in batch:
            cursor = record.position
            if wanted.matches(record):
                items.append(record)
                if len(items) == limit:
                    return items, cursor
        scanned += len(batch)
        if len(batch) < scan:
            return items, None
    return items, cursor
