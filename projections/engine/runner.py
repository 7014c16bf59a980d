"""The projection engine: catch-up in large batches, then follow live; rebuilds beside the
live tables; one active runner per projection; failures stop only their own projection."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any

from infrastructure import idempotency
from infrastructure.database import Database, Tx
from infrastructure.eventsource import EventSource
from projections.engine import tracking
from projections.engine.projection import HandlerFailed, Projection
from projections.engine.tail import Tail
from projections.engine.tail import type_names as tail_type_names

log = logging.getLogger("salesledger.projections")

BATCH_SIZE = 5000
# Rebuilds and backfills replay history in bigger transactions: a deal's several events in one
# window are applied once, and a replay of ~1M events commits ~50 times instead of ~200.
REPLAY_BATCH_SIZE = 20_000
# A live projection woken by a new event waits this long before reading, so that the events of
# the commands written at the same moment are applied in one batch: under a stream of commands
# each projection runs a few dozen batches a second instead of one per command. It adds at most
# this much to the read-your-writes lag.
LINGER_SECONDS = 0.01
PASS_SECONDS = 0.25  # the longest a live projection's tracking row lags windows without its events
STANDBY_SECONDS = 2.0  # how often a standby runner tries for the lock
STANDBY_AFTER_LOSS_SECONDS = 5.0  # a runner that lost its lock lets the standbys go first
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.5, 30.0  # a runner that cannot reach the database backs off

# Runners of this process that cannot reach the database: name -> what went wrong and when they
# try again. `status` shows them as `retrying` (the registration row may be out of reach too).
_retrying: dict[str, dict[str, Any]] = {}
_retrying_lock = threading.Lock()


def _mark_retrying(name: str, error: BaseException, attempt: int, delay: float) -> None:
    with _retrying_lock:
        _retrying[name] = {"message": repr(error), "attempt": attempt, "retry_in_seconds": round(delay, 2)}


def _mark_recovered(name: str) -> None:
    if name in _retrying:
        with _retrying_lock:
            _retrying.pop(name, None)


def retrying() -> dict[str, dict[str, Any]]:
    """The projections this process's runners are retrying, with their last error."""
    with _retrying_lock:
        return {name: dict(info) for name, info in _retrying.items()}


def prepare(db: Database, projections: Sequence[Projection]) -> None:
    """Create bookkeeping and read-model tables (idempotent); run at every start-up."""
    with db.transaction() as tx:
        tracking.ensure_schema(tx)
        idempotency.ensure_schema(tx)
    for projection in projections:
        with db.transaction() as tx:
            tracking.register(tx, projection)


def process(
    db: Database,
    source: EventSource,
    projection: Projection,
    generation: int,
    after: int,
    *,
    limit: int = BATCH_SIZE,
    tx: Tx | None = None,
    live: bool = False,
    still_owner: Callable[[], bool] | None = None,
    tail: Tail | None = None,
    written: int | None = None,
) -> tuple[int, int]:
    """Apply the events in positions (after, after + limit] to one generation; answer
    (new position, events applied). `written`: the position its tracking row holds when the
    caller passed windows without events of its topics in memory (at or before `after`).

    The read-model writes and the new position commit together. With `live`, the batch is
    refused if that generation stopped being the active one while it was read; with
    `still_owner`, if the caller stopped being the active runner (checked last, just before
    the commit; the position compare-and-set covers the instant after). With `tail`, the
    events come from the engine's shared tail when it reaches back to `after`."""
    window = None if tail is None else tail.window(after, limit, projection.topics)
    if window is not None:
        head, new, batch = window
        if new <= after:
            return after, 0
    else:
        head = source.head()
        if head <= after:
            return after, 0
        # A window of `limit` positions, not `limit` matching events: an index range scan on
        # both backends, and the position advances past events the projection does not consume.
        new = min(head, after + limit)
        batch = source.read(after, limit, stop=new, topics=projection.topics)

    base = after if written is None else written

    def write(tx: Tx) -> None:
        if live and not batch and not projection.settles:
            # Nothing of its topics in the window: only the position moves (compare-and-set; an
            # empty window advanced on a generation a rebuild just replaced changes nothing).
            tracking.advance(tx, projection.name, generation, base, new)
            if new == head:
                tracking.set_state(tx, projection.name, "live")
            return
        if live:
            reg = tracking.registration(tx, projection.name, lock=True)
            if reg is None or reg.active_generation != generation:
                raise tracking.PositionConflict(f"{projection.name}: generation {generation} is no longer active")
        if tracking.position(tx, projection.name, generation) != base:
            raise tracking.PositionConflict(f"{projection.name}: position moved on from {base}")
        todo = batch
        if live and projection.on_error == "park" and batch:  # events set aside stay aside (rebuilds retry them)
            skip = tracking.parked_positions(tx, projection.name)
            todo = [r for r in batch if r.position not in skip]
        projection.handle(tx, projection.table_names(generation), todo)
        projection.settle(tx, projection.table_names(generation), at_head=new == head)
        tracking.advance(tx, projection.name, generation, base, new)
        if live:
            tracking.set_state(tx, projection.name, "live" if new == head else "catching_up")
        if still_owner is not None and not still_owner():
            raise tracking.PositionConflict(f"{projection.name}: this runner no longer holds the projection")

    if tx is not None:
        write(tx)
    else:
        with db.transaction() as own:
            write(own)
    return new, len(batch)


class ProjectionFailed(Exception):
    """A projection cannot catch up because one of its handlers fails."""

    def __init__(self, name: str, failure: HandlerFailed) -> None:
        super().__init__(f"projection {name} is failing at {failure.record.type} {failure.record.position}")
        self.name, self.failure = name, failure


def catch_up(db: Database, source: EventSource, projection: Projection, *, limit: int = BATCH_SIZE) -> int:
    """Bring a projection's active tables up to the store head from this process; answer the
    position reached. Safe beside a live runner: every batch is a compare-and-set."""
    while True:
        with db.read() as tx:
            reg = tracking.registration(tx, projection.name)
            after = tracking.position(tx, projection.name, reg.active_generation)
        try:
            new, _ = process(db, source, projection, reg.active_generation, after, limit=limit, live=True)
        except tracking.PositionConflict:
            continue
        except HandlerFailed as failure:
            raise ProjectionFailed(projection.name, failure) from failure
        if new == after:
            return new


@dataclass
class RebuildProgress:
    position: int
    head: int
    events: int
    elapsed: float
    start: int = 0


def rebuild(
    db: Database,
    source: EventSource,
    projection: Projection,
    *,
    progress: Callable[[RebuildProgress], None] | None = None,
    limit: int = REPLAY_BATCH_SIZE,
    keep: bool = False,
) -> RebuildProgress:
    """Replay all history into a new generation of tables, then switch queries to it.

    The active tables keep answering until the switch, which applies the last events and
    flips the active generation in one transaction. Errors fail fast and leave the old
    generation untouched."""
    with exclusive(db, f"rebuild.{projection.name}") as got:
        if not got:
            raise Busy(f"a rebuild of {projection.name} is already running")
        return _rebuild(db, source, projection, progress, limit, keep)


def _rebuild(
    db: Database,
    source: EventSource,
    projection: Projection,
    progress: Callable[[RebuildProgress], None] | None,
    limit: int,
    keep: bool,
) -> RebuildProgress:
    prepare(db, [projection])
    with db.transaction() as tx:
        reg = tracking.registration(tx, projection.name, lock=True)
        if reg.rebuilding_generation is not None:  # left behind by a rebuild that crashed
            tracking.drop_generation(tx, projection, reg.rebuilding_generation)
        generation = tracking.next_generation(tx, projection.name)
        tracking.create_generation(tx, projection, generation)
        tx.execute(
            "UPDATE projection_registry SET rebuilding_generation = ? WHERE name = ?", (generation, projection.name)
        )
    started, position, events = time.monotonic(), 0, 0
    try:
        while True:
            position, n = process(db, source, projection, generation, position, limit=limit)
            events += n
            head = source.head()
            if progress:
                progress(RebuildProgress(position, head, events, time.monotonic() - started))
            if head - position <= limit:
                break
        with db.transaction() as tx:
            reg = tracking.registration(tx, projection.name, lock=True)
            while True:
                new, n = process(db, source, projection, generation, position, limit=limit, tx=tx)
                events += n
                if new == position:
                    break
                position = new
            tx.execute(
                "UPDATE projection_registry SET active_generation = ?, rebuilding_generation = NULL, "
                "state = 'live', last_error = NULL, error_position = NULL, error_event_type = NULL, "
                "error_traceback = NULL WHERE name = ?",
                (generation, projection.name),
            )
            if not keep:
                tracking.drop_generation(tx, projection, reg.active_generation)
            tx.execute(
                "UPDATE projection_dead_letters SET status = 'rebuilt' WHERE name = ? AND status = 'parked'",
                (projection.name,),
            )
    except BaseException:
        with db.transaction() as tx:
            tx.execute("UPDATE projection_registry SET rebuilding_generation = NULL WHERE name = ?", (projection.name,))
            tracking.drop_generation(tx, projection, generation)
        raise
    done = RebuildProgress(position, position, events, time.monotonic() - started)
    if progress:
        progress(done)
    return done


def backfill(
    db: Database,
    source: EventSource,
    projection: Projection,
    *,
    progress: Callable[[RebuildProgress], None] | None = None,
    limit: int = REPLAY_BATCH_SIZE,
) -> RebuildProgress:
    """Build a projection's active tables up to the head from wherever they stand: a new
    projection starts at 0, an interrupted backfill resumes from its last committed batch."""
    prepare(db, [projection])
    with db.read() as tx:
        start = tracking.active_position(tx, projection.name) or 0
    started, position, events = time.monotonic(), start, 0
    while True:
        with db.read() as tx:
            generation = tracking.registration(tx, projection.name).active_generation
            position = tracking.position(tx, projection.name, generation)
        try:
            new, n = process(db, source, projection, generation, position, limit=limit, live=True)
        except tracking.PositionConflict:
            continue
        events += n
        if progress:
            progress(RebuildProgress(new, source.head(), events, time.monotonic() - started, start))
        if new == position:
            return RebuildProgress(new, new, events, time.monotonic() - started, start)


def retry_parked(db: Database, source: EventSource, projection: Projection, position: int | None = None) -> dict:
    """Apply parked events to the active tables again, each in its own transaction; an event
    that still fails stays parked with its new error. (It is applied after later events were.)"""
    with db.read() as tx:
        letters = [
            d
            for d in tracking.dead_letters(tx, projection.name)
            if d["status"] == "parked" and position in (None, d["position"])
        ]
    resolved, failing = [], []
    for letter in letters:
        [record] = source.read(letter["position"] - 1, 1)
        try:
            with db.transaction() as tx:
                reg = tracking.registration(tx, projection.name, lock=True)
                projection.handle(tx, projection.table_names(reg.active_generation), [record])
                tracking.resolve_dead_letter(tx, projection.name, record.position)
            resolved.append(record.position)
        except HandlerFailed as failure:
            with db.transaction() as tx:
                tracking.park(
                    tx,
                    projection.name,
                    record.position,
                    record.type,
                    repr(failure.error),
                    "".join(traceback.format_exception(failure.error)),
                )
            failing.append(record.position)
    return {"retried": [d["position"] for d in letters], "resolved": resolved, "still_failing": failing}


def status(db: Database, source: EventSource, projections: Sequence[Projection]) -> list[dict[str, Any]]:
    head = source.head()
    rows = []
    with db.read() as tx:
        for projection in projections:
            reg = tracking.registration(tx, projection.name)
            position = tracking.active_position(tx, projection.name) or 0
            state = "catching_up" if reg is None else reg.state
            if reg is not None and reg.rebuilding_generation is not None and state != "failed":
                state = "rebuilding"
            parked = len(tracking.parked_positions(tx, projection.name))
            row = {
                "name": projection.name,
                "version": projection.version,
                "position": position,
                "head": head,
                "lag": max(head - position, 0),
                "state": state,
                "last_error": None,
                "on_error": projection.on_error,
                "parked": parked,
            }
            if reg is not None and reg.rebuilding_generation is not None:
                row["rebuild_position"] = tracking.position(tx, projection.name, reg.rebuilding_generation)
            if reg is not None and reg.state == "failed":
                row["last_error"] = {
                    "message": reg.last_error,
                    "position": reg.error_position,
                    "event_type": reg.error_event_type,
                    "traceback": reg.error_traceback,
                }
            elif projection.name in _retrying:
                row["state"], row["last_error"] = "retrying", retrying().get(projection.name)
            rows.append(row)
    return rows


def wait_for(
    db: Database,
    name: str,
    position: int,
    timeout: float = 5.0,
    interval: float = 0.02,
    *,
    source: EventSource | None = None,
    topics: Sequence[str] = (),
) -> tuple[bool, int]:
    """Wait until projection `name` has processed `position`; answer (reached, current position).
    With `source` and the projection's `topics`, a read model whose position is behind but with
    no event of its topics in between has reached it too (its runner passes such windows
    without writing the position at once)."""
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as tx:
            current = tracking.active_position(tx, name) or 0
            reg = tracking.registration(tx, name)
            if (
                current < position
                and source is not None
                and topics
                and not source.holds_any(tx, current, position, topics)
            ):
                return True, current
        if current >= position:
            return True, current
        if (reg is not None and reg.state == "failed") or time.monotonic() >= deadline:
            return False, current
        time.sleep(interval)


class Busy(Exception):
    """Another process holds the lock this operation needs (for example a rebuild in progress)."""


class Hold:
    """A cross-process lock as this process holds it: truthy when it was obtained; `lost` is set
    once it no longer holds it (its PostgreSQL session died, or its heartbeat went silent)."""

    def __init__(self, got: bool) -> None:
        self.got = got
        self.lost = threading.Event()
        self._last_ok = time.monotonic()
        self._silence: float | None = None

    def __bool__(self) -> bool:
        return self.got

    @property
    def held(self) -> bool:
        """Still ours: obtained, not lost, and the last heartbeat is recent."""
        if not self.got or self.lost.is_set():
            return False
        if self._silence is not None and time.monotonic() - self._last_ok > self._silence:
            self.lost.set()  # a heartbeat stuck on a dead network counts as a lost lock
            return False
        return True


LOCK_HEARTBEAT_SECONDS = 0.5  # how often a held advisory lock's session is checked


@contextmanager
def exclusive(db: Database, name: str, *, heartbeat: float | None = None) -> Iterator[Hold]:
    """Try a cross-process lock named `name`; yield a `Hold`, truthy when it was obtained.

    PostgreSQL: a session advisory lock on a dedicated connection; the lock lasts as long as
    that session. With `heartbeat` (seconds), the session is checked that often and the hold
    is marked lost as soon as the session is gone (a terminated backend, a dropped network):
    whoever relies on the lock must then stop. SQLite: an flock on a file beside the
    database, which lasts as long as this process."""
    if db.kind == "sqlite":
        with open(f"{os.path.abspath(db.url.path)}.{name}.lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield Hold(False)
                return
            try:
                yield Hold(True)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    key = zlib.crc32(f"salesledger.{name}".encode())
    with db.session_connection() as conn:
        hold = Hold(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
        stop = threading.Event()
        watcher = None
        if hold and heartbeat:
            hold._silence = 4 * heartbeat
            watcher = threading.Thread(
                target=_watch_session, args=(conn, hold, heartbeat, stop), name=f"lock-{name}", daemon=True
            )
            watcher.start()
        try:
            yield hold
        finally:
            stop.set()
            if watcher is not None:
                watcher.join(4 * heartbeat)
            if hold and not hold.lost.is_set():
                try:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                except Exception:  # the session is gone, and its lock with it
                    log.warning("advisory lock %s: session lost while releasing", name)


def _watch_session(conn: Any, hold: Hold, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        try:
            conn.execute("SELECT 1")
        except Exception:
            log.warning("advisory lock session lost: the lock is no longer held")
            hold.lost.set()
            return
        hold._last_ok = time.monotonic()


class LockSession:
    """One PostgreSQL session holding every projection lock of an engine (advisory locks belong
    to a session): one connection for all its projections, standbys included, instead of one
    per projection and a fresh one for every standby attempt. The session is checked every
    `heartbeat` seconds; when it dies, every hold on it is lost at once and the next attempt
    opens a new session."""

    def __init__(self, db: Database, heartbeat: float) -> None:
        self.db, self.heartbeat = db, heartbeat
        self._mutex = threading.Lock()
        self._conn: Any = None
        self._holds: dict[int, Hold] = {}
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    @contextmanager
    def exclusive(self, name: str) -> Iterator[Hold]:
        """Try the lock `name` on the shared session; yield a `Hold` (see `exclusive`)."""
        key = zlib.crc32(f"salesledger.{name}".encode())
        with self._mutex:
            conn = self._session()
            try:
                hold = Hold(conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])
            except Exception:
                self._drop()
                raise
            if hold:
                hold._silence = 4 * self.heartbeat
                self._holds[key] = hold
        try:
            yield hold
        finally:
            if hold:
                with self._mutex:
                    if self._holds.pop(key, None) is not None and self._conn is conn:
                        try:
                            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
                        except Exception:  # the session is gone, and its locks with it
                            log.warning("advisory lock %s: session lost while releasing", name)
                            self._drop()

    def close(self) -> None:
        self._stop.set()
        with self._mutex:
            self._drop()

    def _session(self) -> Any:
        if self._conn is None:
            self._conn = self.db.session_connection_open()
            if self._watcher is None:
                self._watcher = threading.Thread(target=self._watch, name="projection-locks", daemon=True)
                self._watcher.start()
        return self._conn

    def _drop(self) -> None:
        """The session is gone (or closing): every hold on it is lost."""
        for hold in self._holds.values():
            hold.lost.set()
        self._holds.clear()
        if self._conn is not None:
            with suppress(Exception):
                self._conn.close()
            self._conn = None

    def _watch(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with self._mutex:
                if self._conn is None:
                    continue
                try:
                    self._conn.execute("SELECT 1")
                except Exception:
                    log.warning("advisory lock session lost: its locks are no longer held")
                    self._drop()
                    continue
                now = time.monotonic()
                for hold in self._holds.values():
                    hold._last_ok = now


def _idle(wake: threading.Event, seconds: float, on: Callable[[], bool]) -> None:
    """Wait up to `seconds` for `wake`, looking at `on()` at least every lock heartbeat."""
    deadline = time.monotonic() + seconds
    while on() and not wake.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        wake.wait(min(left, LOCK_HEARTBEAT_SECONDS))


class ProjectionEngine:
    """Runs each projection in its own thread until `stop()`."""

    def __init__(
        self,
        db: Database,
        source: EventSource,
        projections: Sequence[Projection],
        *,
        poll_seconds: float = 0.1,
        batch_size: int = BATCH_SIZE,
        linger_seconds: float = LINGER_SECONDS,
    ) -> None:
        self.db, self.source, self.projections = db, source, tuple(projections)
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self.tail = Tail(source, poll_seconds=poll_seconds)
        self.locks = LockSession(db, LOCK_HEARTBEAT_SECONDS) if db.kind == "postgres" else None
        self.batch_size = batch_size
        self._stopping = threading.Event()
        self._wake = {p.name: threading.Event() for p in self.projections}
        self._announced = threading.Event()
        self._threads: list[threading.Thread] = []
        self.running: set[str] = set()  # projections this engine is the active runner of

    def start(self) -> None:
        prepare(self.db, self.projections)
        self._threads = [
            threading.Thread(target=self._supervise, name="projectors-owner", daemon=True),
            threading.Thread(target=self._dispatch, name="projectors-dispatch", daemon=True),
        ]
        if self.db.kind == "postgres":
            self._threads.append(threading.Thread(target=self._listen, name="projectors-listen", daemon=True))
        for t in self._threads:
            t.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.poke()
        self._wake_all()
        for t in self._threads:
            t.join(timeout)
        if self.locks is not None:
            self.locks.close()

    def poke(self) -> None:
        """New events were written: wake the runners they concern now rather than at their next
        poll (the dispatcher reads them once and tells)."""
        self.tail.poke()
        self._announced.set()

    def _wake_all(self) -> None:
        for event in self._wake.values():
            event.set()

    def _dispatch(self) -> None:
        """Read the announced events once, from the tail, and wake the runners whose topics they
        hold, and those that settle after every batch. The others see them at their next poll
        (and pass them in memory): a stream of one kind of command wakes two or three runners,
        not all of them, each to look at a window with nothing of its own."""
        wanted = {p.name: (p, tail_type_names(tuple(p.topics))) for p in self.projections}
        seen: int | None = None
        while not self._stopping.is_set():
            self._announced.wait(self.poll_seconds)
            if self._stopping.is_set():
                break
            if not self._announced.is_set():
                continue
            self._announced.clear()
            try:
                while True:  # what the tail held unseen, then what it reads on to the head
                    window = None if seen is None else self.tail.window(seen, self.tail.keep, ())
                    if window is None:  # the first time, or further behind than the tail reaches
                        self._wake_all()
                        seen = self.source.head()
                        break
                    _, new, records = window
                    if new <= seen:
                        break
                    types = {r.type for r in records}
                    for name, (projection, names) in wanted.items():
                        if projection.settles or not names.isdisjoint(types):
                            self._wake[name].set()
                    seen = new
            except Exception:  # the store is away: wake everyone, as before there was a dispatcher
                log.exception("projector dispatch failed")
                seen = None
                self._wake_all()

    # -- threads -------------------------------------------------------------------------------
    def _supervise(self) -> None:
        """On SQLite one process owns all projectors; stand by while another does."""
        while not self._stopping.is_set():
            with exclusive(self.db, "projectors") if self.db.kind == "sqlite" else nullcontext(Hold(True)) as owner:
                if owner:
                    runners = [
                        threading.Thread(target=self._run, args=(p,), name=f"projector-{p.name}", daemon=True)
                        for p in self.projections
                    ]
                    for t in runners:
                        t.start()
                    for t in runners:
                        t.join()
                    return
            log.info("another process owns the projectors of %s; standing by", self.db.url.path)
            self._stopping.wait(2.0)

    def _listen(self) -> None:
        channel = getattr(self.source.recorder, "channel_name", None)
        while not self._stopping.is_set() and channel:
            try:
                with self.db.session_connection() as conn:
                    conn.execute(f'LISTEN "{channel}"')
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            self.poke()
            except Exception:  # connection lost: reconnect after a pause, polling covers the gap
                log.exception("LISTEN connection failed; retrying")
                self._stopping.wait(1.0)

    def _run(self, projection: Projection) -> None:
        """On PostgreSQL one active runner per projection (advisory lock); others stand by. A
        runner whose lock session dies stands down at once and stands by again, giving the
        other runners the first chance to take over."""
        wake = self._wake[projection.name]
        attempt = 0
        while not self._stopping.is_set():
            pause = STANDBY_SECONDS
            try:
                with (
                    self.locks.exclusive(f"projection.{projection.name}")
                    if self.locks is not None
                    else nullcontext(Hold(True)) as hold
                ):
                    if hold:
                        self.running.add(projection.name)
                        try:
                            self._serve(projection, wake, hold)
                        finally:
                            self.running.discard(projection.name)
                        if self._stopping.is_set():
                            break
                        pause = STANDBY_AFTER_LOSS_SECONDS
                        log.warning("projection %s: lost its lock; standing down", projection.name)
                attempt = 0
                _mark_recovered(projection.name)
            except Exception as error:  # the database is away or full: back off and try again
                attempt += 1
                pause = min(RETRY_FIRST_SECONDS * 2 ** (attempt - 1), RETRY_MAX_SECONDS)
                pause *= 0.5 + random.random() / 2  # jitter: standbys do not retry in step
                _mark_retrying(projection.name, error, attempt, pause)
                log.warning(
                    "projection %s: cannot reach the database (%r); retry %d in %.1f s",
                    projection.name,
                    error,
                    attempt,
                    pause,
                    exc_info=attempt == 1,
                )
            self._stopping.wait(pause)
        _mark_recovered(projection.name)  # a stopped runner is not retrying any more

    def _serve(self, projection: Projection, wake: threading.Event, hold: Hold) -> None:
        """Follow live; after a failure, wait until a rebuild or restart clears it. Returns
        when stopped or when the lock is lost."""

        def on() -> bool:
            return not self._stopping.is_set() and hold.held

        while on():
            with self.db.transaction() as tx:
                reg = tracking.register(tx, projection)
                if reg.state == "failed":
                    tracking.set_state(tx, projection.name, "catching_up")
            self._follow(projection, wake, on)
            while on():
                wake.wait(LOCK_HEARTBEAT_SECONDS)
                wake.clear()
                with self.db.read() as tx:
                    reg = tracking.registration(tx, projection.name)
                if reg is not None and reg.state != "failed":
                    break

    def _follow(self, projection: Projection, wake: threading.Event, on: Callable[[], bool]) -> None:
        """Process batches while `on()` (not stopped, lock held) or until a handler fails."""
        backoff = 0.5
        known: tuple[int, int, str] | None = None  # (generation, position, state) as last seen
        # While live, windows without events of its topics are passed in memory: the tracking
        # row stays at `written` until a batch of its own, a pause or PASS_SECONDS later moves it
        # (`wait_for` knows that no event of its topics lies in between).
        written: int | None = None
        passed_since = 0.0
        while on():
            try:
                if known is None:
                    written = None
                    with self.db.read() as tx:
                        reg = tracking.registration(tx, projection.name)
                        position = tracking.position(tx, projection.name, reg.active_generation)
                    known = (reg.active_generation, position or 0, reg.state)
                generation, after, state = known
                wake.clear()
                if state == "live" and (written is None or time.monotonic() - passed_since < PASS_SECONDS):
                    passed = self._nothing_for(projection, after)
                    if passed is not None:
                        if written is None:
                            written, passed_since = after, time.monotonic()
                        known = (generation, passed, state)
                        continue
                new, _ = process(
                    self.db,
                    self.source,
                    projection,
                    generation,
                    after,
                    limit=self.batch_size,
                    live=True,
                    still_owner=on,
                    tail=self.tail,
                    written=written,
                )
                if new > after:
                    written = None
                backoff = 0.5
                _mark_recovered(projection.name)
                # A batch that reached the head set the state `live`; one that did not is
                # followed at once by the next, so the idle branch below sees only the former.
                known = (generation, new, "live" if new > after else state)
                if new == after:
                    if state != "live":
                        with self.db.transaction() as tx:
                            tracking.set_state(tx, projection.name, "live")
                        known = (generation, after, "live")
                    _idle(wake, self.poll_seconds, on)
                    if wake.is_set():  # let the events written at the same moment join the batch
                        self._stopping.wait(self.linger_seconds)
                    elif written is not None and on():  # a pause: the row moves to where it got
                        with self.db.transaction() as tx:
                            tracking.advance(tx, projection.name, generation, written, after)
                        written = None
            except tracking.PositionConflict:
                known = None
                continue
            except HandlerFailed as failure:
                known = None
                if projection.on_error == "park":  # set the event aside, report it, carry on
                    log.error(
                        "projection %s parked %s at %s: %r",
                        projection.name,
                        failure.record.type,
                        failure.record.position,
                        failure.error,
                    )
                    with self.db.transaction() as tx:
                        tracking.park(
                            tx,
                            projection.name,
                            failure.record.position,
                            failure.record.type,
                            repr(failure.error),
                            "".join(traceback.format_exception(failure.error)),
                        )
                    continue
                self._record_failure(projection, failure.error, failure.record.position, failure.record.type)
                return
            except Exception as error:  # storage trouble: keep the projection, retry with backoff
                known = None
                log.exception("projection %s: batch failed; retrying", projection.name)
                _mark_retrying(projection.name, error, 0, backoff)
                _idle(self._stopping, backoff, on)
                backoff = min(backoff * 2, 10.0)

    def _nothing_for(self, projection: Projection, after: int) -> int | None:
        """The end of the tail's next window when none of its events is of the projection's
        topics and the projection settles nothing after a batch; None otherwise."""
        if projection.settles:
            return None
        window = self.tail.window(after, self.batch_size, projection.topics)
        if window is None or window[2] or window[1] <= after:
            return None
        return window[1]

    def _record_failure(
        self, projection: Projection, error: BaseException, position: int | None, event_type: str | None
    ) -> None:
        trace = "".join(traceback.format_exception(error))
        log.error("projection %s stopped at %s %s: %r", projection.name, event_type, position, error)
        with self.db.transaction() as tx:
            tracking.set_failed(tx, projection.name, repr(error), position, event_type, trace)
