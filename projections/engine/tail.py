"""The newest events of the store, read once for all the live projections of one engine.

Every live projection follows the same end of the store. Reading it separately, each would ask
for the head and read and decode the same new events, once per projection and batch: with a
dozen projections and a steady stream of commands, most of a projector's work and most of its
queries. The tail reads each new event once; a projection takes from it the events of its own
topics in its window, and reads the store itself only when it is further behind than the tail
reaches (a catch-up, a rebuild).

The tail covers the store positions (start, end] completely: every event in that range is in
it, in position order (PostgreSQL's positions have gaps; the range is still complete). It is
read forward from the store head, which is safe as a high-water mark (the store serialises
inserts: every event at or below the head is committed and visible once the head is). It
holds each event for at most MAX_AGE_SECONDS and at most `keep` events.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import deque
from collections.abc import Sequence
from functools import lru_cache

from infrastructure.eventsource import EventSource
from infrastructure.vault import CACHE_SECONDS
from projections.engine.projection import Recorded, type_name

KEEP = 20_000  # events kept; a projection further behind reads the store
# Events are kept decoded, personal data in the clear, for at most as long as a key may stay
# cached after another process forgot its subject: a forgotten person leaves no copy here either.
MAX_AGE_SECONDS = CACHE_SECONDS


class Tail:
    def __init__(
        self, source: EventSource, *, poll_seconds: float, keep: int = KEEP, max_age: float = MAX_AGE_SECONDS
    ) -> None:
        self.source = source
        self.poll_seconds = poll_seconds
        self.keep = keep
        self.max_age = max_age
        self._chunks: deque[tuple[float, int]] = deque()  # (when read, last position) per read
        self._lock = threading.Lock()
        self._records: list[Recorded] = []
        self._positions: list[int] = []
        self._start: int | None = None  # nothing read yet
        self._end = self._head = 0
        self._pokes = 0  # new events announced (a command of this process, or NOTIFY)
        self._read_at_pokes = -1
        self._read_at = 0.0

    def poke(self) -> None:
        """New events were written: the next request past the end reads the store again."""
        self._pokes += 1

    def window(
        self, after: int, limit: int, topics: Sequence[str], *, until: int | None = None
    ) -> tuple[int, int, list[Recorded]] | None:
        """(head, new position, the events of `topics` in (after, new]) for a projection at
        `after`, with new = min(head, after + limit) within what the tail holds; None when the
        tail does not reach back to `after` (read the store instead). `until`: a store head the
        caller saw (in its own transaction): the tail reads on to it first, whatever was
        announced (a command that must see every stored event)."""
        with self._lock:
            self._expire()
            if self._start is None or after > self._end:  # first use, or moved on by another process
                self._restart(after)
            elif after < self._start:
                return None
            if after == self._end or until is not None:
                self._read(until)
            new = min(self._end, after + limit)
            lo = bisect.bisect_right(self._positions, after)
            hi = bisect.bisect_right(self._positions, new)
            records = self._records[lo:hi]
            if topics:
                wanted = type_names(tuple(topics))
                records = [r for r in records if r.type in wanted]
            return self._head, new, records

    def _expire(self) -> None:
        """Forget the events read more than `max_age` ago (the tail then starts after them)."""
        if not self._chunks or time.monotonic() - self._chunks[0][0] <= self.max_age:
            return
        while self._chunks and time.monotonic() - self._chunks[0][0] > self.max_age:
            self._start = self._chunks.popleft()[1]
        drop = bisect.bisect_right(self._positions, self._start)
        del self._records[:drop]
        del self._positions[:drop]

    def _restart(self, at: int) -> None:
        self._chunks.clear()
        self._records, self._positions = [], []
        self._start = self._end = self._head = at
        self._read_at_pokes = -1

    def _read(self, until: int | None = None) -> None:
        """Read on from the end, when something was announced since the last read or a poll
        interval has passed (other processes' writes on SQLite are seen by polling). At most
        `keep` events at a time: a tail far behind the head moves on by chunks."""
        if until is not None:
            if until <= self._end:
                return
            head = until
        else:
            now = time.monotonic()
            quiet = self._pokes == self._read_at_pokes and now - self._read_at < self.poll_seconds
            if quiet and self._head <= self._end:
                return
            self._read_at_pokes, self._read_at = self._pokes, now
            head = self.source.head()
        self._head = max(self._head, head)
        if head <= self._end:
            return
        new = self.source.read(self._end, self.keep, stop=head)
        self._records += new
        self._positions += [r.position for r in new]
        self._end = head if len(new) < self.keep else new[-1].position
        self._chunks.append((time.monotonic(), self._end))
        if len(self._records) > self.keep:
            drop = len(self._records) - self.keep
            self._start = self._positions[drop - 1]
            del self._records[:drop]
            del self._positions[:drop]
            while self._chunks and self._chunks[0][1] <= self._start:
                self._chunks.popleft()


@lru_cache(maxsize=256)
def type_names(topics: tuple[str, ...]) -> frozenset[str]:
    """The event type names (as in `Recorded.type`) of these topics."""
    return frozenset(type_name(t) for t in topics)
