"""The engine's shared tail on a real store: the newest events read once for every live
projection, complete for the range it covers, and never an event a projection would miss."""

import time
import uuid

from eventsourcing.utils import get_topic

from domain.base import Meta
from domain.partner import Partner
from domain.rep import Rep
from projections.engine.tail import Tail


def partners(runtime, n):
    for i in range(n):
        runtime.store.record(
            Meta(actor="test"), Partner.register(uuid.uuid4(), name=f"渠道 {i}", kind="agent", region="华东")
        )
    return runtime.source.head()


PARTNER_TOPICS = [get_topic(Partner.Registered)]


def test_the_tail_reads_forward_in_chunks_and_gives_each_window_its_events(runtime):
    start = runtime.source.head()
    head = partners(runtime, 25)
    tail = Tail(runtime.source, poll_seconds=60, keep=10)
    first = tail.window(start, 1000, PARTNER_TOPICS)
    assert first is not None
    seen_head, new, batch = first
    assert seen_head == head
    assert len(batch) == 10 and new == batch[-1].position  # one chunk of `keep` events
    assert [r.position for r in batch] == [r.position for r in runtime.source.read(start, 10)]
    at = new
    got = list(batch)
    while at < head:  # the rest comes chunk by chunk, without waiting for a poll
        window = tail.window(at, 1000, PARTNER_TOPICS)
        assert window is not None and window[1] > at
        got += window[2]
        at = window[1]
    assert [r.position for r in got] == [r.position for r in runtime.source.read(start, 100)]
    assert tail.window(start, 1000, PARTNER_TOPICS) is None  # trimmed: that projection reads the store


def test_a_window_is_bounded_by_its_limit_and_filtered_by_topic(runtime):
    start = runtime.source.head()
    head = partners(runtime, 6)
    tail = Tail(runtime.source, poll_seconds=60)
    positions = [r.position for r in runtime.source.read(start, 100)]
    window = tail.window(start, positions[2] - start, PARTNER_TOPICS)
    assert window is not None
    assert window[0] == head and window[1] == positions[2]
    assert [r.position for r in window[2]] == positions[:3]
    other = tail.window(start, 1000, [get_topic(Rep.Hired)])
    assert other is not None and other[1] == head and other[2] == []  # the position moves, no events


def test_new_events_are_read_when_announced_or_at_the_next_poll(runtime):
    start = partners(runtime, 2)
    tail = Tail(runtime.source, poll_seconds=60)
    assert tail.window(start, 1000, ())[1] == start
    head = partners(runtime, 3)
    assert tail.window(start, 1000, ())[1] == start  # not announced, poll far away: not read yet
    tail.poke()
    window = tail.window(start, 1000, ())
    assert window[1] == head and len(window[2]) == 3
    polled = Tail(runtime.source, poll_seconds=0)
    assert polled.window(head, 1000, ())[1] == head
    later = partners(runtime, 1)
    assert polled.window(head, 1000, ())[1] == later  # poll interval 0: every ask looks


def test_a_projection_moved_on_by_another_process_restarts_the_tail_where_it_is(runtime):
    start = partners(runtime, 3)
    tail = Tail(runtime.source, poll_seconds=60)
    tail.window(start, 1000, ())
    ahead = partners(runtime, 4)
    window = tail.window(ahead, 1000, ())  # this projection is past what the tail read
    assert window is not None and window[1] == ahead and window[2] == []
    assert tail.window(start, 1000, ()) is None  # the tail now starts later


def test_a_command_reads_on_to_the_head_its_own_transaction_saw(runtime):
    start = partners(runtime, 2)
    tail = Tail(runtime.source, poll_seconds=60)
    assert tail.window(start, 1000, ())[1] == start
    head = partners(runtime, 3)
    assert tail.window(start, 1000, ())[1] == start  # not announced: not read
    window = tail.window(start, 1000, (), until=head)  # a command that must see every stored event
    assert window[0] == head == window[1] and len(window[2]) == 3


def test_events_are_kept_no_longer_than_a_forgotten_key_may_be(runtime):
    start = partners(runtime, 1)
    tail = Tail(runtime.source, poll_seconds=60, max_age=0.2)
    head = partners(runtime, 3)
    assert len(tail.window(start, 1000, (), until=head)[2]) == 3
    time.sleep(0.3)
    assert tail.window(start, 1000, ()) is None  # expired: that reader goes to the store
    assert tail._records == []
