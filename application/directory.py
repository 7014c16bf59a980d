"""The org directory: who reports to whom, at which level and whether they are active, on any
date, kept in memory for access decisions.

Built once per process from the Rep events and kept current incrementally: every question
first asks the store for its head and, if it moved, applies only the Rep events recorded since
the last position seen (read through the store's notifications filtered by the Rep event
topics). No projection is caught up and nothing is rebuilt per request, so a report moved
under a manager is theirs as soon as the transfer command has answered. Changes are
effective-dated: a transfer recorded today that takes effect next month changes nothing
before then.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple, Protocol
from uuid import UUID

from eventsourcing.utils import get_topic

from domain.rep import Rep, fold

# the Rep events that move a rep in the organisation (classes made by the @event decorators)
HIRED, LEVEL_CHANGED, TRANSFERRED, LEFT = (
    getattr(Rep, name) for name in ("Hired", "LevelChanged", "Transferred", "Left")
)
REP_EVENTS: tuple[type, ...] = (HIRED, LEVEL_CHANGED, TRANSFERRED, LEFT)


class RecordedEvent(Protocol):
    @property
    def position(self) -> int: ...
    @property
    def event(self) -> Any: ...
    @property
    def aggregate_id(self) -> str: ...


class EventFeed(Protocol):
    """The store's notifications in position order (infrastructure.eventsource.EventSource)."""

    def head(self) -> int: ...

    def read(
        self, after: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()
    ) -> Sequence[RecordedEvent]: ...


class OrgChange(NamedTuple):
    """What one Rep event changes in the rep's place in the organisation, and from when."""

    effective_from: date
    fields: dict[str, Any]


def org_change(event: Any) -> OrgChange | None:
    """The org change a Rep event makes (None for events that move nothing in the tree)."""
    if isinstance(event, HIRED):
        return OrgChange(
            event.hired_on or date.min,
            {
                "level": event.level,
                "team": event.team,
                "region": event.region,
                "manager_id": event.manager_id,
                "status": "active",
                "partner_id": getattr(event, "partner_id", None),
            },
        )
    if isinstance(event, LEVEL_CHANGED):
        return OrgChange(event.effective_from, {"level": event.to_level})
    if isinstance(event, TRANSFERRED):
        return OrgChange(event.effective_from, dict(event.to_assignment))
    if isinstance(event, LEFT):
        return OrgChange(event.effective_on, {"status": "left"})
    return None


class OrgDirectory:
    """Every rep's effective-dated org timeline, in memory, current with the store on each use.

    Thread-safe: one lock guards catching up and every read of the timelines."""

    topics: tuple[str, ...] = tuple(get_topic(cls) for cls in REP_EVENTS)

    def __init__(self, feed: EventFeed, *, batch: int = 1000) -> None:
        self.feed = feed
        self.batch = batch
        self.position = 0  # the store position up to which every Rep event has been applied
        self._lock = threading.Lock()
        self._timelines: dict[str, list[dict[str, Any]]] = {}
        self._dates: dict[str, list[tuple[date, int]]] = {}
        self._reports: dict[date, dict[str, list[str]]] = {}  # day -> manager -> direct reports

    # -- keeping current -----------------------------------------------------------------------
    def catch_up(self) -> int:
        """Apply the Rep events recorded since the last position seen; answer the new position."""
        head = self.feed.head()
        with self._lock:
            while self.position < head:
                records = self.feed.read(self.position, self.batch, stop=head, topics=self.topics)
                for record in records:
                    self._apply(record)
                if len(records) < self.batch:
                    self.position = head
                else:
                    self.position = records[-1].position
            return self.position

    def _apply(self, record: RecordedEvent) -> None:
        change = org_change(record.event)
        if change is None:
            return
        rep_id = record.aggregate_id
        key = (change.effective_from, record.position)
        dates = self._dates.setdefault(rep_id, [])
        at = bisect_right(dates, key)
        dates.insert(at, key)
        entry = {"effective_from": change.effective_from, "seq": record.position, **change.fields}
        self._timelines.setdefault(rep_id, []).insert(at, entry)
        self._reports.clear()

    # -- questions -----------------------------------------------------------------------------
    def attrs(self, rep_id: str, day: date) -> dict[str, Any] | None:
        """The rep's level, team, region, manager and status on `day`; None before hiring or if unknown."""
        self.catch_up()
        with self._lock:
            return self._attrs(rep_id, day)

    def level(self, rep_id: str, day: date) -> str | None:
        return (self.attrs(rep_id, day) or {}).get("level")

    def is_active(self, rep_id: str, day: date) -> bool:
        return (self.attrs(rep_id, day) or {}).get("status") == "active"

    def canonical(self, rep_id: str) -> str | None:
        """The id of a known rep as stored, whatever UUID spelling it arrives in; None if unknown."""
        try:
            stored = str(UUID(rep_id))
        except (ValueError, TypeError, AttributeError):
            return None
        self.catch_up()
        with self._lock:
            return stored if stored in self._timelines else None

    def subtree(self, root: str, day: date) -> frozenset[str]:
        """`root` and everyone reporting to them, directly or not, on `day` (leavers included,
        so a manager still sees a former report's records)."""
        self.catch_up()
        with self._lock:
            reports = self._reports_on(day)
            seen, todo = {root}, [root]
            while todo:
                for child in reports.get(todo.pop(), ()):
                    if child not in seen:
                        seen.add(child)
                        todo.append(child)
            return frozenset(seen)

    def ancestors(self, rep_id: str, day: date) -> list[str]:
        """The rep's manager, their manager, and so on, on `day`."""
        self.catch_up()
        with self._lock:
            chain: list[str] = []
            current = (self._attrs(rep_id, day) or {}).get("manager_id")
            while current and current not in chain and current != rep_id:
                chain.append(current)
                current = (self._attrs(current, day) or {}).get("manager_id")
            return chain

    def members(self, day: date, scope: str = "company") -> list[str]:
        """Active reps on `day` within scope (company, region:X, team:Y, rep:ID, partner:ID)."""
        self.catch_up()
        kind, _, name = scope.partition(":")
        with self._lock:
            found = []
            for rep_id in self._timelines:
                attrs = self._attrs(rep_id, day)
                if attrs is None or attrs["status"] != "active":
                    continue
                if {
                    "company": True,
                    "region": attrs["region"] == name,
                    "team": attrs["team"] == name,
                    "rep": rep_id == name,
                    "partner": attrs.get("partner_id") == name,
                }.get(kind, False):
                    found.append(rep_id)
            return found

    # -- under the lock ------------------------------------------------------------------------
    def _attrs(self, rep_id: str, day: date) -> dict[str, Any] | None:
        timeline = self._timelines.get(rep_id)
        if not timeline:
            return None
        return fold(timeline[: bisect_right(self._dates[rep_id], (day, 2**63))])

    def _reports_on(self, day: date) -> dict[str, list[str]]:
        reports = self._reports.get(day)
        if reports is None:
            reports = {}
            for rep_id in self._timelines:
                manager = (self._attrs(rep_id, day) or {}).get("manager_id")
                if manager:
                    reports.setdefault(manager, []).append(rep_id)
            if len(self._reports) >= 8:
                self._reports.clear()
            self._reports[day] = reports
        return reports
