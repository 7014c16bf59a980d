"""Performance assessment (绩效考核) and training programmes through the HTTP API, on each
backend: schemes, live scorecards traced to what they read, finalization frozen against late
facts and verified by recomputation, improvement plans, and programme completion by the due date."""

from datetime import date
from decimal import Decimal

import pytest

from application import clock
from projections.assessments import finalized_grade
from tests.e2e.session import Session
from tests.helpers import bearer

Q1 = "2026-Q1"
TEAM = "华东一组"

SCHEME = {
    "name": "销售季度考核 2026",
    "period": "quarter",
    "effective_from": "2026-01-01",
    "applies_to": {"levels": ["junior", "mid", "senior"]},
    "indicators": [
        {
            "key": "sales",
            "source": "kpi:revenue_attainment",
            "weight": "0.5",
            "zero_at": "0.5",
            "full_at": "1.0",
            "cap": "1.2",
        },
        {"key": "collection", "source": "kpi:collection_rate", "weight": "0.2", "zero_at": "0", "full_at": "1"},
        {"key": "satisfaction", "source": "kpi:satisfaction", "weight": "0.1", "zero_at": "3", "full_at": "5"},
        {"key": "skill", "source": "review:rating", "weight": "0.2", "zero_at": "1", "full_at": "5"},
    ],
    "grades": [
        {"grade": "S", "min_score": "90"},
        {"grade": "A", "min_score": "75"},
        {"grade": "B", "min_score": "62.5"},
        {"grade": "C", "min_score": "0"},
    ],
}


class Org(Session):
    def won(self, owner, amount, signed_on, paid=None):
        customer = self.post(
            "/customers",
            {
                "name": f"客户 {owner[:4]} {amount} {signed_on}",
                "region": "华东",
                "industry": "retail",
                "owner_id": owner,
            },
        )["id"]
        deal = self.post(
            "/deals", {"customer_id": customer, "owner_id": owner, "amount": amount, "product_line": "ERP"}
        )["id"]
        self.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": "1000.00", "signed_on": signed_on})
        if paid:
            self.post(f"/deals/{deal}/payments", {"amount": paid, "received_on": signed_on})
        return customer, deal


def refused(answer, status, code=None):
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    if code:
        assert error["code"] == code, answer.text
    return error


@pytest.fixture
def org(client):
    clock.set_today(date(2026, 4, 15))
    o = Org(client)
    o.director = o.rep("总监", "director", team="销售总部", region="全国", hired_on="2025-01-01")
    o.manager = o.rep("华东经理", "manager", team=TEAM, manager_id=o.director, hired_on="2025-01-01")
    o.a = o.rep("Amy 安", "senior", team=TEAM, manager_id=o.manager, hired_on="2025-01-01")
    o.b = o.rep("Bo 博", "mid", team=TEAM, manager_id=o.manager, hired_on="2025-01-01")
    o.c = o.rep("Cai 蔡", "junior", team="华南一组", region="华南", manager_id=o.director, hired_on="2025-01-01")
    o.scheme = o.post("/assessments/schemes", SCHEME)["id"]
    yield o
    clock.set_today(None)


def record_quarter(o):
    o.post(f"/reps/{o.a}/targets", {"period": Q1, "metric": "revenue", "value": "100000.00"})
    customer, _ = o.won(o.a, "80000.00", "2026-02-10", paid="40000.00")  # attainment 0.8, collection 0.5
    o.post(f"/customers/{customer}/feedback", {"score": 4, "given_on": "2026-02-20"})
    o.post(f"/customers/{customer}/feedback", {"score": 5, "given_on": "2026-03-05", "rep_id": o.a})
    o.post(f"/customers/{customer}/feedback", {"score": 1, "given_on": "2026-04-02"})  # another quarter
    review = {
        "period": Q1,
        "rating": 4,
        "strengths": "客户关系好",
        "improvements": "回款跟进",
        "reviewer_id": o.manager,
    }
    o.review_position = o.post(f"/reps/{o.a}/reviews", review)["position"]
    o.won(o.b, "50000.00", "2026-03-01", paid="50000.00")  # no target, no review, no feedback


def test_invalid_schemes_answer_422_naming_the_field_and_write_nothing(org):
    before = org.get("/assessments/schemes")["items"]
    bad = {**SCHEME, "indicators": [{**SCHEME["indicators"][0], "weight": "0.4"}, *SCHEME["indicators"][1:]]}
    assert refused(org.client.post("/assessments/schemes", json=bad), 422)["details"]["field"] == "indicators"
    bad = {**SCHEME, "indicators": [{**SCHEME["indicators"][0], "full_at": "0.5"}, *SCHEME["indicators"][1:]]}
    assert refused(org.client.post("/assessments/schemes", json=bad), 422)["details"]["field"] == (
        "indicators[0].full_at"
    )
    bad = {**SCHEME, "indicators": [{**SCHEME["indicators"][0], "sorce": "x"}, *SCHEME["indicators"][1:]]}
    assert refused(org.client.post("/assessments/schemes", json=bad), 422)["details"]["field"] == (
        "indicators[0].sorce"
    )
    bad = {**SCHEME, "grades": [{"grade": "A", "min_score": "abc"}]}
    assert refused(org.client.post("/assessments/schemes", json=bad), 422)["details"]["field"] == "grades[0].min_score"
    assert org.get("/assessments/schemes")["items"] == before
    # versions: later only, and listed
    later = {**SCHEME, "effective_from": "2026-07-01", "name": "销售季度考核 2026 下半年"}
    assert org.post(f"/assessments/schemes/{org.scheme}/versions", later)["version"] == 2
    refused(org.client.post(f"/assessments/schemes/{org.scheme}/versions", json=later), 409, "effective_from_not_later")
    versions = org.get(f"/assessments/schemes/{org.scheme}")["versions"]
    assert [v["version"] for v in versions] == [1, 2]


def test_live_scorecards_are_traced_and_missing_inputs_score_zero_saying_so(org):
    record_quarter(org)
    page = org.get(f"/assessments/{Q1}", scope=f"team:{TEAM}")
    by_rep = {item["rep_id"]: item for item in page["items"]}
    assert set(by_rep) == {org.a, org.b}  # the manager is not in the scheme's audience; Cai is another team
    amy = by_rep[org.a]
    assert [(i["key"], i["value"], i["points"], i["weight"]) for i in amy["indicators"]] == [
        ("sales", "0.8000", "60.00", "0.5"),
        ("collection", "0.5000", "50.00", "0.2"),
        ("satisfaction", "4.50", "75.00", "0.1"),
        ("skill", "4", "75.00", "0.2"),
    ]
    assert (amy["score"], amy["grade"], amy["status"]) == ("62.50", "B", "open")  # exactly on B's boundary
    bo = by_rep[org.b]
    assert (bo["score"], bo["grade"]) == ("20.00", "C")  # collection 100 points x 0.2, nothing else
    missing = {i["key"]: i.get("missing") for i in bo["indicators"]}
    assert missing["sales"] == f"no revenue target for rep:{org.b} in {Q1}"
    assert missing["skill"] == f"no review for {Q1}"
    assert missing["satisfaction"] == f"no customer feedback in {Q1}"
    assert missing["collection"] is None

    one = org.get(f"/reps/{org.a}/assessments/{Q1}")
    assert (one["score"], one["grade"]) == ("62.50", "B")
    read = {i["key"]: i["read_from"] for i in one["indicators"]}
    assert read["sales"]["actual"] == "80000.00" and read["sales"]["target"] == "100000.00"
    assert read["sales"]["target_source"] == "set" and read["sales"]["attainment"] == "0.8000"
    assert (read["collection"]["billed"], read["collection"]["kept"]) == ("80000.00", "40000.00")
    assert read["satisfaction"]["feedback"] == 2 and read["satisfaction"]["average"] == "4.50"
    assert read["skill"]["event"] == "RepReviewed" and read["skill"]["position"] == org.review_position
    # the same figures as GET /kpis for the rep
    kpis = org.get("/kpis", scope=f"rep:{org.a}", period=Q1)
    revenue = next(m for m in kpis["metrics"] if m["metric"] == "revenue")
    assert revenue["attainment"] == read["sales"]["attainment"] and kpis["collection_rate"] == "0.5000"
    # Cai, in another team, appears company-wide
    everyone = {i["rep_id"] for i in org.get(f"/assessments/{Q1}")["items"]}
    assert everyone == {org.a, org.b, org.c}


def test_finalize_freezes_the_scorecards_and_a_late_deal_changes_nothing(org):
    record_quarter(org)
    clock.set_today(date(2026, 3, 31))  # the quarter's last day: not ended
    refused(org.client.post(f"/assessments/{Q1}/finalize", json={}), 409, "period_not_ended")
    clock.set_today(date(2026, 4, 1))
    done = org.post(f"/assessments/{Q1}/finalize", {})
    frozen = {c["rep_id"]: c for c in done["schemes"][0]["scorecards"]}
    assert (frozen[org.a]["grade"], frozen[org.a]["score"]) == ("B", "62.50")
    refused(org.client.post(f"/assessments/{Q1}/finalize", json={}), 409, "already_finalized")
    before = org.get(f"/reps/{org.a}/assessments/{Q1}")
    assert before["status"] == "finalized" and before["digest"] == frozen[org.a]["digest"]

    # a late deal and late feedback dated in the quarter, recorded after the finalization
    late_customer, _ = org.won(org.a, "40000.00", "2026-03-20")
    org.post(f"/customers/{late_customer}/feedback", {"score": 1, "given_on": "2026-03-30"})
    after = org.get(f"/reps/{org.a}/assessments/{Q1}")
    assert after["items"] == before["items"]
    assert (after["score"], after["grade"]) == ("62.50", "B")
    listed = {i["rep_id"]: i for i in org.get(f"/assessments/{Q1}")["items"]}
    assert listed[org.a]["score"] == "62.50" and listed[org.a]["digest"] == frozen[org.a]["digest"]

    check = org.get(f"/reps/{org.a}/assessments/{Q1}/verify")
    assert check["verified"] is True
    item = check["items"][0]
    assert item["frozen_digest"] == item["recomputed_digest"] == frozen[org.a]["digest"]
    assert item["changed_since_finalized"] == [
        {"key": "sales", "frozen": "0.8000", "now": "1.2000"},
        {"key": "collection", "frozen": "0.5000", "now": "0.3333"},  # 40000 of 120000
        {"key": "satisfaction", "frozen": "4.50", "now": "3.33"},
    ]
    assert (item["score_now"], item["grade_now"]) == ("83.32", "A")  # 60 + 6.666 + 1.65 + 15: notes, not edits

    # the finalized grade, for the assessment bonus
    with org.client.app.state.runtime.db.read() as tx:
        grade = finalized_grade(tx, org.scheme, Q1, org.a)
        assert finalized_grade(tx, org.scheme, "2026-Q2", org.a) is None
    assert (grade["grade"], grade["score"], grade["digest"]) == ("B", Decimal("62.50"), frozen[org.a]["digest"])
    assert (grade["scheme_id"], grade["period"], grade["rep_id"]) == (org.scheme, Q1, org.a)
    events = org.get("/events", type="AssessmentRoundScorecardFrozen")["items"]
    assert {(e["data"]["rep_id"], e["data"]["grade"], e["data"]["score"]) for e in events} >= {(org.a, "B", "62.50")}
    # an open period is not verifiable
    refused(org.client.get(f"/reps/{org.a}/assessments/2026-Q2/verify"), 422)


def test_improvement_plans_by_the_managers_above_and_overdue_for_the_manager(org):
    record_quarter(org)
    body = {
        "period": Q1,
        "causes": "未设定目标, 回访不足",
        "actions": "每周回访三家客户",
        "due_on": "2026-04-10",
        "manager_id": org.manager,
    }
    plan = org.post(f"/reps/{org.b}/improvement-plans", body)["id"]
    refused(
        org.client.post(f"/reps/{org.b}/improvement-plans", json={**body, "manager_id": org.a}),
        409,
        "manager_not_allowed",
    )
    refused(org.client.post(f"/reps/{org.b}/improvement-plans", json={**body, "due_on": "2026-02-30"}), 422)
    later = org.post(f"/reps/{org.b}/improvement-plans", {**body, "due_on": "2026-05-10", "manager_id": org.director})
    shown = org.get(f"/reps/{org.b}/assessments/{Q1}")["improvement_plans"]
    assert [(p["id"], p["status"]) for p in shown] == [(plan, "overdue"), (later["id"], "open")]
    overdue = org.get("/improvement-plans", status="overdue", manager_id=org.manager)["items"]
    assert [(p["id"], p["causes"]) for p in overdue] == [(plan, "未设定目标, 回访不足")]
    assert org.get("/improvement-plans", status="overdue", manager_id=org.a)["items"] == []
    org.post(f"/improvement-plans/{plan}/done", {"on": "2026-04-14", "outcome": "已完成"})
    assert org.get("/improvement-plans", status="overdue", manager_id=org.manager)["items"] == []
    refused(org.client.get("/improvement-plans", params={"status": "late"}), 422)


def test_programme_completion_counts_training_up_to_the_due_date(org):
    programme = org.post(
        "/trainings/programmes",
        {
            "name": "产品知识 2026",
            "topic": "product",
            "required_hours": "8",
            "due_by": "2026-03-31",
            "audience": {"teams": [TEAM], "levels": ["mid", "senior"]},
        },
    )["id"]
    org.post(
        f"/reps/{org.a}/trainings",
        {"course": "ERP 基础", "topic": "product", "completed_on": "2026-03-01", "hours": "5"},
    )
    org.post(
        f"/reps/{org.a}/trainings",
        {"course": "ERP 进阶", "topic": "product", "completed_on": "2026-03-31", "hours": "3"},
    )  # on the due date
    org.post(
        f"/reps/{org.b}/trainings",
        {"course": "ERP 基础", "topic": "product", "completed_on": "2026-03-30", "hours": "6"},
    )
    org.post(
        f"/reps/{org.b}/trainings",
        {"course": "ERP 进阶", "topic": "product", "completed_on": "2026-04-01", "hours": "3"},
    )  # a day late
    org.post(
        f"/reps/{org.b}/trainings",
        {"course": "合规", "topic": "compliance", "completed_on": "2026-03-02", "hours": "4"},
    )  # another topic
    report = org.get(f"/trainings/programmes/{programme}")
    rows = {r["rep_id"]: r for r in report["items"]}
    assert set(rows) == {org.a, org.b}  # the manager and Cai are outside the audience
    assert (rows[org.a]["hours_done"], rows[org.a]["complete"], rows[org.a]["short_by"]) == ("8.00", True, "0.00")
    assert (rows[org.b]["hours_done"], rows[org.b]["complete"], rows[org.b]["short_by"]) == ("6.00", False, "2.00")
    assert (report["complete"], report["short"]) == (1, 1)
    bad = {"name": "x", "topic": "cooking", "required_hours": "8", "due_by": "2026-03-31"}
    assert refused(org.client.post("/trainings/programmes", json=bad), 422)["details"]["field"] == "topic"


def test_who_sees_which_scorecards_and_who_may_write(org):
    record_quarter(org)
    rep, manager = bearer(org.client, "rep", org.b), bearer(org.client, "manager", org.manager)
    mine = org.client.get(f"/assessments/{Q1}", headers=rep, params={"min_position": org.position}).json()
    assert [i["rep_id"] for i in mine["items"]] == [org.b]  # a rep sees their own scorecard only
    assert org.client.get(f"/reps/{org.a}/assessments/{Q1}", headers=rep).status_code == 404
    assert org.client.get(f"/reps/{org.b}/assessments/{Q1}", headers=rep).status_code == 200
    team = org.client.get(f"/assessments/{Q1}", headers=manager, params={"min_position": org.position}).json()
    assert {i["rep_id"] for i in team["items"]} == {org.a, org.b}  # the manager's subtree, not Cai
    refused(org.client.get(f"/assessments/{Q1}", headers=manager, params={"scope": "team:华南一组"}), 404)
    refused(org.client.post(f"/assessments/{Q1}/finalize", headers=manager, json={}), 403, "forbidden")
    refused(org.client.post("/assessments/schemes", headers=manager, json=SCHEME), 403, "forbidden")
    body = {"period": Q1, "causes": "回款慢", "actions": "每周跟进", "due_on": "2026-05-01"}
    made = org.client.post(f"/reps/{org.b}/improvement-plans", headers=manager, json=body)
    assert made.status_code == 201, made.text  # in the manager's own name
    refused(org.client.post(f"/reps/{org.c}/improvement-plans", headers=manager, json=body), 404)
    refused(
        org.client.post(f"/reps/{org.b}/improvement-plans", headers=manager, json={**body, "manager_id": org.director}),
        403,
    )
    refused(org.client.post(f"/reps/{org.b}/improvement-plans", headers=rep, json=body), 403)
    by_admin = org.post(f"/reps/{org.b}/improvement-plans", body)  # an admin: the rep's manager by default
    plans = org.get(f"/reps/{org.b}/assessments/{Q1}")["improvement_plans"]
    assert {p["manager_id"] for p in plans if p["id"] == by_admin["id"]} == {org.manager}
    no_manager = refused(org.client.post(f"/reps/{org.director}/improvement-plans", json=body), 422)
    assert no_manager["details"]["field"] == "manager_id"


def test_partner_audience_and_scope_and_notes_on_the_next_period(org):
    partner = org.post("/partners", {"name": "华东星辰分销", "kind": "distributor", "region": "华东"})["id"]
    org.post(f"/reps/{org.b}/transfer", {"partner_id": partner, "effective_from": "2026-01-01", "reason": "加入渠道"})
    refused(
        org.client.post(
            "/assessments/schemes",
            json={**SCHEME, "applies_to": {"partner_id": "00000000-0000-0000-0000-000000000009"}},
        ),
        404,
    )
    channel = org.post(
        "/assessments/schemes",
        {
            **SCHEME,
            "name": "渠道考核",
            "applies_to": {"partner_id": partner},
            "indicators": [{"key": "collection", "source": "kpi:collection_rate", "weight": "1", "full_at": "1"}],
        },
    )["id"]
    org.won(org.b, "50000.00", "2026-03-01", paid="25000.00")
    page = org.get(f"/assessments/{Q1}", scope=f"partner:{partner}", scheme_id=channel)
    assert [(i["rep_id"], i["score"], i["grade"]) for i in page["items"]] == [(org.b, "50.00", "C")]
    everyone = org.get(f"/assessments/{Q1}", scope=f"partner:{partner}")["items"]
    assert {(i["scheme_id"], i["rep_id"]) for i in everyone} == {(channel, org.b), (org.scheme, org.b)}

    clock.set_today(date(2026, 4, 1))
    org.post(f"/assessments/{Q1}/finalize", {})
    _, deal = org.won(org.b, "10000.00", "2026-03-31")  # late, dated in the finalized quarter
    org.post(f"/deals/{deal}/payments", {"amount": "10000.00", "received_on": "2026-04-02"})
    q2 = org.get(f"/reps/{org.b}/assessments/2026-Q2")
    notes = {n["scheme_id"]: n for n in q2["notes"]}
    assert notes[channel]["period"] == Q1
    assert notes[channel]["changed_since_finalized"] == [{"key": "collection", "frozen": "0.5000", "now": "0.5833"}]
    frozen = org.get(f"/reps/{org.b}/assessments/{Q1}")
    assert {i["scheme_id"]: i["score"] for i in frozen["items"]}[channel] == "50.00"
    assert org.get(f"/reps/{org.b}/assessments/{Q1}/verify")["verified"] is True
