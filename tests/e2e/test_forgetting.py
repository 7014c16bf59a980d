"""Forgetting personal data (PIPL / GDPR) by destroying a data subject's key: personal fields
read back as "[erased]" everywhere, history still replays, every total stays the same, and none
of the erased bytes are left anywhere in the database."""

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
