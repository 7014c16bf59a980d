"""The scheduled checks of `salesledger project`, on each backend, with an injected clock: a
check runs by itself, writes its events once per moment, survives its own errors, and of two
schedulers on one database only one ever runs a check (the other takes over when it goes)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from datetime import time as clock_time

import pytest

from application.leads import CheckSla
from infrastructure.runtime import Runtime
from infrastructure.scheduler import Daily, Every, Job, Scheduler, Timetable, checks, status
from infrastructure.settings import Settings
from tests.helpers import META


def wait_until(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


class Clock:
    """The scheduler's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def __call__(self) -> datetime:
        return self.at


def state(db, job):
    return next((row for row in status(db) if row["job"] == job), None)


def events_of(rt, correlation_id):
    return [r for r in rt.source.read(0, 100_000) if r.event.meta.get("correlation_id") == correlation_id]


def assigned_lead(rt) -> str:
    """A grade A lead assigned 2026-11-02 01:00 UTC: its first response is due 05:00 UTC."""
    rt.ledger.org.hire_rep(META, name="高甲", level="senior", team="华东一组", region="华东")
    lead = rt.ledger.leads.capture_lead(
        META, company="杭州智能装备有限公司", source="trade_show", region="华东", industry="manufacturing"
    ).id
    rt.ledger.leads.score_lead(META, lead, need_match=5, purchasing_power=4, decision_complexity=1)
    rt.ledger.leads.assign_lead(META, lead, assigned_at=datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    return lead


def test_schedules_name_their_moments():
    every = Every(300)
    assert every.moment(datetime(2026, 3, 10, 10, 7, 31, tzinfo=UTC)) == datetime(2026, 3, 10, 10, 5, tzinfo=UTC)
    assert every.following(datetime(2026, 3, 10, 10, 5, tzinfo=UTC)) == datetime(2026, 3, 10, 10, 10, tzinfo=UTC)
    daily = Daily(clock_time(1, 0), "Asia/Shanghai")  # 01:00 in Shanghai is 17:00 UTC the day before
    assert daily.moment(datetime(2026, 3, 9, 16, 59, tzinfo=UTC)) == date(2026, 3, 9)  # 00:59 on the 10th
    assert daily.moment(datetime(2026, 3, 9, 17, 0, tzinfo=UTC)) == date(2026, 3, 10)
    assert daily.following(date(2026, 3, 10)) == datetime(2026, 3, 10, 17, 0, tzinfo=UTC)  # 01:00 on the 11th


def test_the_timetable_comes_from_the_settings():
    timetable = Settings(sla_check_every=600, dormancy_check_at="02:30", revisit_check_at="off").timetable()
    assert timetable == Timetable(sla_check_every=600, dormancy_check_at=clock_time(2, 30), timezone="Asia/Shanghai")
    assert Settings(sla_check_every=0, dormancy_check_at="0").timetable().sla_check_every is None
    with pytest.raises(ValueError, match="not a time of day"):
        Settings(dormancy_check_at="25:00")


def test_the_sla_check_runs_by_itself_and_writes_its_events_once_per_moment(runtime):
    lead = assigned_lead(runtime)
    clock = Clock(datetime(2026, 11, 2, 3, 20, tzinfo=UTC))
    jobs = checks(runtime.ledger, Timetable(sla_check_every=3600), written=runtime.written)
    scheduler = Scheduler(runtime.db, jobs, now=clock, poll_seconds=0.02).start()
    try:
        assert wait_until(
            lambda: (state(runtime.db, "sla-check") or {}).get("last_moment") == "2026-11-02T03:00:00+00:00"
        )
        first = state(runtime.db, "sla-check")
        assert first["last_result"] == {"as_of": "2026-11-02T03:00:00+00:00", "checked": 1, "breaches": 0}
        assert first["next_run_at"] == "2026-11-02T04:00:00+00:00" and first["failures"] == 0

        clock.at = datetime(2026, 11, 2, 6, 10, tzinfo=UTC)  # the first response was due at 05:00
        scheduler.poke()
        assert wait_until(lambda: state(runtime.db, "sla-check")["last_moment"] == "2026-11-02T06:00:00+00:00")
        assert state(runtime.db, "sla-check")["last_result"]["breaches"] == 1
        written = events_of(runtime, "sla-check-2026-11-02T06:00:00+00:00")
        assert "LeadSlaBreached" in [r.type for r in written] and {r.aggregate_id for r in written} >= {lead}
        assert all(r.event.meta["actor"] == "sla-check" for r in written)
    finally:
        scheduler.stop()

    # the same moment again (a restart, a standby that took over): nothing runs, nothing is written
    again = Scheduler(runtime.db, jobs, now=clock)
    again.prepare()
    assert again.tick() == []
    assert len(events_of(runtime, "sla-check-2026-11-02T06:00:00+00:00")) == len(written)
    # the check itself is idempotent too: the same moment run on demand records no breach again
    assert runtime.ledger.leads.check_sla(CheckSla(as_of=clock.at), META).breaches == []


def test_the_daily_checks_run_once_a_day(runtime):
    clock = Clock(datetime(2026, 3, 9, 16, 0, tzinfo=UTC))  # 00:00 on the 10th in Shanghai, before 01:00
    jobs = checks(runtime.ledger, Timetable(dormancy_check_at=clock_time(1, 0), revisit_check_at=clock_time(1, 0)))
    scheduler = Scheduler(runtime.db, jobs, now=clock)
    scheduler.prepare()
    ran = scheduler.tick()  # the day before has not been checked yet
    assert [(r["job"], r["moment"]) for r in ran] == [("dormancy-check", "2026-03-09"), ("revisit-check", "2026-03-09")]
    assert ran[0]["result"]["as_of"] == "2026-03-09"
    assert scheduler.tick() == []
    clock.at = datetime(2026, 3, 9, 17, 0, tzinfo=UTC)  # 01:00 on the 10th in Shanghai
    assert [r["moment"] for r in scheduler.tick()] == ["2026-03-10", "2026-03-10"]
    assert state(runtime.db, "dormancy-check")["next_run_at"] == "2026-03-10T17:00:00+00:00"
    assert state(runtime.db, "sla-check") is None


def test_a_failing_check_is_logged_kept_and_retried(runtime, caplog):
    clock = Clock(datetime(2026, 3, 10, 10, 0, 30, tzinfo=UTC))
    calls = []

    def flaky(meta, as_of):
        calls.append(meta.correlation_id)
        if len(calls) < 3:
            raise RuntimeError(f"failure {len(calls)}")
        return {"checked": 7}

    scheduler = Scheduler(runtime.db, [Job("sla-check", Every(60), flaky)], now=clock)
    scheduler.prepare()
    assert scheduler.tick() == [
        {"job": "sla-check", "moment": "2026-03-10T10:00:00+00:00", "error": "RuntimeError('failure 1')"}
    ]
    failed = state(runtime.db, "sla-check")
    assert (failed["last_moment"], failed["failures"], failed["last_error"]) == (None, 1, "RuntimeError('failure 1')")
    assert failed["next_run_at"] == "2026-03-10T10:00:35+00:00"  # 5 s later
    assert "failure 1" in caplog.text
    assert scheduler.tick() == []  # not before its retry
    clock.at = datetime(2026, 3, 10, 10, 0, 36, tzinfo=UTC)
    assert scheduler.tick()[0]["error"] == "RuntimeError('failure 2')"
    assert state(runtime.db, "sla-check")["next_run_at"] == "2026-03-10T10:00:46+00:00"  # then 10 s
    clock.at = datetime(2026, 3, 10, 10, 1, 5, tzinfo=UTC)  # a new moment is tried at once
    assert scheduler.tick() == [{"job": "sla-check", "moment": "2026-03-10T10:01:00+00:00", "result": {"checked": 7}}]
    done = state(runtime.db, "sla-check")
    assert (done["last_moment"], done["failures"], done["last_error"]) == (
        "2026-03-10T10:01:00+00:00",
        0,
        "RuntimeError('failure 2')",
    )
    assert calls == ["sla-check-2026-03-10T10:00:00+00:00"] * 2 + ["sla-check-2026-03-10T10:01:00+00:00"]


def test_a_check_that_keeps_failing_does_not_stop_the_scheduler(runtime):
    clock = Clock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    seen = []

    def broken(meta, as_of):
        seen.append(as_of)
        raise ValueError("no")

    def fine(meta, as_of):
        seen.append(("fine", as_of))
        return {}

    scheduler = Scheduler(
        runtime.db, [Job("a", Every(60), broken), Job("b", Every(60), fine)], now=clock, poll_seconds=0.02
    ).start()
    try:
        assert wait_until(lambda: ("fine", datetime(2026, 3, 10, 10, 0, tzinfo=UTC)) in seen)
        clock.at = datetime(2026, 3, 10, 10, 1, tzinfo=UTC)
        assert wait_until(lambda: seen.count(datetime(2026, 3, 10, 10, 1, tzinfo=UTC)) == 1)
        assert wait_until(lambda: ("fine", datetime(2026, 3, 10, 10, 1, tzinfo=UTC)) in seen)
        assert scheduler.active and scheduler._thread.is_alive()
        assert state(runtime.db, "a")["failures"] == 2
    finally:
        scheduler.stop()


def test_of_two_schedulers_only_one_runs_the_checks(database_url):
    """Two processes' schedulers (each its own connections and lock session) on one database."""
    clock = Clock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    guard = threading.Lock()
    running, overlaps, runs = [], [], []

    def check(name):
        def run(meta, as_of):
            with guard:
                running.append(name)
                if len(running) > 1:
                    overlaps.append(list(running))
            time.sleep(0.05)  # long enough for another runner to be caught at it
            with guard:
                running.remove(name)
                runs.append((name, as_of))
            return {}

        return run

    runtimes = [Runtime(database_url).start(), Runtime(database_url).start()]
    schedulers = [
        Scheduler(rt.db, [Job("sla-check", Every(60), check(f"s{i}"))], now=clock, poll_seconds=0.01, runner=f"s{i}")
        for i, rt in enumerate(runtimes)
    ]
    try:
        for s in schedulers:
            s.start()
        assert wait_until(lambda: any(s.active for s in schedulers))
        assert wait_until(lambda: len(runs) == 1)
        for minute in range(1, 6):
            clock.at = datetime(2026, 3, 10, 10, minute, tzinfo=UTC)
            for s in schedulers:
                s.poke()
            assert wait_until(lambda minute=minute: len(runs) == minute + 1)
        active = [s for s in schedulers if s.active]
        assert len(active) == 1 and overlaps == []
        assert [as_of.minute for _, as_of in runs] == [0, 1, 2, 3, 4, 5]  # each moment once
        assert {name for name, _ in runs} == {active[0].runner}

        active[0].stop()  # the active one goes: the other takes over, and does not repeat a moment
        standby = next(s for s in schedulers if s is not active[0])
        assert wait_until(lambda: standby.active)
        clock.at = datetime(2026, 3, 10, 10, 6, tzinfo=UTC)
        standby.poke()
        assert wait_until(lambda: len(runs) == 7)
        assert runs[-1] == (standby.runner, datetime(2026, 3, 10, 10, 6, tzinfo=UTC)) and overlaps == []
        assert wait_until(lambda: state(runtimes[0].db, "sla-check")["runner"] == standby.runner)
        assert state(runtimes[0].db, "sla-check")["last_moment"] == "2026-03-10T10:06:00+00:00"
    finally:
        for s in schedulers:
            s.stop()
        for rt in runtimes:
            rt.close()


def test_the_scheduled_checks_state_over_http(client):
    assert client.get("/leads/scheduled-checks").json() == {"items": []}
    rt = client.app.state.runtime
    clock = Clock(datetime(2026, 3, 10, 10, 0, tzinfo=UTC))
    scheduler = Scheduler(rt.db, checks(rt.ledger, Timetable(sla_check_every=300, revisit_check_at=None)), now=clock)
    scheduler.prepare()
    scheduler.tick()
    [item] = client.get("/leads/scheduled-checks").json()["items"]
    assert item["job"] == "sla-check" and item["schedule"] == "every 300 s"
    assert item["last_moment"] == "2026-03-10T10:00:00+00:00" and item["next_run_at"] == "2026-03-10T10:05:00+00:00"
    assert item["last_result"]["checked"] == 0 and item["last_error"] is None and item["failures"] == 0


def test_salesledger_project_runs_the_checks_by_itself_in_one_process(database_url):
    """Two `salesledger project` processes: the checks run by themselves, all in one of them."""
    import os
    import signal
    import subprocess
    import sys

    from infrastructure.database import Database

    env = {**os.environ, "DATABASE_URL": database_url, "SALESLEDGER_SLA_CHECK_EVERY": "1"}

    def project() -> subprocess.Popen:
        command = [sys.executable, "-m", "api.cli", "project"]
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    db = Database(database_url)
    seen: dict[str, set] = {"moments": set(), "runners": set()}
    processes = [project()]
    # the second starts once the first made the schema (two start-ups on an empty PostgreSQL
    # database can collide in CREATE TABLE IF NOT EXISTS)
    assert wait_until(lambda: bool(seen["runners"] or _has_rows(db)), timeout=60)
    processes.append(project())

    def checked() -> bool:
        try:
            rows = {row["job"]: row for row in status(db)}
        except Exception:  # the table is not there yet
            return False
        seen["runners"] |= {row["runner"] for row in rows.values() if row["runner"]}
        if "sla-check" in rows and rows["sla-check"]["last_moment"]:
            seen["moments"].add(rows["sla-check"]["last_moment"])
        return len(rows) == 3 and all(r["last_moment"] for r in rows.values()) and len(seen["moments"]) >= 3

    try:
        assert wait_until(checked, timeout=60), seen
        [runner] = seen["runners"]  # one process ran every check
        assert int(runner.split(":")[1]) in {p.pid for p in processes}
    finally:
        for p in processes:
            p.send_signal(signal.SIGINT)
        outputs = [p.communicate(timeout=30) for p in processes]
        db.close()
    assert [p.returncode for p in processes] == [0, 0], [err.decode()[-2000:] for _, err in outputs]
    assert all(b"scheduled checks: sla-check every 1 s" in out for out, _ in outputs)


def _has_rows(db) -> bool:
    try:
        return bool(status(db))
    except Exception:  # the table is not there yet
        return False


def test_one_api_process_with_its_projectors_runs_the_checks_too(make_client):
    """`salesledger serve` (one process, projectors inside) runs the scheduled checks by itself;
    an API without projectors, or a test's app, does not."""
    quiet = make_client()
    assert quiet.app.state.runtime.scheduler is None
    client = make_client(run_scheduled_checks=True, sla_check_every=1)

    def ran() -> bool:
        items = client.get("/leads/scheduled-checks").json()["items"]
        return any(i["job"] == "sla-check" and i["last_moment"] for i in items)

    assert wait_until(ran, timeout=30)
    assert make_client(run_projectors=False, run_scheduled_checks=True).app.state.runtime.scheduler is None
