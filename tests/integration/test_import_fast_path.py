"""The import's fast path writes exactly what the commands write, on each backend.

New deals' events are built straight from their rows (application/imports.py `_deal_events`)
and encoded by the store's BulkEncoder; the slow path (`Imports.fast_path = False`) runs every
row through the Deal's commands and the mapper. For the same export both must write the same
events (class, aggregate, version and every field but the recording time), report the same
counts, and refuse bad files with the same `file:line: problem` list.
"""

from __future__ import annotations

import json
import logging
from datetime import date

import pytest

from domain.base import Meta
from infrastructure.runtime import Runtime
from tests.e2e.test_imports import DEALS_HEADER, export, table

TODAY = date(2026, 11, 30)
META = Meta(actor="import", correlation_id='req-"1"-导入')


def files_with_leads():
    files, _ = export(seed=5, deals=60)
    files["leads.csv"] = table(
        "external_id,company,source,region,industry,captured_at,phone,email,assignee_external_id,status",
        [
            [
                "L1",
                "线索一",
                "trade_show",
                "华东",
                "制造",
                "2025-03-01T09:30:00",
                "13800000000",
                "a@example.com",
                "R1",
                "",
            ],
            ["L2", "线索二", "online", "华东", "制造", "2025-03-02", "", "", "", "pool"],
            ["L3", "线索三", "online", "华东", "制造", "2025-03-03", "", "", "R2", "disqualified"],
        ],
    )
    return files


def empty_store(database_url, tmp_path, name):
    """A started runtime over an empty store: a new SQLite file, or PostgreSQL's schema emptied."""
    if database_url.startswith("sqlite"):
        return Runtime(f"sqlite:///{tmp_path / name}.db").start()
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")
    return Runtime(database_url).start()


def written(rt):
    """Every stored event: (aggregate, version) -> (topic, its state as stored less the recording
    time; for an event with encrypted personal data, its fields as read back instead)."""
    events = {}
    for n in rt.store.recorder.select_notifications(start=1, limit=10**6):
        if b'"ciphertext"' in n.state:  # encrypted with a fresh nonce each time
            state = {k: v for k, v in vars(rt.store.mapper.to_domain_event(n)).items() if k != "timestamp"}
        else:
            state = json.loads(n.state)
            state.pop("timestamp")
        events[(str(n.originator_id), n.originator_version)] = (n.topic, state)
    return events


def run(database_url, tmp_path, files, *, fast):
    rt = empty_store(database_url, tmp_path, "fast" if fast else "slow")
    try:
        rt.ledger.imports.fast_path = fast
        report = rt.ledger.imports.run(META, files, today=TODAY)
        return report.as_dict(), written(rt), rt.store.recorder.select_notifications(start=1, limit=10**6), rt
    finally:
        rt.close()


def test_the_fast_path_writes_what_the_commands_write(database_url, tmp_path, monkeypatch):
    import application.imports as imports

    files = files_with_leads()
    slow_report, slow, _, _ = run(database_url, tmp_path, files, fast=False)
    built, real = [], imports._deal_events
    monkeypatch.setattr(imports, "_deal_events", lambda plan: built.append(real(plan)) or built[-1])
    fast_report, fast, stored, rt = run(database_url, tmp_path, files, fast=True)
    assert len(built) == 60 and 30 < sum(b is not None for b in built) < 60  # deals with refunds: commands
    assert {topic for topic, _ in fast.values()} >= {
        "domain.deal:Deal.Opened",
        "domain.deal:Deal.StageChanged",
        "domain.deal:Deal.Won",
        "domain.deal:Deal.Lost",
        "domain.deal:Deal.PaymentReceived",
        "domain.deal:Deal.Refunded",
        "domain.lead:Lead.Captured",
    }
    assert fast == slow
    assert {k: v for k, v in fast_report.items() if k != "position"} == {
        k: v for k, v in slow_report.items() if k != "position"
    }
    # the BulkEncoder's bytes are the mapper's (personal data is encrypted with a fresh nonce each
    # time, so those events are compared above only)
    mapper = rt.store.mapper
    for n in stored:
        if b'"ciphertext"' not in n.state:
            assert mapper.to_stored_event(mapper.to_domain_event(n)).state == n.state, n.topic


BAD_DEALS = [
    # stage changes out of order, a stage repeated, a stage that does not exist
    ["B1", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-01-05", "proposal", "open", "", "", ""],
    # won before it opened, margin above the amount, an unknown status
    ["B2", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "", "won", "2025-02-01", "10.00", ""],
    ["B3", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "", "won", "2025-04-01", "2000.00", ""],
    ["B4", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "", "pending", "", "", ""],
    # lost before it opened; an overpaid deal; a payment on an open deal; a deals.csv stage it is already in
    ["B5", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "", "lost", "2025-01-01", "", "价格"],
    ["B6", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "", "won", "2025-04-01", "10.00", ""],
    ["B7", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "needs_analysis", "open", "", "", ""],
    ["B8", "C1", "R1", "b", "ERP", "1000.00", "CNY", "2025-03-05", "Proposal", "open", "", "", ""],
    # bad opening fields: a sub-cent amount, an unknown currency
    ["B9", "C1", "R1", "b", "ERP", "10.001", "CNY", "2025-03-05", "", "open", "", "", ""],
    ["B10", "C1", "R1", "b", "ERP", "10.00", "XYZ", "2025-03-05", "", "open", "", "", ""],
    # and a good one among them
    ["G1", "C1", "R1", "g", "ERP", "1000.00", "CNY", "2025-03-05", "proposal", "won", "2025-04-01", "100.00", ""],
]


def bad_files():
    return {
        "reps.csv": table("external_id,name,level,team,region", [["R1", "Amy", "mid", "T", "华东"]]),
        "customers.csv": table(
            "external_id,name,region,industry,owner_external_id", [["C1", "客户", "华东", "制造", "R1"]]
        ),
        "deals.csv": table(DEALS_HEADER, BAD_DEALS),
        "deal_stages.csv": table(
            "deal_external_id,stage,changed_on",
            [
                ["B1", "proposal", "2025-02-01"],
                ["B1", "needs_analysis", "2025-01-20"],
                ["B1", "needs_analysis", "2025-01-25"],
                ["B1", "dreaming", "2025-02-03"],
                ["B7", "needs_analysis", "2025-03-06"],
                ["B8", "proposal", "2025-03-06"],
                ["G1", "needs_analysis", "2025-03-06"],
            ],
        ),
        "payments.csv": table(
            "deal_external_id,amount,received_on",
            [["B6", "600.00", "2025-05-01"], ["B6", "600.00", "2025-05-02"], ["B7", "5.00", "2025-05-01"]],
        ),
    }


def test_the_fast_path_refuses_what_the_commands_refuse(runtime):
    from application.imports import ImportRejected

    problems = {}
    for fast in (False, True):
        runtime.ledger.imports.fast_path = fast
        with pytest.raises(ImportRejected) as rejected:
            runtime.ledger.imports.run(META, bad_files(), today=TODAY, dry_run=True)
        problems[fast] = rejected.value.problems
    assert problems[True] == problems[False]
    assert {p.split(": ")[0] for p in problems[True]} >= {
        "deals.csv:3",  # B2 won before it opened
        "deals.csv:4",  # B3 margin
        "deals.csv:5",  # B4 status
        "deals.csv:6",  # B5 lost before it opened
        "payments.csv:3",  # B6 overpaid
        "payments.csv:4",  # B7 open
        "deals.csv:10",  # B9 amount
        "deals.csv:11",  # B10 currency
    }
    assert not any(p.startswith("deals.csv:12") for p in problems[True])  # G1 is fine


def test_built_events_that_differ_from_the_commands_send_the_import_through_them(
    database_url, tmp_path, monkeypatch, caplog
):
    """A fast path that drifted from the domain's rules is caught on the import's first deal of
    that shape: the import then runs through the commands and writes what they write."""
    import application.imports as imports

    files = files_with_leads()
    _, slow, _, _ = run(database_url, tmp_path, files, fast=False)
    real = imports._deal_events

    def drifted(plan):
        events = real(plan)
        if events is not None and len(events) > 1:
            cls, fields, name = events[1]
            events[1] = (cls, {**fields, "probability": None if fields.get("probability") else 0}, name)
        return events

    monkeypatch.setattr(imports, "_deal_events", drifted)
    with caplog.at_level(logging.WARNING, logger="application.imports"):
        _, fast, _, _ = run(database_url, tmp_path, files, fast=True)
    assert fast == slow
    assert "differ from those of Deal's commands" in caplog.text


def test_an_import_sent_with_an_idempotency_key_writes_its_built_deals_in_one_transaction(client):
    """`POST /imports` with an Idempotency-Key records everything with its key in one
    transaction (EventStore.record, not the bulk write), built deals included."""
    from decimal import Decimal

    from tests.e2e.session import Session
    from tests.e2e.test_imports import all_events, all_items

    files, expect = export(seed=7, deals=30)

    def send():
        return client.post(
            "/imports",
            files=[("files", (name, data, "text/csv")) for name, data in files.items()],
            headers={"Idempotency-Key": "import-1"},
        )

    rt = client.app.state.runtime
    bulk = rt.store.record_in_bulk
    rt.store.record_in_bulk = None  # not used with a key
    try:
        first = send()
    finally:
        rt.store.record_in_bulk = bulk
    assert first.status_code == 200, first.text
    assert first.json()["events"] == len(all_events(client))
    s = Session(client)
    s.position = first.json()["position"]
    deals = all_items(s, "/deals")
    assert len(deals) == len(expect["deals"])
    for d in deals:
        want = expect["deals"][d["external_id"]]
        assert d["status"] == want["status"] and Decimal(d["collected"]) == want["collected"]
