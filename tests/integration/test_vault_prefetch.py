"""Reading many events fetches their subjects' keys together, before decoding: what each event
reads back is the same, and a forgotten subject's data still reads as erased."""

import time
from types import SimpleNamespace

import infrastructure.eventsource as eventsource
import infrastructure.vault as vault_module
from domain.lead import Lead
from domain.personal import Personal
from infrastructure.vault import CACHE_SECONDS
from tests.helpers import META


def capture(rt, n):
    return [
        rt.ledger.leads.capture_lead(
            META,
            company=f"苏州精工{i}有限公司",
            source="trade_show",
            region="华东",
            industry="manufacturing",
            phone=f"1380000{i:04d}",
            email=f"buyer{i}@example.cn",
        ).id
        for i in range(n)
    ]


def phones(records):
    return {r.aggregate_id: r.event.contact["phone"] for r in records if r.type == "LeadCaptured"}


def test_a_batch_reads_its_keys_together_and_decodes_as_one_by_one(runtime):
    start = runtime.source.head()
    ids = capture(runtime, 12)
    runtime.ledger.privacy.forget(META, Lead, ids[3], reason="asked to be forgotten")
    time.sleep(CACHE_SECONDS + 0.1)  # every cached key has expired
    vault = runtime.vault
    vault._cache.clear()
    transactions = []
    real = vault.db.statements  # how the vault reads keys, on either backend
    vault.db.statements = lambda **kw: transactions.append(kw) or real(**kw)
    try:
        together = phones(runtime.source.read(start, 1000))
    finally:
        vault.db.statements = real
    assert len(transactions) == 1  # one query for the batch's keys, not one per subject
    assert set(together) == set(ids)
    assert all(vault._cache.get(subject) for subject in ids)  # each key was fetched with the batch
    one_by_one = {}
    for position in range(start, runtime.source.head()):
        for record in runtime.source.read(position, 1):  # a batch of one does not prefetch
            one_by_one.update(phones([record]))
    assert together == one_by_one
    assert together[ids[3]] == Personal(ids[3], None)  # forgotten: erased, as it reads one by one
    assert together[ids[0]].text == "13800000000"


def test_a_long_batch_fetches_its_keys_part_by_part(runtime, monkeypatch):
    """A cached key is trusted for CACHE_SECONDS: a batch that takes longer than that to decode
    (a replay's 20,000 events on a slow day) fetches its keys part by part, just before each part
    is decoded, instead of once for the batch and then one by one as they expire."""
    start = runtime.source.head()
    ids = capture(runtime, 24)
    vault = runtime.vault
    vault._cache.clear()
    now = [1000.0]

    def slow_clock() -> float:  # each look at the clock is 50 ms later
        now[0] += 0.05
        return now[0]

    monkeypatch.setattr(vault_module, "time", SimpleNamespace(monotonic=slow_clock))
    monkeypatch.setattr(eventsource, "PREFETCH_EVENTS", 4, raising=False)
    transactions = []
    real = vault.db.statements  # how the vault reads keys, together or one by one
    vault.db.statements = lambda **kw: transactions.append(kw) or real(**kw)
    try:
        read = phones(runtime.source.read(start, 1000))
    finally:
        vault.db.statements = real
    assert len(transactions) == 6  # one per part of four events, none for a key that expired
    assert [read[i].text for i in ids] == [f"1380000{i:04d}" for i in range(24)]
