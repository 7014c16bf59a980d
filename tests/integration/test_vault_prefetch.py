"""Reading many events fetches their subjects' keys together, before decoding: what each event
reads back is the same, and a forgotten subject's data still reads as erased."""

import time

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
