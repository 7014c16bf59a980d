"""A write of many megabytes in one transaction (a month's close of a big organisation: one event
per statement, each with every line and its explanation) completes on every backend. On
PostgreSQL the library's pipelined insert could stall for good at that size (the server waiting
for the rest of the message, the client for results); such writes leave pipeline mode."""

import threading
import uuid

import pytest

from domain.base import Meta
from domain.errors import VersionConflict
from domain.partner import Partner
from infrastructure.persistence import PIPELINE_BYTES


def partners(n):
    return [
        Partner.register(uuid.uuid4(), name="华东星辰分销渠道" * 20 + str(i), kind="agent", region="华东")
        for i in range(n)
    ]


def within(seconds, work):
    """Run `work` in a thread; a write that stalls fails the test instead of hanging it."""
    outcome = {}

    def run():
        try:
            outcome["value"] = work()
        except Exception as error:  # reported below
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"the write did not finish within {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_a_write_of_many_megabytes_completes_and_keeps_its_order(runtime):
    many = partners(20_000)  # ~10 MB of events, far above PIPELINE_BYTES
    before = runtime.source.head()
    position = within(120, lambda: runtime.store.record(Meta(actor="test"), *many))
    assert position == before + len(many) == runtime.source.head()
    stored = runtime.source.read(before, 50)
    assert [r.aggregate_id for r in stored] == [str(p.id) for p in many[:50]]
    assert PIPELINE_BYTES < 20_000 * 300


def test_a_large_write_that_conflicts_writes_nothing(runtime):
    first = partners(3_000)
    within(60, lambda: runtime.store.record(Meta(actor="test"), *first))
    head = runtime.source.head()
    stale = Partner.register(first[0].id, name="重复", kind="agent", region="华东")  # its version 1 again
    with pytest.raises(VersionConflict):
        within(60, lambda: runtime.store.record(Meta(actor="test"), *partners(3_000), stale))
    assert runtime.source.head() == head
