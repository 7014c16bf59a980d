"""Group commit on the real stores: commands that write at the same moment share one transaction,
and each keeps its own outcome — its own store positions, its own refusal."""

import threading
import time
import uuid

import pytest
from eventsourcing.persistence import OperationalError

from domain.base import Meta
from domain.errors import VersionConflict
from domain.partner import Partner
from infrastructure.group_commit import GroupCommit


def partner(agg_id=None):
    return Partner.register(agg_id or uuid.uuid4(), name=f"渠道 {uuid.uuid4().hex[:6]}", kind="agent", region="华东")


def queued_together(runtime, writes):
    """Run each of `writes` (callables) in its own thread while the group's leader lock is held,
    so that all of them queue; then let one of them lead a batch of all. Answers each write's
    outcome (its value or its exception), in the order given."""
    group = runtime.store.recorder.group
    outcomes: list = [None] * len(writes)

    def run(i, work):
        try:
            outcomes[i] = work()
        except Exception as error:
            outcomes[i] = error

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writes)]
    with group._leader:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        while len(group._queue) < len(writes):
            assert time.monotonic() < deadline, "the writes did not queue"
            time.sleep(0.01)
    for t in threads:
        t.join(30)
    return outcomes


def test_concurrent_writes_share_one_transaction_and_keep_their_own_positions(runtime):
    group = runtime.store.recorder.group
    before_head, before_batches = runtime.source.head(), group.batches
    partners = [partner() for _ in range(12)]
    outcomes = queued_together(runtime, [lambda p=p: runtime.store.record(Meta(actor="test"), p) for p in partners])
    assert group.batches == before_batches + 1  # one transaction for all twelve
    assert sorted(outcomes) == list(range(before_head + 1, before_head + 13))
    stored = {r.position: r.aggregate_id for r in runtime.source.read(before_head, 50)}
    for p, position in zip(partners, outcomes, strict=True):
        assert stored[position] == str(p.id)  # the position each command was told is its event's
    assert runtime.source.head() == before_head + 12


def test_a_conflict_in_a_batch_refuses_only_its_own_command(runtime):
    existing = partner()
    runtime.store.record(Meta(actor="test"), existing)
    head = runtime.source.head()
    good = [partner() for _ in range(5)]
    stale = partner(existing.id)  # version 1 of an aggregate that has it already
    writes = [lambda p=p: runtime.store.record(Meta(actor="test"), p) for p in [*good[:2], stale, *good[2:]]]
    outcomes = queued_together(runtime, writes)
    assert isinstance(outcomes[2], VersionConflict)
    written = [o for i, o in enumerate(outcomes) if i != 2]
    assert all(isinstance(o, int) for o in written), outcomes
    after = runtime.source.read(head, 50)  # (PostgreSQL's ids have gaps where the batch rolled back)
    assert sorted(r.aggregate_id for r in after) == sorted(str(p.id) for p in good)
    assert sorted(written) == sorted(r.position for r in after)


def test_a_write_of_several_aggregates_stays_whole_inside_a_batch(runtime):
    head = runtime.source.head()
    pairs = [(partner(), partner()) for _ in range(4)]
    outcomes = queued_together(
        runtime, [lambda a=a, b=b: runtime.store.record(Meta(actor="test"), a, b) for a, b in pairs]
    )
    stored = {r.aggregate_id: r.position for r in runtime.source.read(head, 50)}
    for (a, b), position in zip(pairs, outcomes, strict=True):
        assert stored[str(b.id)] == position == stored[str(a.id)] + 1


class _Event:
    def __init__(self, size=10):
        self.state = b"x" * size


def test_an_error_that_may_follow_the_commit_reaches_every_write_and_is_never_retried():
    calls = []

    def insert(events, **kwargs):
        calls.append(len(events))
        if len(calls) == 1:  # the first (lone) write, while the others queue behind it
            time.sleep(0.3)
            return [1]
        raise OperationalError("server closed the connection unexpectedly")

    group = GroupCommit(insert)
    outcomes: list = [None] * 5

    def run(i):
        try:
            outcomes[i] = group.insert([_Event()])
        except Exception as error:
            outcomes[i] = error

    first = threading.Thread(target=run, args=(0,))
    first.start()
    time.sleep(0.1)
    others = [threading.Thread(target=run, args=(i,)) for i in range(1, 5)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join(10)
    assert outcomes[0] == [1]
    assert all(isinstance(o, OperationalError) for o in outcomes[1:])
    assert calls == [1, 4]  # the batch of four was tried once, never one by one


def test_large_writes_and_other_shapes_are_written_alone():
    seen = []
    group = GroupCommit(lambda events, **kwargs: seen.append(kwargs) or [1] * len(events), max_bytes=100)
    assert group.insert([_Event(200)]) == [1]
    assert group.insert([_Event()], forget=["subject"]) == [1]
    assert group.insert([_Event()], tracking=None, claims=[("c", {})]) == [1]
    assert seen == [{}, {"forget": ["subject"]}, {"tracking": None, "claims": [("c", {})]}]
    assert group.batches == 0


@pytest.mark.parametrize("size", [1, 3])
def test_a_lone_writer_writes_at_once(size):
    group = GroupCommit(lambda events, **kwargs: list(range(len(events))))
    assert group.insert([_Event() for _ in range(size)]) == list(range(size))
