"""The projection engine on a real store: exactly-once batches, crash recovery, rebuilds
beside live tables, failures that stop only their own projection."""

import threading
import time
from datetime import date

import pytest

from projections.engine import tracking
from projections.engine.runner import ProjectionEngine, catch_up, prepare, process, rebuild, status, wait_for
from projections.org import ORG
from projections.pipeline import PIPELINE, PipelineProjection, pipeline_board
from tests.helpers import META, seed_deal, table_rows


def active(runtime):
    with runtime.db.read() as tx:
        reg = tracking.registration(tx, PIPELINE.name)
        return reg.active_generation, tracking.position(tx, PIPELINE.name, reg.active_generation)


def board(runtime, **filters):
    with runtime.db.read() as tx:
        return pipeline_board(tx, as_of=date(2026, 12, 31), **filters)


def test_the_same_batch_twice_changes_nothing(runtime):
    seed_deal(runtime.ledger)
    generation, start = active(runtime)
    new, applied = process(runtime.db, runtime.source, PIPELINE, generation, start)
    assert applied == 1 and new == runtime.source.head()  # the deal opened (hires are not the pipeline's)
    before = table_rows(runtime.db, PIPELINE.table_names(generation))
    with pytest.raises(tracking.PositionConflict):
        process(runtime.db, runtime.source, PIPELINE, generation, start)
    assert table_rows(runtime.db, PIPELINE.table_names(generation)) == before
    assert active(runtime) == (generation, new)


def test_out_of_order_position_is_refused(runtime):
    seed_deal(runtime.ledger)
    generation, _ = active(runtime)
    with runtime.db.transaction() as tx:
        tracking.advance(tx, PIPELINE.name, generation, 0, 3)
    for expected, new in [(3, 3), (3, 2), (0, 4)]:
        with pytest.raises(tracking.PositionConflict), runtime.db.transaction() as tx:
            tracking.advance(tx, PIPELINE.name, generation, expected, new)
    assert active(runtime) == (generation, 3)


class CrashingPipeline(PipelineProjection):
    """Writes its rows, then dies before the commit (a process crash mid-batch)."""

    def commit(self, tx, tables, state):
        super().commit(tx, tables, state)
        raise RuntimeError("power cut")


def test_crash_mid_batch_then_restart_equals_a_clean_rebuild(runtime):
    ledger = runtime.ledger
    for i in range(6):
        ids = seed_deal(ledger, amount=f"{1000 * (i + 1)}.00")
        ledger.deals.change_deal_stage(META, ids["deal"], "proposal")
        if i % 2:
            ledger.deals.win_deal(META, ids["deal"], amount="900.00", gross_margin="100.00", signed_on=date(2026, 3, 1))
    generation, start = active(runtime)
    process(runtime.db, runtime.source, PIPELINE, generation, start, limit=7)  # a first committed batch
    _, after_first = active(runtime)
    committed = table_rows(runtime.db, PIPELINE.table_names(generation))
    with pytest.raises(RuntimeError):
        process(runtime.db, runtime.source, CrashingPipeline(), generation, after_first, limit=7)
    assert active(runtime) == (generation, after_first)
    assert table_rows(runtime.db, PIPELINE.table_names(generation)) == committed  # nothing half-written

    position = after_first
    while True:  # restart: carry on from the tracked position
        position, applied = process(runtime.db, runtime.source, PIPELINE, generation, position, limit=7)
        if applied == 0:
            break
    resumed = table_rows(runtime.db, PIPELINE.table_names(generation))
    rebuild(runtime.db, runtime.source, PIPELINE)
    rebuilt_generation, _ = active(runtime)
    assert rebuilt_generation != generation
    assert table_rows(runtime.db, PIPELINE.table_names(rebuilt_generation)) == resumed


class BrokenOnWin(PipelineProjection):
    name = "broken"

    def deal_won(self, state, record):
        raise ValueError("cannot handle wins")


def test_a_failing_handler_stops_only_its_own_projection(runtime):
    broken = BrokenOnWin()
    engine = ProjectionEngine(runtime.db, runtime.source, [PIPELINE, broken], poll_seconds=0.02)
    engine.start()
    try:
        ids = seed_deal(runtime.ledger)
        won = runtime.ledger.deals.win_deal(
            META, ids["deal"], amount="500.00", gross_margin="50.00", signed_on=date(2026, 4, 1)
        )
        seed_deal(runtime.ledger)
        engine.poke()
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head())[0]
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            rows = {r["name"]: r for r in status(runtime.db, runtime.source, [PIPELINE, broken])}
            if rows["broken"]["state"] == "failed":
                break
            time.sleep(0.02)
    finally:
        engine.stop()
    assert rows["pipeline"]["state"] == "live" and rows["pipeline"]["lag"] == 0
    error = rows["broken"]["last_error"]
    assert rows["broken"]["state"] == "failed"
    won_at = next(r.position for r in runtime.source.read(0, 100) if r.type == "DealWon")
    assert won_at <= won.position  # the win also activated the customer, in the same write
    assert (error["position"], error["event_type"]) == (won_at, "DealWon")
    assert "cannot handle wins" in error["traceback"]
    assert rows["broken"]["position"] < won_at  # its batch rolled back


def test_rebuild_while_serving_keeps_answering_and_switches_when_caught_up(runtime):
    ledger = runtime.ledger
    for _ in range(20):
        seed_deal(ledger)
    engine = ProjectionEngine(runtime.db, runtime.source, [PIPELINE], poll_seconds=0.02, batch_size=50)
    engine.start()
    stop = threading.Event()
    observed: list[tuple[str, int]] = []

    def keep_writing():
        while not stop.is_set():
            ids = seed_deal(ledger)
            ledger.deals.change_deal_stage(META, ids["deal"], "negotiation")
            engine.poke()

    def watch(progress):
        rows = status(runtime.db, runtime.source, [PIPELINE])
        observed.append((rows[0]["state"], board(runtime)["open"]["count"]))

    writer = threading.Thread(target=keep_writing)
    try:
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head())[0]
        writer.start()
        old_generation, _ = active(runtime)
        rebuild(runtime.db, runtime.source, PIPELINE, progress=watch, limit=25)
        stop.set()
        writer.join()
        engine.poke()
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head())[0]
    finally:
        stop.set()
        engine.stop()
    new_generation, _ = active(runtime)
    assert new_generation != old_generation
    assert any(state == "rebuilding" for state, _ in observed)
    assert all(count >= 20 for _, count in observed)  # the old tables kept answering
    deals = sum(1 for r in runtime.source.read(0, 10**6) if r.type == "DealOpened")
    assert board(runtime)["open"]["count"] == deals
    live = table_rows(runtime.db, PIPELINE.table_names(new_generation))
    rebuild(runtime.db, runtime.source, PIPELINE)
    rebuilt = table_rows(runtime.db, PIPELINE.table_names(active(runtime)[0]))
    # rollup_state is bookkeeping: a rebuild in big batches leaves its rows, small batches none;
    # either way nothing waits to be summed
    assert all(stale == 0 for _, stale in live.pop("rollup_state") + rebuilt.pop("rollup_state"))
    assert rebuilt == live
    with runtime.db.read() as tx:  # the old generation's tables are gone
        assert tracking.position(tx, PIPELINE.name, old_generation) is None


def test_pipeline_amounts_weights_and_filters(runtime):
    ledger = runtime.ledger
    east = seed_deal(ledger, amount="100000.00", team="华东一组", region="华东", product_line="ERP")
    south = seed_deal(ledger, amount="33333.33", team="华南一组", region="华南", product_line="BI")
    ledger.deals.change_deal_stage(META, south["deal"], "proposal")
    lost = seed_deal(ledger, amount="5000.00")
    ledger.deals.lose_deal(META, lost["deal"], reason="price")
    won = seed_deal(ledger, amount="80000.00")
    ledger.deals.win_deal(META, won["deal"], amount="78000.00", gross_margin="20000.00", signed_on=date(2026, 5, 5))
    ledger.deals.refund_deal(
        META, won["deal"], amount="8000.00", refunded_on=date(2026, 6, 1), reason="退货", kind="cancellation"
    )
    generation, start = active(runtime)
    process(runtime.db, runtime.source, PIPELINE, generation, start)
    catch_up(runtime.db, runtime.source, ORG)  # team and region come from the org timeline

    everything = board(runtime)
    stages = {s["stage"]: s for s in everything["stages"]}
    assert [s["stage"] for s in everything["stages"]] == [
        "initial_contact",
        "needs_analysis",
        "proposal",
        "negotiation",
    ]
    assert (stages["initial_contact"]["count"], str(stages["initial_contact"]["amount"])) == (1, "100000.00")
    assert str(stages["initial_contact"]["weighted_amount"]) == "10000.00"
    assert str(stages["proposal"]["weighted_amount"]) == "16666.67"  # 33333.33 x 0.50, half up
    assert everything["won"]["count"] == 1 and str(everything["won"]["amount"]) == "78000.00"
    assert str(everything["won"]["net_amount"]) == "70000.00"
    assert everything["lost"] == {"count": 1, "amount": everything["lost"]["amount"]}
    assert str(everything["lost"]["amount"]) == "5000.00"

    south_only = board(runtime, region="华南")
    assert [s["count"] for s in south_only["stages"]] == [0, 0, 1, 0]
    assert board(runtime, team="华东一组", product_line="ERP")["open"]["count"] == 1
    assert board(runtime, owner_id=east["rep"])["open"]["count"] == 1
    assert board(runtime, product_line="nothing")["open"]["count"] == 0


def test_prepare_is_idempotent_and_a_new_version_starts_beside_the_old(runtime):
    prepare(runtime.db, [PIPELINE])
    prepare(runtime.db, [PIPELINE])
    seed_deal(runtime.ledger)
    generation, start = active(runtime)
    process(runtime.db, runtime.source, PIPELINE, generation, start)

    class PipelineV2(PipelineProjection):
        version = PIPELINE.version + 1

    v2 = PipelineV2()
    prepare(runtime.db, [v2])
    with runtime.db.read() as tx:
        reg = tracking.registration(tx, "pipeline")
        assert (reg.version, reg.state) == (PIPELINE.version + 1, "catching_up")
        assert tracking.position(tx, "pipeline", reg.active_generation) == 0
    assert v2.table_names(reg.active_generation)["deals"].startswith(f"pipeline_v{PIPELINE.version + 1}_")


def wait_until(predicate, timeout=8.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_one_active_runner_per_projection_and_a_standby_takes_over(runtime):
    first = ProjectionEngine(runtime.db, runtime.source, [PIPELINE], poll_seconds=0.02)
    second = ProjectionEngine(runtime.db, runtime.source, [PIPELINE], poll_seconds=0.02)
    first.start()
    try:
        assert wait_until(lambda: first.running == {"pipeline"})
        second.start()
        seed_deal(runtime.ledger)
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head())[0]
        assert second.running == set()
        first.stop()
        assert wait_until(lambda: second.running == {"pipeline"})
        seed_deal(runtime.ledger)
        second.poke()
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head())[0]
        assert board(runtime)["open"]["count"] == 2
    finally:
        first.stop()
        second.stop()


def test_projectors_in_another_process_notice_new_events_without_a_poke(runtime, database_url):
    """PostgreSQL wakes runners by LISTEN/NOTIFY; SQLite polls (here every 50 ms)."""
    from infrastructure.runtime import Runtime

    poll = 30.0 if runtime.db.kind == "postgres" else 0.05
    engine = ProjectionEngine(runtime.db, runtime.source, [PIPELINE], poll_seconds=poll)
    engine.start()
    writer = Runtime(database_url)
    try:
        assert wait_until(lambda: engine.running == {"pipeline"})
        time.sleep(0.2)  # let the runner settle into its wait
        seed_deal(writer.ledger)
        started = time.monotonic()
        reached, _ = wait_for(runtime.db, PIPELINE.name, writer.source.head(), timeout=5)
        assert reached and time.monotonic() - started < 5
    finally:
        writer.close()
        engine.stop()


def test_one_rebuild_at_a_time_and_a_crashed_rebuild_is_cleaned_up(runtime):
    from projections.engine.runner import Busy, exclusive

    seed_deal(runtime.ledger)
    with exclusive(runtime.db, "rebuild.pipeline") as got:
        assert got
        with pytest.raises(Busy):
            rebuild(runtime.db, runtime.source, PIPELINE)
    with runtime.db.transaction() as tx:  # what a rebuild killed mid-way leaves behind
        tracking.create_generation(tx, PIPELINE, 7)
        tx.execute("UPDATE projection_registry SET rebuilding_generation = 7 WHERE name = 'pipeline'")
    assert status(runtime.db, runtime.source, [PIPELINE])[0]["state"] == "rebuilding"
    rebuild(runtime.db, runtime.source, PIPELINE)
    with runtime.db.read() as tx:
        assert tracking.position(tx, "pipeline", 7) is None
        assert tracking.registration(tx, "pipeline").rebuilding_generation is None
    assert status(runtime.db, runtime.source, [PIPELINE])[0]["state"] == "live"
    assert board(runtime)["open"]["count"] == 1


class PickyLeads(PipelineProjection):
    """Parks what it cannot handle instead of stopping."""

    name = "picky"
    on_error = "park"
    broken = True

    def deal_won(self, state, record):
        if PickyLeads.broken:
            raise ValueError("wins are not understood yet")
        super().deal_won(state, record)


def test_a_parking_projection_sets_bad_events_aside_and_retries_them(runtime):
    from projections.engine.runner import retry_parked
    from projections.engine.tracking import dead_letters

    picky = PickyLeads()
    PickyLeads.broken = True
    engine = ProjectionEngine(runtime.db, runtime.source, [picky], poll_seconds=0.02)
    engine.start()
    try:
        ids = seed_deal(runtime.ledger)
        runtime.ledger.deals.win_deal(
            META, ids["deal"], amount="500.00", gross_margin="50.00", signed_on=date(2026, 4, 1)
        )
        seed_deal(runtime.ledger)
        engine.poke()
        assert wait_for(runtime.db, "picky", runtime.source.head())[0]  # carried on past the bad event
    finally:
        engine.stop()
    with runtime.db.read() as tx:
        [letter] = dead_letters(tx, "picky")
        tables = tracking.active_tables(tx, picky)
        assert tx.value(f"SELECT COUNT(*) FROM {tables['deals']}") == 2
        assert tx.value(f"SELECT status FROM {tables['deals']} WHERE deal_id = ?", (ids["deal"],)) == "open"
    assert (letter["event_type"], letter["status"]) == ("DealWon", "parked")
    assert "wins are not understood yet" in letter["error_traceback"]
    [row] = status(runtime.db, runtime.source, [picky])
    assert (row["state"], row["parked"]) == ("live", 1)
    assert retry_parked(runtime.db, runtime.source, picky)["still_failing"] == [letter["position"]]
    PickyLeads.broken = False  # the fix is deployed
    assert retry_parked(runtime.db, runtime.source, picky)["resolved"] == [letter["position"]]
    with runtime.db.read() as tx:
        assert tx.value(f"SELECT status FROM {tables['deals']} WHERE deal_id = ?", (ids["deal"],)) == "won"
        assert dead_letters(tx, "picky")[0]["status"] == "retried"


def test_backfill_resumes_after_an_interruption(runtime):
    from projections.engine.runner import backfill

    for _ in range(8):
        seed_deal(runtime.ledger)
    head = runtime.source.head()

    class Interrupted(Exception):
        pass

    def interrupt(progress):
        if progress.position >= 10:
            raise Interrupted

    class Fresh(PipelineProjection):
        name = "fresh"

    fresh = Fresh()
    with pytest.raises(Interrupted):
        backfill(runtime.db, runtime.source, fresh, progress=interrupt, limit=5)
    with runtime.db.read() as tx:
        stopped_at = tracking.active_position(tx, "fresh")
    assert 10 <= stopped_at < head
    done = backfill(runtime.db, runtime.source, fresh, limit=5)
    assert (done.start, done.position) == (stopped_at, head)
    with runtime.db.read() as tx:
        tables = tracking.active_tables(tx, fresh)
    resumed = table_rows(runtime.db, tables)
    rebuild(runtime.db, runtime.source, fresh, keep=True)
    with runtime.db.read() as tx:
        rebuilt = tracking.active_tables(tx, fresh)
    assert rebuilt != fresh.table_names(1) and table_rows(runtime.db, rebuilt) == resumed
    assert table_rows(runtime.db, fresh.table_names(1)) == resumed  # --keep left the old tables in place


def test_windows_without_its_events_are_passed_in_memory_and_written_at_a_pause(runtime):
    """A live runner does not write its position for every window that holds none of its events
    (under a stream of other commands that is most of its transactions): it passes them in
    memory and writes the position with its next batch, after PASS_SECONDS, or once the store
    has been quiet for a poll interval. Meanwhile read-your-writes waits and the commands'
    `behind` checks know that nothing of its topics lies in between."""
    ledger = runtime.ledger
    engine = ProjectionEngine(runtime.db, runtime.source, [ORG], poll_seconds=3.0)
    engine.start()
    try:
        ledger.org.hire_rep(META, name="王一", level="junior", team="华东一组", region="华东")
        engine.poke()
        assert wait_for(runtime.db, ORG.name, runtime.source.head())[0]
        with runtime.db.read() as tx:
            written = tracking.active_position(tx, ORG.name)
        for n in range(3):  # events the org read model does not consume
            ledger.leads.capture_lead(META, company=f"公司{n}", source="trade_show", region="华东", industry="retail")
            engine.poke()
        head = runtime.source.head()
        topics = runtime.topics_of(ORG.name)
        assert wait_for(runtime.db, ORG.name, head, timeout=1, source=runtime.source, topics=topics)[0]
        with runtime.db.read() as tx:
            assert tracking.active_position(tx, ORG.name) == written < head  # not written yet
            assert not runtime.behind(tx, (ORG.name,))
        assert wait_for(runtime.db, ORG.name, head, timeout=0.5) == (False, written)  # by position alone
        rep = ledger.org.hire_rep(META, name="王二", level="junior", team="华东一组", region="华东").id
        engine.poke()  # its own event: the batch moves the row from where it was written
        assert wait_for(runtime.db, ORG.name, runtime.source.head(), timeout=5)[0]
        with runtime.db.read() as tx:
            members = tracking.active_tables(tx, ORG)["members"]
            assert tx.value(f"SELECT COUNT(*) FROM {members} WHERE rep_id = ?", (rep,)) == 1
        ledger.leads.capture_lead(META, company="公司9", source="trade_show", region="华东", industry="retail")
        engine.poke()
        assert wait_for(runtime.db, ORG.name, runtime.source.head(), timeout=8)[0]  # written at the pause
    finally:
        engine.stop()


class CountedWake(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def set(self) -> None:
        self.count += 1
        super().set()


def test_announced_events_wake_only_the_runners_whose_topics_they_hold(runtime):
    """The engine reads announced events once and wakes the runners they concern (and those that
    settle after every batch); the others see them at their next poll."""
    ledger = runtime.ledger
    engine = ProjectionEngine(runtime.db, runtime.source, [ORG, PIPELINE], poll_seconds=3.0)
    engine._wake = {name: CountedWake() for name in engine._wake}
    engine.start()
    try:
        time.sleep(0.3)  # the runners start and go live
        ledger.org.hire_rep(META, name="王一", level="junior", team="华东一组", region="华东")
        engine.poke()
        assert wait_for(runtime.db, ORG.name, runtime.source.head(), timeout=2)[0]  # woken: its poll is 3 s
        woken = {name: wake.count for name, wake in engine._wake.items()}
        for n in range(3):  # events neither consumes
            ledger.leads.capture_lead(META, company=f"公司{n}", source="trade_show", region="华东", industry="retail")
            engine.poke()
        time.sleep(0.5)
        assert engine._wake[ORG.name].count == woken[ORG.name]
        seed_deal(ledger)  # the pipeline's: it is woken, the org too (the hire seed_deal makes)
        engine.poke()
        assert wait_for(runtime.db, PIPELINE.name, runtime.source.head(), timeout=2)[0]
        assert engine._wake[PIPELINE.name].count > woken[PIPELINE.name]
    finally:
        engine.stop()
