"""The public shape of recorded events (`GET /events`) and the names of every event type."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from domain.application import AGGREGATES
from projections.projection import Recorded, type_name

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
