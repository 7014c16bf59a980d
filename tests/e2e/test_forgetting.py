"""Forgetting personal data (PIPL / GDPR) by destroying a data subject's key: personal fields
read back as "[erased]" everywhere, history still replays, every total stays the same, and none
of the erased bytes are left anywhere in the database."""

import json
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from projections.engine.runner import rebuild
from tests.e2e.session import Session
from tests.helpers import every_stored_value

SECRETS = ["王小明", "13912345678", "wxm@example.com", "wxm_88", "李四", "13800000001", "lisi@example.com"]


def leaks(runtime):
    return sorted(
        {
            (table, secret)
            for table, blob in every_stored_value(runtime.db)
            for secret in SECRETS
            if secret.encode("utf-8") in blob
        }
    )


def totals(s: Session, rep):
    board = s.get("/pipeline")
    kpi = s.get("/kpis", scope=f"rep:{rep}", period="2026-11")
    return (
        board["won"],
        board["open"],
        [m["actual"] for m in kpi["metrics"]],
        s.client.get(f"/commissions/statements/{rep}/2026-11").json()["total"],
    )


def test_forget_a_lead_and_a_customer(client):
    s = Session(client)
    runtime = client.app.state.runtime
    rep = s.rep("保密", "senior")
    plan = s.post(
        "/plans",
        {
            "name": "p",
            "currency": "CNY",
            "effective_from": "2026-01-01",
            "clawback_days": 30,
            "components": [{"name": "base", "type": "tiered_rate", "tiers": [{"up_to": None, "rate": "0.05"}]}],
        },
    )["id"]
    s.post(f"/reps/{rep}/plan", {"plan_id": plan, "effective_from": "2026-01-01"})
    lead = s.lead(
        "隐私科技有限公司",
        contact_name="王小明",
        phone="13912345678",
        email="wxm@example.com",
        wechat_id="wxm_88",
        captured_on="2026-11-01",
    )["id"]
    s.post(f"/leads/{lead}/claim", {"rep_id": rep, "claimed_at": "2026-11-01T02:00:00Z"})
    s.post(f"/leads/{lead}/contacts", {"channel": "call", "outcome": "ok", "occurred_at": "2026-11-02T02:00:00Z"})
    converted = s.post(f"/leads/{lead}/convert", {"amount": "50000.00", "converted_on": "2026-11-03"})
    customer, deal = converted["customer_id"], converted["deal_id"]
    s.post(
        f"/customers/{customer}/stakeholders",
        {
            "name": "李四",
            "role": "decision_maker",
            "phone": "13800000001",
            "email": "lisi@example.com",
            "title": "采购总监",
        },
    )
    s.post(f"/deals/{deal}/win", {"amount": "50000.00", "gross_margin": "20000.00", "signed_on": "2026-11-10"})
    s.post(f"/deals/{deal}/payments", {"amount": "20000.00", "received_on": "2026-11-20"})

    assert client.get(f"/leads/{lead}").json()["contact"]["phone"] == "13912345678"  # readable until forgotten
    with runtime.db.read() as tx:
        table = runtime.ledger.store.recorder.events_table_name
        raw = b"".join(bytes(state) for (state,) in tx.all(f"SELECT state FROM {table}"))
    assert not any(secret.encode("utf-8") in raw for secret in SECRETS)  # events hold ciphertext only
    before = totals(s, rep)

    s.post(f"/leads/{lead}/forget", {"reason": "数据主体要求删除"})
    s.post(f"/customers/{customer}/forget", {"reason": "PIPL request"})
    assert client.post(f"/leads/{lead}/forget", json={"reason": "again"}).status_code == 409

    contact = client.get(f"/leads/{lead}").json()["contact"]
    assert [contact[k] for k in ("contact_name", "phone", "email", "wechat_id")] == ["[erased]"] * 4
    assert contact["product_line"] is None or contact["product_line"] != "[erased]"
    [person] = client.get(f"/customers/{customer}").json()["stakeholders"]
    assert (person["name"], person["phone"], person["title"]) == ("[erased]", "[erased]", "采购总监")
    captured = client.get("/events", params={"type": "LeadCaptured"}).json()["items"][0]
    assert captured["data"]["contact"]["phone"] == "[erased]"
    assert client.get(f"/customers/{customer}").json()["name"] == "隐私科技有限公司"  # the company is not personal

    for projection in runtime.projections:
        rebuild(runtime.db, runtime.source, projection)
    assert totals(s, rep) == before
    assert leaks(runtime) == []
    again = s.lead("另一家", phone="13912345678")  # the forgotten lead no longer matches anything
    assert again["duplicate_of"] is None


NOTES = ["他说周三再联系王小明", "王总很满意，已约复访", "下次带报价给李四", "服务很好，张经理推荐", "李四是老同学"]


def test_notes_and_comments_are_personal_data_too(client):
    """Lead contact and qualification notes, visit notes and next steps, feedback comments and
    stakeholder notes: encrypted under the record's key, served while it lives, "[erased]" after
    forgetting, and every figure (visits, satisfaction) unchanged."""
    s = Session(client)
    runtime = client.app.state.runtime
    rep = s.rep("笔记", "senior")
    lead = s.lead("笔记科技", captured_on="2026-11-01")["id"]
    s.post(f"/leads/{lead}/claim", {"rep_id": rep, "claimed_at": "2026-11-01T02:00:00Z"})
    s.post(
        f"/leads/{lead}/contacts",
        {"channel": "call", "outcome": "interested", "occurred_at": "2026-11-02T02:00:00Z", "notes": NOTES[0]},
    )
    s.post(f"/leads/{lead}/qualify", {"notes": NOTES[0], "qualified_on": "2026-11-02"})
    customer = s.post("/customers", {"name": "笔记客户", "region": "华东", "industry": "retail", "owner_id": rep})["id"]
    s.post(
        f"/customers/{customer}/visits",
        {
            "rep_id": rep,
            "kind": "visit",
            "occurred_at": "2026-11-03T02:00:00Z",
            "notes": NOTES[1],
            "next_step": NOTES[2],
        },
    )
    s.post(f"/customers/{customer}/feedback", {"score": 4, "comment": NOTES[3], "given_on": "2026-11-04"})
    s.post(f"/customers/{customer}/stakeholders", {"name": "李四", "role": "user", "notes": NOTES[4]})

    lead_view, customer_view = client.get(f"/leads/{lead}").json(), client.get(f"/customers/{customer}").json()
    assert [c["notes"] for c in lead_view["contacts"]] == [NOTES[0]]  # readable while the key lives
    assert [(v["notes"], v["next_step"]) for v in customer_view["visits"]] == [(NOTES[1], NOTES[2])]
    assert [f["comment"] for f in customer_view["feedback"]] == [NOTES[3]]
    with runtime.db.read() as tx:
        table = runtime.ledger.store.recorder.events_table_name
        raw = b"".join(bytes(state) for (state,) in tx.all(f"SELECT state FROM {table}"))
    assert not [n for n in NOTES if n.encode("utf-8") in raw]  # the events hold ciphertext only
    satisfaction = s.get("/kpis", scope=f"rep:{rep}", period="2026-11")

    s.post(f"/leads/{lead}/forget", {"reason": "数据主体要求删除"})
    s.post(f"/customers/{customer}/forget", {"reason": "PIPL request"})

    lead_view, customer_view = client.get(f"/leads/{lead}").json(), client.get(f"/customers/{customer}").json()
    assert [c["notes"] for c in lead_view["contacts"]] == ["[erased]"]
    assert [(v["notes"], v["next_step"], v["kind"]) for v in customer_view["visits"]] == [
        ("[erased]", "[erased]", "visit")
    ]
    assert [(f["comment"], f["score"]) for f in customer_view["feedback"]] == [("[erased]", 4)]
    assert [p["notes"] for p in customer_view["stakeholders"]] == ["[erased]"]
    served = json.dumps(client.get("/events", params={"limit": 1000}).json(), ensure_ascii=False)
    assert not [n for n in NOTES if n in served]
    for projection in runtime.projections:
        rebuild(runtime.db, runtime.source, projection)
    assert s.get("/kpis", scope=f"rep:{rep}", period="2026-11") == satisfaction  # figures unchanged
    assert not [(table, n) for table, blob in every_stored_value(runtime.db) for n in NOTES if n.encode() in blob]


def test_notes_stored_in_clear_by_older_events_still_load_and_read_erased_after_forgetting(client):
    """Events recorded before notes were personal data hold them in clear (class version 1):
    they load, upcast, read as before, and read "[erased]" once the record is forgotten."""
    s = Session(client)
    runtime = client.app.state.runtime
    rep = s.rep("旧事件", "senior")
    customer = s.post("/customers", {"name": "旧客户", "region": "华东", "industry": "retail", "owner_id": rep})
    old = {
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-03T02:00:00+00:00"},
        "rep_id": rep,
        "kind": "visit",
        "occurred_at": {"_type_": "datetime_iso", "_data_": "2026-11-03T02:00:00+00:00"},
        "notes": "旧版明文记录：见了王小明",
        "next_step": None,
        "meta": {"actor": "v1-client", "correlation_id": "c", "causation_id": "r"},
    }
    runtime.ledger.store.recorder.insert_events(
        [
            StoredEvent(
                originator_id=UUID(customer["id"]),
                originator_version=customer["version"] + 1,
                topic="domain.customer:Customer.VisitLogged",
                state=json.dumps(old, ensure_ascii=False).encode("utf-8"),
            )
        ]
    )
    visits = client.get(f"/customers/{customer['id']}").json()["visits"]
    assert [(v["notes"], v["kind"]) for v in visits] == [("旧版明文记录：见了王小明", "visit")]
    s.post(f"/customers/{customer['id']}/feedback", {"score": 5, "comment": "新的评论", "given_on": "2026-11-04"})

    s.post(f"/customers/{customer['id']}/forget", {"reason": "PIPL request"})
    view = client.get(f"/customers/{customer['id']}").json()
    assert [v["notes"] for v in view["visits"]] == ["[erased]"]
    assert [f["comment"] for f in view["feedback"]] == ["[erased]"]
    logged = client.get("/events", params={"type": "CustomerVisitLogged"}).json()["items"]
    assert [e["data"]["notes"] for e in logged] == ["[erased]"]
