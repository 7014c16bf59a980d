"""Scheduled checks: the lead SLA check, the customer dormancy check and the revisit check run
by themselves inside `salesledger project`, as well as on demand (routes and CLI commands).

Each check has a schedule that names *moments*: `Every(seconds)` names the instants that are
multiples of `seconds` since the epoch (the SLA check at 10:05:00, 10:10:00, ...), `Daily(at)`
names organisation days, a day's moment coming at `at` o'clock in the organisation's zone (the
dormancy check of 2026-03-10, due from 01:00 that day). A check runs for the latest moment that
has come and that it has not run for yet: a scheduler that was down for three moments runs the
latest once (each check covers everything due by its moment). The events it writes carry the
correlation id `<check>-<moment>`, as the CLI's on-demand runs do.

One active scheduler across processes: it holds the cross-process lock `scheduler` (a
PostgreSQL advisory lock with a heartbeat, as the projection runners do; on SQLite a file lock
beside the database); the others stand by and take over when it goes. The moment each check
last completed is kept in the `scheduled_checks` table, so a moment is not run again by a
restarted or a standby scheduler; and the checks are idempotent themselves (a breach, a
dormancy, an overdue revisit is recorded once), so a moment run twice writes nothing twice.

A failing check is logged, its error kept with the check's state, and retried with a growing
pause (from CHECK_RETRY_FIRST_SECONDS to CHECK_RETRY_MAX_SECONDS, never past the check's next moment); a
database that cannot be reached makes the scheduler stand down and try again. The thread
never dies of an error."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from application import clock
from domain.base import Meta
from infrastructure.database import Database
from projections.engine.runner import (
    LOCK_HEARTBEAT_SECONDS,
    RETRY_FIRST_SECONDS,
    RETRY_MAX_SECONDS,
    STANDBY_AFTER_LOSS_SECONDS,
    STANDBY_SECONDS,
    exclusive,
)

log = logging.getLogger("salesledger.scheduler")

CHECK_RETRY_FIRST_SECONDS, CHECK_RETRY_MAX_SECONDS = 5.0, 300.0  # a failing check is tried again
LOCK_NAME = "scheduler"

SCHEMA = """CREATE TABLE IF NOT EXISTS scheduled_checks (
    job TEXT PRIMARY KEY,
    schedule TEXT NOT NULL,
    last_moment TEXT,
    last_run_at TEXT,
    last_finished_at TEXT,
    last_result TEXT,
    next_run_at TEXT,
    last_error TEXT,
    last_error_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    runner TEXT
)"""
COLUMNS = (
    "job",
    "schedule",
    "last_moment",
    "last_run_at",
    "last_finished_at",
    "last_result",
    "next_run_at",
    "last_error",
    "last_error_at",
    "failures",
    "runner",
)


def scheduled_meta(job: str, when: object) -> Meta:
    """The metadata of a scheduled check's events: actor `job`, a correlation id naming the moment."""
    return Meta(actor=job, correlation_id=f"{job}-{when}", causation_id=f"{job}-{when}")


# -- schedules ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Every:
    """Moments every `seconds`, counted from the epoch; a check's `as_of` is the moment itself."""

    seconds: float

    def moment(self, now: datetime) -> datetime:
        step = int(self.seconds * 1000)
        millis = int(now.timestamp() * 1000) // step * step
        return datetime.fromtimestamp(millis / 1000, UTC)

    def following(self, moment: Any) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    @staticmethod
    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text)

    def describe(self) -> str:
        return f"every {self.seconds:g} s"


@dataclass(frozen=True)
class Daily:
    """One moment per day of the organisation's zone, due at `at` o'clock that day; a check's
    `as_of` is the day."""

    at: time
    zone: str = clock.DEFAULT_TIMEZONE

    def moment(self, now: datetime) -> date:
        local = now.astimezone(ZoneInfo(self.zone))
        return local.date() if local.time() >= self.at else local.date() - timedelta(days=1)

    def following(self, moment: Any) -> datetime:
        return datetime.combine(moment + timedelta(days=1), self.at, tzinfo=ZoneInfo(self.zone)).astimezone(UTC)

    @staticmethod
    def parse(text: str) -> date:
        return date.fromisoformat(text)

    def describe(self) -> str:
        return f"daily at {self.at.strftime('%H:%M')} {self.zone}"


Schedule = Every | Daily


@dataclass(frozen=True)
class Job:
    """A scheduled check: `run(meta, as_of)` does it for a moment and answers what it found."""

    name: str
    schedule: Schedule
    run: Callable[[Meta, Any], Any]


@dataclass(frozen=True)
class Timetable:
    """When each check runs (from the settings): None leaves a check to on-demand runs only."""

    sla_check_every: float | None = None
    dormancy_check_at: time | None = None
    revisit_check_at: time | None = None
    timezone: str = clock.DEFAULT_TIMEZONE


def checks(ledger: Any, timetable: Timetable, written: Callable[[], None] = lambda: None) -> list[Job]:
    """The scheduled checks of a `SalesLedger`, by the timetable (`written` is called after each run)."""
    from application.customers import CheckDormancy, CheckRevisits
    from application.leads import CheckSla

    def after(run: Callable[[Meta, Any], Any]) -> Callable[[Meta, Any], Any]:
        def done(meta: Meta, as_of: Any) -> Any:
            try:
                return run(meta, as_of)
            finally:
                written()

        return done

    jobs = []
    if timetable.sla_check_every:
        jobs.append(
            Job(
                "sla-check",
                Every(timetable.sla_check_every),
                after(lambda meta, at: ledger.leads.check_sla(CheckSla(as_of=at), meta)),
            )
        )
    if timetable.dormancy_check_at is not None:
        jobs.append(
            Job(
                "dormancy-check",
                Daily(timetable.dormancy_check_at, timetable.timezone),
                after(lambda meta, day: ledger.customers.check_dormancy(CheckDormancy(as_of=day), meta)),
            )
        )
    if timetable.revisit_check_at is not None:
        jobs.append(
            Job(
                "revisit-check",
                Daily(timetable.revisit_check_at, timetable.timezone),
                after(lambda meta, day: ledger.customers.check_revisits(CheckRevisits(as_of=day), meta)),
            )
        )
    return jobs


# -- state -------------------------------------------------------------------------------------
def ensure_schema(db: Database) -> None:
    with db.transaction() as tx:
        tx.execute(SCHEMA)


def status(db: Database) -> list[dict[str, Any]]:
    """Each check's schedule, last completed moment and run, its result, next run and last error."""
    with db.read() as tx:
        rows = tx.all(f"SELECT {', '.join(COLUMNS)} FROM scheduled_checks ORDER BY job")
    found = []
    for row in rows:
        item = dict(zip(COLUMNS, row, strict=True))
        item["last_result"] = None if item["last_result"] is None else json.loads(item["last_result"])
        found.append(item)
    return found


def _text(moment: datetime | date) -> str:
    return moment.isoformat()


def _summary(result: Any) -> dict[str, Any]:
    """What a check found, kept short: counts instead of lists."""
    data = asdict(result) if is_dataclass(result) and not isinstance(result, type) else dict(result or {})
    short = {k: len(v) if isinstance(v, list) else v for k, v in data.items()}
    return json.loads(json.dumps(short, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


class Scheduler:
    """Runs the scheduled checks in a thread while it holds the scheduler lock (see the module)."""

    def __init__(
        self,
        db: Database,
        jobs: Sequence[Job],
        *,
        now: Callable[[], datetime] = clock.now,
        poll_seconds: float = 1.0,
        runner: str | None = None,
    ) -> None:
        self.db, self.jobs, self.now, self.poll_seconds = db, tuple(jobs), now, poll_seconds
        self.runner = runner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.active = False  # holds the scheduler lock (the one running the checks)
        self.last_error: str | None = None  # the scheduler's own trouble (the database away)
        self._retry: dict[str, tuple[Any, datetime]] = {}  # a failed check: its moment, when to try again
        self._failures: dict[str, int] = {}
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def poke(self) -> None:
        """Look at the schedule now rather than at the next poll (after the clock moved, in tests)."""
        self._wake.set()

    def prepare(self) -> None:
        """The state table and one row per check, with this timetable's schedule and next run."""
        ensure_schema(self.db)
        now = self.now()
        with self.db.transaction() as tx:
            for job in self.jobs:
                row = tx.one("SELECT last_moment FROM scheduled_checks WHERE job = ?", (job.name,))
                next_run = self._next_run(job, None if row is None else row[0], now)
                if row is None:
                    tx.execute(
                        "INSERT INTO scheduled_checks (job, schedule, next_run_at, failures) VALUES (?, ?, ?, 0)",
                        (job.name, job.schedule.describe(), next_run),
                    )
                else:
                    tx.execute(
                        "UPDATE scheduled_checks SET schedule = ?, next_run_at = ? WHERE job = ?",
                        (job.schedule.describe(), next_run, job.name),
                    )
            names = [job.name for job in self.jobs]
            marks = ", ".join("?" * len(names))
            tx.execute(
                "UPDATE scheduled_checks SET schedule = 'off', next_run_at = NULL"
                + (f" WHERE job NOT IN ({marks})" if names else ""),
                names,
            )

    @staticmethod
    def _next_run(job: Job, last_moment: str | None, now: datetime) -> str:
        moment = job.schedule.moment(now)
        if last_moment is not None and job.schedule.parse(last_moment) >= moment:
            return _text(job.schedule.following(moment))
        return _text(now)  # due now

    # -- one pass --------------------------------------------------------------------------------
    def tick(self, still_held: Callable[[], bool] = lambda: True) -> list[dict[str, Any]]:
        """Run every check that is due, once; answer what ran (job, moment, result or error).
        The caller holds the scheduler lock; `still_held` is asked before each check."""
        ran = []
        for job in self.jobs:
            if not still_held() or self._stopping.is_set():
                break
            done = self._run_if_due(job)
            if done is not None:
                ran.append(done)
        return ran

    def _run_if_due(self, job: Job) -> dict[str, Any] | None:
        now = self.now()
        moment = job.schedule.moment(now)
        failed_moment, retry_at = self._retry.get(job.name, (None, now))
        if failed_moment == moment and now < retry_at:
            return None  # failed for this moment: wait before trying again (a new moment is tried at once)
        with self.db.read() as tx:
            last = tx.value("SELECT last_moment FROM scheduled_checks WHERE job = ?", (job.name,))
        if last is not None and job.schedule.parse(last) >= moment:
            return None  # this moment's check is done (here, before a restart, or by another runner)
        started = self.now()
        try:
            result = job.run(scheduled_meta(job.name, _text(moment)), moment)
        except Exception as error:
            return self._failed(job, moment, error)
        summary = _summary(result)
        self._retry.pop(job.name, None)
        self._failures.pop(job.name, None)
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE scheduled_checks SET last_moment = ?, last_run_at = ?, last_finished_at = ?, "
                "last_result = ?, next_run_at = ?, failures = 0, runner = ? "
                "WHERE job = ? AND (last_moment IS NULL OR last_moment < ?)",  # never back to an earlier moment
                (
                    _text(moment),
                    _text(started),
                    _text(self.now()),
                    json.dumps(summary),
                    _text(job.schedule.following(moment)),
                    self.runner,
                    job.name,
                    _text(moment),
                ),
            )
        log.info("%s for %s: %s", job.name, _text(moment), summary)
        return {"job": job.name, "moment": _text(moment), "result": summary}

    def _failed(self, job: Job, moment: Any, error: Exception) -> dict[str, Any]:
        failures = self._failures.get(job.name, 0) + 1
        self._failures[job.name] = failures
        pause = min(CHECK_RETRY_FIRST_SECONDS * 2 ** (failures - 1), CHECK_RETRY_MAX_SECONDS)
        now = self.now()
        retry_at = min(now + timedelta(seconds=pause), job.schedule.following(moment))
        self._retry[job.name] = (moment, retry_at)
        message = getattr(error, "message", None) or repr(error)
        log.error(
            "%s for %s failed (%d in a row): %s; retry at %s",
            job.name,
            _text(moment),
            failures,
            message,
            _text(retry_at),
            exc_info=error if failures == 1 else None,
        )
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE scheduled_checks SET last_error = ?, last_error_at = ?, failures = ?, next_run_at = ?, "
                "runner = ? WHERE job = ?",
                (message, _text(now), failures, _text(retry_at), self.runner, job.name),
            )
        return {"job": job.name, "moment": _text(moment), "error": message}

    # -- the thread ------------------------------------------------------------------------------
    def _loop(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            pause = STANDBY_SECONDS
            try:
                heartbeat = LOCK_HEARTBEAT_SECONDS if self.db.kind == "postgres" else None
                with exclusive(self.db, LOCK_NAME, heartbeat=heartbeat) as hold:
                    if hold:
                        self.active = True
                        try:
                            self._serve(lambda: hold.held and not self._stopping.is_set())
                        finally:
                            self.active = False
                        if self._stopping.is_set():
                            break
                        pause = STANDBY_AFTER_LOSS_SECONDS
                        log.warning("scheduler: lost its lock; standing down")
                attempt, self.last_error = 0, None
            except Exception as error:  # the database is away: stand down, try again later
                attempt += 1
                pause = min(RETRY_FIRST_SECONDS * 2 ** (attempt - 1), RETRY_MAX_SECONDS)
                self.last_error = repr(error)
                log.warning(
                    "scheduler: cannot reach the database (%r); retry %d in %.1f s",
                    error,
                    attempt,
                    pause,
                    exc_info=attempt == 1,
                )
            self._stopping.wait(pause)

    def _serve(self, on: Callable[[], bool]) -> None:
        self.prepare()
        while on():
            self.tick(on)
            self._wake.wait(self.poll_seconds)
            self._wake.clear()


def parse_time_of_day(value: Any) -> time | None:
    """`HH:MM` (24-hour) or off (empty, `0`, `off`, `false`, `no`): the time a daily check runs."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "0", "off", "false", "no")):
        return None
    if isinstance(value, time):
        return value
    text = str(value).strip()
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day: use HH:MM (e.g. 01:30), or off") from None
