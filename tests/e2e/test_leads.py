"""The lead journey over HTTP on each backend: capture → score → assign → contact → breach →
recycle → claim → qualify → convert, with de-duplication, caps, reports and refusals."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.session import Session


@pytest.fixture
def desk(client):
    return Session(client)


def test_the_whole_journey(desk):
    seniors = [desk.rep("高甲", "senior"), desk.rep("高乙", "senior")]
    junior = desk.rep("初丙", "junior")
    lead = desk.lead(
        "杭州智能装备有限公司",
        phone="138 0013 8000",
        contact_name="王经理",
        product_line="ERP",
        captured_on="2026-11-02",
    )
    scored = desk.post(f"/leads/{lead['id']}/score", {"need_match": 5, "purchasing_power": 4, "decision_complexity": 1})
    assert (scored["score"], scored["grade"], scored["model_version"]) == ("88.00", "A", "scoring-v1")
    assigned = desk.post(f"/leads/{lead['id']}/assign", {"assigned_at": "2026-11-02T09:00:00+08:00"})
    holder = assigned["rep_id"]
    assert holder in seniors and assigned["rule"] == "default: reps of the lead's region"
    queue = desk.get(f"/leads/queue/{holder}", as_of="2026-11-02T10:00:00+08:00")
    [item] = queue["items"]
    assert (item["next_due"]["kind"], item["sla_state"]) == ("first_response", "due_soon")
    assert item["next_due"]["at"] == "2026-11-02T05:00:00+00:00"  # 4 hours for grade A
    desk.post(
        f"/leads/{lead['id']}/contacts",
        {"channel": "call", "outcome": "约了拜访", "occurred_at": "2026-11-02T11:30:00+08:00"},
    )

    check = desk.post("/leads/sla-check", {"as_of": "2026-11-20T00:00:00Z"})  # follow-up was due 11-09
    [breach] = check["breaches"]
    assert (breach["kind"], breach["rep_id"], breach["action"]) == ("follow_up", holder, "returned to the pool")
    assert desk.post("/leads/sla-check", {"as_of": "2026-11-20T00:00:00Z"})["breaches"] == []  # idempotent
    pool = desk.get("/leads/pool", region="华东")["items"]
    assert [p["lead_id"] for p in pool] == [lead["id"]]

    cooldown = desk.post(
        f"/leads/{lead['id']}/claim", {"rep_id": holder, "claimed_at": "2026-11-21T00:00:00Z"}, status=(409,)
    )
    assert cooldown["error"]["code"] == "cooldown"
    other = next(r for r in seniors if r != holder)
    desk.post(f"/leads/{lead['id']}/claim", {"rep_id": other, "claimed_at": "2026-11-21T00:00:00Z"})
    desk.post(
        f"/leads/{lead['id']}/contacts",
        {"channel": "visit", "outcome": "需求明确", "occurred_at": "2026-11-21T03:00:00Z"},
    )
    desk.post(f"/leads/{lead['id']}/qualify", {"notes": "预算已批"})
    converted = desk.post(f"/leads/{lead['id']}/convert", {"amount": "260000.00", "converted_on": "2026-11-22"})
    customer = desk.client.get(f"/customers/{converted['customer_id']}").json()
    deal = desk.client.get(f"/deals/{converted['deal_id']}").json()
    assert (customer["name"], customer["owner_id"], customer["lead_ids"]) == (
        "杭州智能装备有限公司",
        other,
        [lead["id"]],
    )
    assert (deal["owner_id"], deal["amount"], deal["lead_id"], deal["product_line"]) == (
        other,
        "260000.00",
        lead["id"],
        "ERP",
    )
    assert desk.client.get(f"/reps/{other}").json()["open_leads"] == []
    desk.post(
        f"/deals/{converted['deal_id']}/win",
        {"amount": "250000.00", "gross_margin": "80000.00", "signed_on": "2026-11-28"},
    )

    timeline = [e["type"] for e in desk.client.get(f"/leads/{lead['id']}/timeline").json()["events"]]
    assert timeline == [
        "LeadCaptured",
        "LeadScored",
        "LeadAssigned",
        "LeadContacted",
        "LeadSlaBreached",
        "LeadReturned",
        "LeadAssigned",
        "LeadContacted",
        "LeadQualified",
        "LeadConverted",
    ]
    sources = desk.get("/leads/reports/sources", period="2026-11")["sources"]
    assert sources == [
        {
            "source": "trade_show",
            "captured": 1,
            "qualified": 1,
            "converted": 1,
            "won_deals": 1,
            "won_revenue": "250000.00",
            "qualification_rate": "1.0000",
            "conversion_rate": "1.0000",
            "win_rate": "1.0000",
        }
    ]
    report = {r["rep"]: r for r in desk.get("/leads/reports/sla", period="2026-11")["rows"]}
    assert report[holder]["first_response_hours_median"] == "2.50"
    assert report[holder]["follow_up_breaches"] == 1
    assert report[other]["first_response_hours_median"] == "3.00"
    by_grade = desk.get("/leads/reports/sla", period="2026-11", group_by="grade")["rows"]
    assert by_grade[0]["grade"] == "A" and by_grade[0]["assignments"] == 2
    kpi = desk.get("/kpis", scope=f"rep:{other}", period="2026-11")
    assert next(m for m in kpi["metrics"] if m["metric"] == "leads_contacted")["actual"] == 1
    assert junior


def test_duplicates_are_recorded_linked_and_mergeable(desk):
    first = desk.lead("上海精密机械有限公司", phone="+86 139-0000-1111", email="Buyer@JM.cn")
    by_phone = desk.lead("完全不同的名字", phone="13900001111")
    by_email = desk.lead("另一家", email="buyer@jm.cn ")
    by_name = desk.lead("上海 精密机械")
    other_region = desk.lead("上海精密机械", region="华南")
    assert first["duplicate_of"] is None
    assert by_phone["duplicate_of"] == by_email["duplicate_of"] == by_name["duplicate_of"] == first["id"]
    assert other_region["duplicate_of"] is None
    assert by_phone["status"] == "duplicate"
    merged = desk.post(f"/leads/{by_email['id']}/merge", {"into": first["id"], "reason": "同一客户"})
    assert merged["merged_into"] == first["id"]
    assert desk.client.get(f"/leads/{by_email['id']}").json()["status"] == "merged"
    listed = desk.get("/leads", status="duplicate")["items"]
    assert {i["lead_id"] for i in listed} == {by_phone["id"], by_name["id"]}


def test_capacity_round_robin_and_manual_assignment(desk):
    desk.client.put(
        "/leads/policy",
        json={
            "settings": {"capacity": {"junior": 1, "mid": 2, "senior": 2, "manager": 0, "director": 0}},
            "reason": "试点小容量",
        },
    )
    a, b = desk.rep("中一", "mid"), desk.rep("中二", "mid")
    owners = []
    for i in range(4):
        lead = desk.lead(f"公司{i}")
        desk.post(f"/leads/{lead['id']}/score", {"need_match": 3, "purchasing_power": 3, "decision_complexity": 2})
        owners.append(desk.post(f"/leads/{lead['id']}/assign", {})["rep_id"])
    assert sorted(owners) == sorted([a, a, b, b]) and owners[0] != owners[1]  # spread, alternating
    extra = desk.lead("公司4")
    desk.post(f"/leads/{extra['id']}/score", {"need_match": 3, "purchasing_power": 3, "decision_complexity": 2})
    full = desk.post(f"/leads/{extra['id']}/assign", {}, status=(409,))
    assert full["error"]["code"] == "no_eligible_rep" and "capacity cap" in full["error"]["message"]
    over = desk.post(f"/leads/{extra['id']}/assign", {"rep_id": a, "reason": "客户指定"}, status=(409,))
    assert over["error"]["code"] == "over_capacity"
    senior = desk.rep("高", "senior")
    assert desk.post(f"/leads/{extra['id']}/assign", {"rep_id": senior}, status=(422,))  # a reason is required
    manual = desk.post(f"/leads/{extra['id']}/assign", {"rep_id": senior, "reason": "客户指定"})
    assert manual["rep_id"] == senior
    lead = desk.client.get(f"/leads/{extra['id']}").json()
    assert lead["assignee_id"] == senior
    policy = desk.client.get("/leads/policy").json()
    assert policy["version"] == 1 and policy["settings"]["capacity"]["mid"] == 2


def test_refusals_write_nothing(desk):
    rep = desk.rep("某", "junior")
    lead = desk.lead("某某公司")
    head = desk.client.get("/events", params={"after": 0, "limit": 1000}).json()["items"][-1]["position"]
    cases = [
        (f"/leads/{lead['id']}/score", {"need_match": 6, "purchasing_power": 1, "decision_complexity": 1}, 422),
        (f"/leads/{lead['id']}/assign", {}, 409),  # not scored yet
        (
            f"/leads/{lead['id']}/contacts",
            {"channel": "call", "outcome": "x", "occurred_at": "2026-11-01T00:00:00Z"},
            409,
        ),
        (f"/leads/{lead['id']}/claim", {"rep_id": "00000000-0000-0000-0000-000000000000"}, 404),
        (
            "/leads/00000000-0000-0000-0000-000000000000/score",
            {"need_match": 1, "purchasing_power": 1, "decision_complexity": 1},
            404,
        ),
        (f"/leads/{lead['id']}/disqualify", {"reason": "讨厌"}, 422),
        (f"/leads/{lead['id']}/convert", {}, 409),
        ("/leads", {"company": "x", "source": "billboard", "region": "华东", "industry": "retail"}, 422),
        (f"/leads/{lead['id']}/merge", {"into": lead["id"], "reason": "x"}, 409),
    ]
    for path, body, status in cases:
        desk.post(path, body, status=(status,))
    assert desk.client.get("/events", params={"after": head}).json()["items"] == []
    bad_policy = desk.client.put("/leads/policy", json={"settings": {"sla": {"on_breach": "shrug"}}, "reason": "x"})
    assert bad_policy.status_code == 422
    desk.post(f"/leads/{lead['id']}/claim", {"rep_id": rep})
    desk.post(f"/reps/{rep}/leave", {"effective_on": "2026-12-01", "reason": "离职"}, status=(409,))
    heir = desk.rep("接手", "junior")
    desk.post(f"/reps/{rep}/leave", {"effective_on": "2026-12-01", "reason": "离职", "reassign_to": heir})
    assert desk.client.get(f"/leads/{lead['id']}").json()["assignee_id"] == heir
    assert desk.client.get(f"/reps/{heir}").json()["open_leads"] == [lead["id"]]
    assert desk.client.post(f"/leads/{lead['id']}/assign", json={"rep_id": rep, "reason": "x"}).status_code == 409


def test_breach_policy_reassign_moves_the_lead_to_another_rep(desk):
    desk.client.put(
        "/leads/policy",
        json={
            "settings": {
                "sla": {"first_response_hours": {"A": 1, "B": 2, "C": 3}, "follow_up_days": 7, "on_breach": "reassign"}
            },
            "reason": "严格跟进",
        },
    )
    a, b = desk.rep("初一", "junior"), desk.rep("初二", "junior")
    lead = desk.lead("慢响应公司")
    desk.post(f"/leads/{lead['id']}/score", {"need_match": 1, "purchasing_power": 1, "decision_complexity": 4})
    first = desk.post(f"/leads/{lead['id']}/assign", {"assigned_at": "2026-11-02T00:00:00Z"})["rep_id"]
    [breach] = desk.post("/leads/sla-check", {"as_of": "2026-11-02T04:00:00Z"})["breaches"]
    assert breach["kind"] == "first_response" and breach["action"].startswith("reassigned to")
    now_with = desk.client.get(f"/leads/{lead['id']}").json()["assignee_id"]
    assert {first, now_with} == {a, b}
    assert desk.client.get(f"/reps/{first}").json()["open_leads"] == []


def test_an_sla_check_in_the_future_is_refused(desk):
    from application import clock

    rep = desk.rep("初丁", "junior")
    lead = desk.lead("未来公司")
    desk.post(f"/leads/{lead['id']}/assign", {"rep_id": rep, "reason": "指定", "assigned_at": "2026-03-02T01:00:00Z"})
    head = desk.client.app.state.runtime.source.head()
    try:
        clock.set_today(datetime(2026, 3, 10).date())  # now is noon of 2026-03-10 in Shanghai: 04:00 UTC
        refused = desk.post("/leads/sla-check", {"as_of": "2026-03-10T05:00:00Z"}, status=(422,))
        assert refused["error"]["details"]["field"] == "as_of"
        assert desk.client.app.state.runtime.source.head() == head  # nothing written
        [breach] = desk.post("/leads/sla-check", {"as_of": "2026-03-10T03:00:00Z"})["breaches"]
        assert (breach["lead_id"], breach["kind"], breach["rep_id"]) == (lead["id"], "first_response", rep)
        assert desk.post("/leads/sla-check", {})["as_of"] == "2026-03-10T04:00:00+00:00"  # defaults to now
    finally:
        clock.set_today(None)


def test_the_command_line_runs_the_same_checks(desk, database_url):
    from tests.integration.test_demo_and_cli import cli

    rep = desk.rep("初戊", "junior")
    lead = desk.lead("命令行公司")
    desk.post(f"/leads/{lead['id']}/assign", {"rep_id": rep, "reason": "指定", "assigned_at": "2026-03-02T01:00:00Z"})
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    refused = cli(database_url, "leads", "sla-check", "--as-of", future, check=False)
    assert refused.returncode == 2 and "future" in refused.stdout
    done = cli(database_url, "leads", "sla-check", "--as-of", "2026-03-20T00:00:00+00:00")
    assert "1 new breaches" in done.stdout and lead["id"] in done.stdout
    assert desk.client.get(f"/leads/{lead['id']}").json()["status"] == "pool"
    tomorrow_but_one = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    refused = cli(database_url, "customers", "dormancy-check", "--as-of", tomorrow_but_one, check=False)
    assert refused.returncode == 2 and "future" in refused.stdout
    assert "now dormant" in cli(database_url, "customers", "dormancy-check").stdout
