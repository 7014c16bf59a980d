"""From proposal to delivery and revisits, over HTTP on each backend: proposal versions and
outcomes, the negotiation picture and competitors, delivery milestones overdue at the
organisation's day boundary, and the revisit plan with its check and adherence KPI."""

from datetime import UTC, date, datetime

import pytest

from application import clock
from tests.e2e.session import Session


@pytest.fixture
def desk(client):
    return Session(client)


def refused(desk, path, body, status, code=None, field=None):
    answer = desk.client.post(path, json=body)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    if code:
        assert error["code"] == code, error
    if field:
        assert error["details"].get("field") == field, error
    return error


def customer_and_deal(desk, rep, name="方案客户", opened_on="2026-03-01"):
    customer = desk.post(
        "/customers",
        {"name": name, "region": "华东", "industry": "manufacturing", "owner_id": rep, "registered_on": opened_on},
    )["id"]
    deal = desk.post(
        "/deals",
        {
            "customer_id": customer,
            "owner_id": rep,
            "amount": "200000.00",
            "product_line": "ERP",
            "opened_on": opened_on,
        },
    )["id"]
    return customer, deal


def win(desk, deal, signed_on="2026-03-01"):
    desk.post(f"/deals/{deal}/win", {"amount": "200000.00", "gross_margin": "60000.00", "signed_on": signed_on})


def test_proposal_versions_outcomes_and_win_rate_by_proposal_count(desk):
    rep = desk.rep("方案甲", "senior")
    _, deal = customer_and_deal(desk, rep)
    first = desk.post(
        f"/deals/{deal}/proposals",
        {
            "title": "ERP 实施方案",
            "amount": "220000.00",
            "sent_on": "2026-03-05",
            "valid_until": "2026-04-05",
            "line_items": [{"product_line": "ERP", "amount": "220000.00", "gross_margin": "70000.00"}],
        },
    )
    assert first["proposal_version"] == 1
    pid = first["proposal_id"]
    desk.post(f"/deals/{deal}/proposals/{pid}/outcome", {"outcome": "revised", "on": "2026-03-08", "reason": "降价"})
    second = desk.post(
        f"/deals/{deal}/proposals", {"title": "ERP 方案 v2", "amount": "200000.00", "sent_on": "2026-03-10"}
    )
    assert second["proposal_version"] == 2

    version = desk.client.get(f"/deals/{deal}").json()["version"]
    refused(
        desk,
        f"/deals/{deal}/proposals/{pid}/outcome",
        {"outcome": "accepted", "on": "2026-03-12"},
        409,
        "proposal_decided",
    )
    refused(
        desk,
        f"/deals/{deal}/proposals/{second['proposal_id']}/outcome",
        {"outcome": "accepted", "on": "2026-03-09"},
        422,
        field="on",
    )
    refused(
        desk,
        f"/deals/{deal}/proposals/{second['proposal_id']}/outcome",
        {"outcome": "maybe", "on": "2026-03-12"},
        422,
        field="outcome",
    )
    refused(desk, f"/deals/{deal}/proposals/nope/outcome", {"outcome": "accepted", "on": "2026-03-12"}, 404)
    refused(
        desk,
        f"/deals/{deal}/proposals",
        {"title": "x", "amount": "1.00", "sent_on": "2026-03-10", "valid_until": "2026-03-01"},
        422,
        field="valid_until",
    )
    refused(desk, f"/deals/{deal}/proposals", {"title": "x", "amount": "-1.00", "sent_on": "2026-03-10"}, 422)
    assert desk.client.get(f"/deals/{deal}").json()["version"] == version  # refusals write nothing

    desk.post(f"/deals/{deal}/proposals/{second['proposal_id']}/outcome", {"outcome": "accepted", "on": "2026-03-12"})
    state = desk.client.get(f"/deals/{deal}").json()
    v1, v2 = state["proposals"]
    assert (v1["version"], v1["status"], v1["superseded_by"]) == (1, "revised", second["proposal_id"])
    assert [(h["status"], h["on"], h["reason"]) for h in v1["history"]] == [
        ("sent", "2026-03-05", None),
        ("revised", "2026-03-08", "降价"),
    ]
    assert (v2["version"], v2["status"], v2["revises"], v2["amount"]) == (2, "accepted", pid, "200000.00")
    assert v1["line_items"][0]["amount"] == "220000.00"
    win(desk, deal, "2026-03-15")
    refused(
        desk, f"/deals/{deal}/proposals", {"title": "v3", "amount": "1.00", "sent_on": "2026-03-20"}, 409, "deal_closed"
    )

    _, lost = customer_and_deal(desk, rep, "失单客户")
    desk.post(f"/deals/{lost}/proposals", {"title": "一版", "amount": "90000.00", "sent_on": "2026-03-05"})
    desk.post(f"/deals/{lost}/lose", {"reason": "price", "lost_on": "2026-03-20"})
    customer_and_deal(desk, rep, "未发方案")
    rows = {r["proposals"]: r for r in desk.get("/pipeline/proposals", owner_id=rep)["rows"]}
    assert (rows[0]["open"], rows[0]["win_rate"]) == (1, None)
    assert (rows[1]["lost"], rows[1]["win_rate"]) == (1, "0.0000")
    assert (rows[2]["won"], rows[2]["win_rate"]) == (1, "1.0000")


def test_negotiation_changes_kept_in_order_and_competitor_report(desk):
    rep = desk.rep("谈判乙", "senior")
    customer, deal = customer_and_deal(desk, rep)
    boss = desk.post(f"/customers/{customer}/stakeholders", {"name": "赵总", "role": "decision_maker"})[
        "stakeholder_id"
    ]
    cfo = desk.post(f"/customers/{customer}/stakeholders", {"name": "钱总", "role": "finance"})["stakeholder_id"]
    desk.post(
        f"/deals/{deal}/negotiation", {"budget": "180000.00", "competitors": ["用友", "金蝶"], "on": "2026-03-05"}
    )
    desk.post(
        f"/deals/{deal}/negotiation",
        {"decision_process": "总经理办公会审批", "decision_makers": [boss], "on": "2026-03-07"},
    )
    desk.post(
        f"/deals/{deal}/negotiation",
        {"budget": "210000.00", "decision_makers": [boss, cfo], "competitors": ["用友"], "on": "2026-03-07"},
    )
    version = desk.client.get(f"/deals/{deal}").json()["version"]
    refused(desk, f"/deals/{deal}/negotiation", {"budget": "1.00", "on": "2026-03-06"}, 422, field="on")
    refused(
        desk,
        f"/deals/{deal}/negotiation",
        {"decision_makers": ["ghost"], "on": "2026-03-08"},
        422,
        field="decision_makers",
    )
    refused(
        desk, f"/deals/{deal}/negotiation", {"competitors": ["用友"], "on": "2026-03-08"}, 409, "negotiation_unchanged"
    )
    refused(desk, f"/deals/{deal}/negotiation", {"on": "2026-03-08"}, 422)
    assert desk.client.get(f"/deals/{deal}").json()["version"] == version

    state = desk.client.get(f"/deals/{deal}").json()
    picture = state["negotiation"]
    assert picture == {
        "budget": "210000.00",
        "decision_process": "总经理办公会审批",
        "decision_makers": [boss, cfo],
        "competitors": ["用友"],
        "as_of": "2026-03-07",
    }
    history = state["negotiation_history"]
    assert [h["on"] for h in history] == ["2026-03-05", "2026-03-07", "2026-03-07"]
    assert history[0]["changes"]["budget"] == {"from": None, "to": "180000.00"}
    assert history[2]["changes"]["budget"] == {"from": "180000.00", "to": "210000.00"}
    assert history[2]["changes"]["competitors"] == {"from": ["用友", "金蝶"], "to": ["用友"]}
    assert set(history[1]["changes"]) == {"decision_process", "decision_makers"}
    then = desk.get(f"/deals/{deal}/negotiation", on="2026-03-06")
    assert (then["budget"], then["competitors"], then["decision_makers"], then["as_of"]) == (
        "180000.00",
        ["用友", "金蝶"],
        [],
        "2026-03-05",
    )
    assert len(then["history"]) == 1
    assert desk.get(f"/deals/{deal}/negotiation", on="2026-03-04")["budget"] is None
    win(desk, deal, "2026-03-10")

    _, other = customer_and_deal(desk, rep, "竞争客户")
    desk.post(f"/deals/{other}/negotiation", {"competitors": ["用友", "SAP"], "on": "2026-03-05"})
    desk.post(f"/deals/{other}/lose", {"reason": "competitor", "competitor": "浪潮", "lost_on": "2026-03-20"})
    report = {r["competitor"]: r for r in desk.get("/competitors")["rows"]}
    assert desk.get("/competitors")["rows"][0]["competitor"] == "用友"  # met most
    assert (report["用友"]["deals"], report["用友"]["won"], report["用友"]["lost"], report["用友"]["win_rate"]) == (
        2,
        1,
        1,
        "0.5000",
    )
    assert "金蝶" not in report  # dropped from the picture before the close
    assert (report["SAP"]["lost"], report["浪潮"]["lost"], report["浪潮"]["win_rate"]) == (1, 1, "0.0000")


class _Wall(datetime):
    """The wall clock at a chosen UTC moment (application.clock reads `datetime.now`)."""

    moment = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)

    @classmethod
    def now(cls, tz=None):
        return cls.moment.astimezone(tz) if tz else cls.moment


def test_milestone_overdue_at_the_organisations_day_boundary(desk, monkeypatch):
    manager = desk.rep("交付经理", "manager")
    rep = desk.rep("交付丙", "senior", manager_id=manager)
    outsider = desk.rep("别组", "senior", team="华南一组", region="华南")
    customer, deal = customer_and_deal(desk, rep)
    refused(
        desk,
        f"/deals/{deal}/delivery",
        {"milestones": [{"name": "上线", "planned_on": "2026-03-10"}]},
        409,
        "deal_not_won",
    )
    win(desk, deal, "2026-03-01")
    refused(
        desk,
        f"/deals/{deal}/delivery",
        {"milestones": [{"name": "早", "planned_on": "2026-02-01"}]},
        422,
        field="milestones[0].planned_on",
    )
    desk.post(
        f"/deals/{deal}/delivery",
        {"milestones": [{"name": "启动会", "planned_on": "2026-03-10"}, {"name": "上线", "planned_on": "2026-03-20"}]},
    )
    _, elsewhere = customer_and_deal(desk, outsider, "华南客户")
    win(desk, elsewhere)
    desk.post(f"/deals/{elsewhere}/delivery", {"milestones": [{"name": "启动会", "planned_on": "2026-03-02"}]})

    monkeypatch.setattr(clock, "datetime", _Wall)
    _Wall.moment = datetime(2026, 3, 10, 15, 59, tzinfo=UTC)  # 23:59 on 10 March in Shanghai
    assert clock.today() == date(2026, 3, 10)
    mine = desk.get("/deliveries", status="overdue", manager_id=manager)["items"]
    assert mine == []
    _Wall.moment = datetime(2026, 3, 10, 16, 0, tzinfo=UTC)  # midnight: 11 March in Shanghai
    [late] = desk.get("/deliveries", status="overdue", manager_id=manager)["items"]
    assert (late["deal_id"], late["name"], late["days_overdue"], late["owner_id"]) == (deal, "启动会", 1, rep)
    assert [m["deal_id"] for m in desk.get("/deliveries", status="overdue")["items"]] == [elsewhere, deal]
    assert [m["name"] for m in desk.get("/deliveries", status="open", owner_id=rep)["items"]] == ["上线"]
    assert desk.get(f"/customers/{customer}")["delivery"]["status"] == "overdue"

    desk.post(f"/deals/{deal}/delivery/启动会/done", {"on": "2026-03-11"})
    refused(desk, f"/deals/{deal}/delivery/启动会/done", {"on": "2026-03-12"}, 409, "milestone_done")
    refused(desk, f"/deals/{deal}/delivery/不存在/done", {"on": "2026-03-12"}, 404)
    assert desk.get("/deliveries", status="overdue", manager_id=manager)["items"] == []
    [done] = desk.get("/deliveries", status="done", owner_id=rep)["items"]
    assert (done["done_on"], done["on_time"]) == ("2026-03-11", False)
    view = desk.get(f"/customers/{customer}")["delivery"]
    assert (view["status"], view["done"], view["open"], view["next_milestone"]["name"]) == ("in_progress", 1, 1, "上线")


def visit(desk, customer, rep, day, kind="revisit"):
    desk.post(f"/customers/{customer}/visits", {"rep_id": rep, "kind": kind, "occurred_at": f"{day}T10:00:00+08:00"})


def graded_customer(desk, rep, name, registered_on, grade):
    customer = desk.post(
        "/customers",
        {"name": name, "region": "华东", "industry": "retail", "owner_id": rep, "registered_on": registered_on},
    )["id"]
    desk.post(f"/customers/{customer}/grade", {"grade": grade, "reason": "价值评估"})
    return customer


def test_next_revisit_due_follows_a_grade_change_and_the_policy(desk):
    rep = desk.rep("回访丁", "mid")
    assert desk.client.get("/customers/revisit-policy").json() == {"A": 30, "B": 60, "C": 90, "version": 0}
    customer = graded_customer(desk, rep, "回访客户", "2026-01-05", "B")
    visit(desk, customer, rep, "2026-02-01", kind="visit")
    visit(desk, customer, rep, "2026-02-10", kind="call")  # a call is not a visit
    assert desk.get(f"/customers/{customer}")["next_revisit_due"] == "2026-04-02"
    desk.post(f"/customers/{customer}/grade", {"grade": "A", "reason": "升级"})
    assert desk.get(f"/customers/{customer}")["next_revisit_due"] == "2026-03-03"
    assert desk.client.put("/customers/revisit-policy", json={"A": 0}).status_code == 422
    assert desk.client.put("/customers/revisit-policy", json={"D": 5}).status_code == 422
    assert desk.client.put("/customers/revisit-policy", json={}).status_code == 422
    answer = desk.client.put("/customers/revisit-policy", json={"A": 20, "reason": "重点客户加密"})
    assert answer.status_code == 200, answer.text
    desk.position = answer.json()["position"]
    assert desk.get(f"/customers/{customer}")["next_revisit_due"] == "2026-02-21"

    overdue = desk.get("/customers/revisits", status="overdue", as_of="2026-02-25", owner_id=rep)["items"]
    assert [(i["customer_id"], i["next_revisit_due"], i["days_overdue"]) for i in overdue] == [
        (customer, "2026-02-21", 4)
    ]
    assert desk.get("/customers/revisits", status="due", as_of="2026-02-25")["items"] == []
    [due] = desk.get("/customers/revisits", status="due", as_of="2026-02-18", within_days=5)["items"]
    assert due["status"] == "due"
    assert desk.client.get("/customers/revisits", params={"status": "soon"}).status_code == 422


def test_revisit_check_records_overdue_revisits_and_adherence(desk):
    rep = desk.rep("回访戊", "mid")
    desk.client.put("/customers/revisit-policy", json={"A": 30, "B": 60, "C": 90})
    x = graded_customer(desk, rep, "准时客户", "2026-01-01", "A")  # first revisit due 01-31
    y = graded_customer(desk, rep, "另一客户", "2026-01-10", "A")  # due 02-09
    visit(desk, x, rep, "2026-01-20")  # on time; next due 02-19
    visit(desk, y, rep, "2026-02-05")  # on time; next due 03-07
    clock.set_today(date(2026, 3, 1))
    try:
        refused(desk, "/customers/revisit-check", {"as_of": "2026-03-02"}, 422, field="as_of")
        result = desk.post("/customers/revisit-check", {"as_of": "2026-02-25"})
        assert [(o["customer_id"], o["due_on"]) for o in result["now_overdue"]] == [(x, "2026-02-19")]
        desk.position = max(o["position"] for o in result["now_overdue"])
        again = desk.post("/customers/revisit-check", {"as_of": "2026-02-26"})
        assert again["now_overdue"] == []  # idempotent
        events = desk.client.get("/events", params={"aggregate_id": x, "type": "CustomerRevisitOverdue"}).json()
        assert [e["data"]["due_on"] for e in events["items"]] == ["2026-02-19"]
        visit(desk, x, rep, "2026-02-27")  # late
        feb = desk.get("/kpis", scope="company", period="2026-02")
        row = next(m for m in feb["metrics"] if m["metric"] == "revisit_adherence")
        assert (row["actual"], row["target"]) == ("0.5000", None)
        assert feb["revisit_adherence"] == {"on_time": 1, "late_or_overdue": 1, "rate": "0.5000"}
        jan = desk.get("/kpis", scope=f"rep:{rep}", period="2026-01")
        assert jan["revisit_adherence"]["rate"] == "1.0000"
        assert desk.get("/customers/revisits", status="overdue", as_of="2026-03-01")["items"] == []
    finally:
        clock.set_today(None)
