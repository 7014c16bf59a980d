"""Group commit: the commands of one process that write at the same moment share one transaction.

Every write to the event store serialises on the store's order (PostgreSQL: the events table's
EXCLUSIVE lock, held from the insert to the commit; SQLite: the one writer and its fsync). One
transaction per command made that lock the bottleneck of the write path: under concurrent load,
commands queued on it for round trips and commits that did no work of theirs. Here the first
writer to arrive leads: it takes every write that queued meanwhile and records them together,
in order, in one transaction; the others wait for their result. A lone writer writes at once, so
a quiet system pays nothing.

Each write keeps its own outcome:
- its own notification ids (the slice of the batch's ids that its events got);
- refusals are its own: when the batch is refused before commit (a version conflict, or an
  Idempotency-Key claim taken over), nothing of it was written, and every write of the batch is
  retried alone, so only the writes at fault are refused;
- an error that may have come after the commit (the connection lost) is never retried: every
  write of the batch gets it, as each would have alone.

Writes that destroy personal-data keys and writes of other shapes are recorded alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent

from infrastructure import idempotency

Insert = Callable[..., Sequence[int] | None]

GROUPED_KWARGS = frozenset({"claims"})  # what a batch can merge; anything else is written alone
REFUSED = (IntegrityError, idempotency.ClaimTakenOver)  # raised before commit: nothing written


class _Write:
    __slots__ = ("done", "error", "events", "ids", "kwargs")

    def __init__(self, events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> None:
        self.events = events
        self.kwargs = kwargs
        self.done = False
        self.ids: Sequence[int] | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Leader/follower batching of `insert(events, **kwargs)` calls across threads.

    `max_events` and `max_bytes` bound one batch (a batch never splits a write)."""

    def __init__(self, insert: Insert, *, max_events: int = 2_000, max_bytes: int = 1_000_000) -> None:
        self._insert = insert
        self.max_events = max_events
        self.max_bytes = max_bytes
        self._leader = threading.Lock()
        self._queued = threading.Lock()
        self._queue: list[_Write] = []
        self.batches = 0  # batches of more than one write

    def groupable(self, events: Sequence[StoredEvent], kwargs: dict[str, Any]) -> bool:
        return {k for k, v in kwargs.items() if v is not None} <= GROUPED_KWARGS and sum(
            len(e.state) for e in events
        ) < self.max_bytes

    def insert(self, events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not events or not self.groupable(events, kwargs):
            return self._insert(events, **kwargs)
        write = _Write(events, kwargs)
        with self._queued:
            self._queue.append(write)
        while not write.done:
            with self._leader:
                if not write.done:
                    self._lead()
        if write.error is not None:
            raise write.error
        return write.ids

    def _take(self) -> list[_Write]:
        """The queued writes, oldest first, up to the batch bounds (at least one)."""
        with self._queued:
            batch: list[_Write] = []
            events = size = 0
            for write in self._queue:
                weight = sum(len(e.state) for e in write.events)
                if batch and (events + len(write.events) > self.max_events or size + weight > self.max_bytes):
                    break
                batch.append(write)
                events += len(write.events)
                size += weight
            del self._queue[: len(batch)]
            return batch

    def _lead(self) -> None:
        batch = self._take()
        if len(batch) == 1:
            self._alone(batch[0])
            return
        events = [e for write in batch for e in write.events]
        claims = [claim for write in batch for claim in write.kwargs.get("claims", ())]
        try:
            ids = self._insert(events, **({"claims": claims} if claims else {}))
        except REFUSED:
            for write in batch:  # nothing was written: each on its own, so only the culprits fail
                self._alone(write)
            return
        except BaseException as error:  # perhaps after the commit: never written twice
            for write in batch:
                write.error = error
                write.done = True
            return
        self.batches += 1
        at = 0
        for write in batch:
            write.ids = None if ids is None else ids[at : at + len(write.events)]
            at += len(write.events)
            write.done = True

    def _alone(self, write: _Write) -> None:
        try:
            write.ids = self._insert(write.events, **write.kwargs)
        except BaseException as error:
            write.error = error
        write.done = True
