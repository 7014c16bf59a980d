"""Channel staff (渠道人员) through the HTTP API, on each backend: partners and their staff,
trainings, periodic reviews and recognitions, and the partner scorecard."""

from datetime import date
from decimal import Decimal

import pytest

from tests.e2e.session import Session

PERIOD = "2026-10"
START, END = date(2026, 10, 1), date(2026, 10, 31)


class Channel(Session):
    def hire(self, name, level, manager_id=None, partner_id=None, team="渠道一组", region="华东"):
        body = {"name": name, "level": level, "team": team, "region": region, "hired_on": "2025-01-01"}
        if manager_id:
            body["manager_id"] = manager_id
        if partner_id:
            body["partner_id"] = partner_id
        return self.post("/reps", body)["id"]

    def won(self, owner, amount, signed_on):
        customer = self.post(
            "/customers",
            {"name": f"客户 {owner[:4]} {amount}", "region": "华东", "industry": "retail", "owner_id": owner},
        )["id"]
        deal = self.post(
            "/deals", {"customer_id": customer, "owner_id": owner, "amount": amount, "product_line": "ERP"}
        )["id"]
        self.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": "1000.00", "signed_on": signed_on})
        return deal


@pytest.fixture
def channel(client):
    c = Channel(client)
    c.partner = c.post("/partners", {"name": "华东星辰分销", "kind": "distributor", "region": "华东"})["id"]
    c.director = c.hire("总监", "director", team="销售总部", region="全国")
    c.manager = c.hire("渠道经理", "manager", c.director)
    c.other_manager = c.hire("华南经理", "manager", c.director, team="华南一组", region="华南")
    c.a = c.hire("Amy 安", "senior", c.manager, partner_id=c.partner)
    c.b = c.hire("Bo 博", "mid", c.manager)
    c.c = c.hire("Cai 蔡", "junior", c.manager)
    # Bo joins the partner from 15 October
    c.post(
        f"/reps/{c.b}/transfer",
        {"partner_id": c.partner, "effective_from": "2026-10-15", "reason": "加入渠道伙伴"},
    )
    return c


def test_partner_scorecard_equals_an_independent_sum_of_what_was_recorded(channel):
    ch = channel
    partner_scope = f"partner:{ch.partner}"
    ch.post("/targets", {"scope": partner_scope, "period": PERIOD, "metric": "revenue", "value": "200000.00"})
    ch.post("/targets", {"scope": partner_scope, "period": PERIOD, "metric": "collections", "value": "80000.00"})

    # (rep, amount, signed_on); the partner's staff on the signing date count
    wins = [
        (ch.a, "100000.00", "2026-10-05"),
        (ch.b, "50000.00", "2026-10-10"),  # before Bo joined the partner
        (ch.b, "30000.00", "2026-10-20"),
        (ch.c, "70000.00", "2026-10-08"),  # never partner staff
        (ch.a, "9000.00", "2026-09-28"),  # another period
    ]
    deals = [ch.won(rep, amount, on) for rep, amount, on in wins]
    payments = [(deals[0], ch.a, "40000.00", "2026-10-25"), (deals[2], ch.b, "10000.00", "2026-10-28")]
    payments += [(deals[3], ch.c, "5000.00", "2026-10-28")]
    for deal, _rep, amount, on in payments:
        ch.post(f"/deals/{deal}/payments", {"amount": amount, "received_on": on})

    trainings = [
        (ch.a, "产品知识: ERP 2026", "product", "2026-10-03", "8", "92.5"),
        (ch.a, "顾问式销售", "sales_skills", "2026-10-12", "1.5", None),
        (ch.a, "合规入门", "compliance", "2026-09-20", "3", None),  # another period
        (ch.b, "客户服务", "service", "2026-10-05", "4", "80"),  # before Bo joined
        (ch.b, "合规年度培训", "compliance", "2026-10-22", "2.25", "100"),
        (ch.c, "产品知识: ERP 2026", "product", "2026-10-03", "6", None),  # never partner staff
    ]
    for rep, course, topic, on, hours, score in trainings:
        body = {"course": course, "topic": topic, "completed_on": on, "hours": hours}
        if score is not None:
            body["score"] = score
        ch.post(f"/reps/{rep}/trainings", body, status=(201,))

    reviews = [
        (ch.a, "2026-Q2", 3, ch.manager),
        (ch.a, "2026-Q3", 4, ch.director),
        (ch.b, "2026-Q3", 5, ch.manager),
        (ch.c, "2026-Q3", 2, ch.manager),
    ]
    for rep, period, rating, reviewer in reviews:
        ch.post(
            f"/reps/{rep}/reviews",
            {
                "period": period,
                "rating": rating,
                "strengths": "客户关系维护好",
                "improvements": "需加强需求分析",
                "reviewer_id": reviewer,
            },
            status=(201,),
        )
    recognitions = [
        (ch.a, "本月最佳销售", "2026-10-31"),
        (ch.b, "新人进步奖", "2026-10-02"),
        (ch.c, "服务之星", "2026-10-09"),
    ]
    for rep, title, on in recognitions:
        ch.post(f"/reps/{rep}/recognitions", {"title": title, "awarded_on": on, "reason": "业绩突出"}, status=(201,))

    # -- the independent sum: who was partner staff on each date, from what this test recorded
    def staff_on(rep, day):
        return rep == ch.a or (rep == ch.b and day >= date(2026, 10, 15))

    def counted(rep, on):
        day = date.fromisoformat(on)
        return START <= day <= END and staff_on(rep, day)

    revenue = sum((Decimal(amount) for rep, amount, on in wins if counted(rep, on)), Decimal(0))
    collected = sum((Decimal(amount) for _d, rep, amount, on in payments if counted(rep, on)), Decimal(0))
    hours_by_topic = {
        "product": Decimal(0),
        "sales_skills": Decimal(0),
        "service": Decimal(0),
        "compliance": Decimal(0),
    }
    for rep, _course, topic, on, hours, _score in trainings:
        if counted(rep, on):
            hours_by_topic[topic] += Decimal(hours)
    latest = {ch.a: ("2026-Q3", 4), ch.b: ("2026-Q3", 5)}
    awarded = [title for rep, title, on in recognitions if counted(rep, on)]
    assert revenue == Decimal("130000.00") and collected == Decimal("50000.00")  # the test's own arithmetic

    card = ch.get(f"/partners/{ch.partner}", period=PERIOD)
    assert (card["name"], card["kind"], card["region"], card["period"]) == (
        "华东星辰分销",
        "distributor",
        "华东",
        PERIOD,
    )
    assert sorted(s["rep_id"] for s in card["staff"]) == sorted([ch.a, ch.b])
    assert card["staff_count"] == 2
    assert Decimal(card["revenue"]["actual"]) == revenue
    assert Decimal(card["revenue"]["target"]) == Decimal("200000.00")
    assert Decimal(card["revenue"]["attainment"]) == (revenue / Decimal("200000.00")).quantize(Decimal("0.0001"))
    assert Decimal(card["collections"]["actual"]) == collected
    assert Decimal(card["collections"]["attainment"]) == (collected / Decimal("80000.00")).quantize(Decimal("0.0001"))
    assert {k: Decimal(v) for k, v in card["training_hours_by_topic"].items()} == hours_by_topic
    assert Decimal(card["training_hours"]) == sum(hours_by_topic.values())
    assert card["trainings"] == 3
    assert {r["rep_id"]: (r["period"], r["rating"]) for r in card["latest_reviews"]} == latest
    assert Decimal(card["average_rating"]) == Decimal("4.5")
    assert [r["title"] for r in card["recognitions"]] == awarded
    by_rep = {s["rep_id"]: s for s in card["staff"]}
    assert Decimal(by_rep[ch.a]["training_hours"]) == Decimal("9.5")
    assert Decimal(by_rep[ch.b]["training_hours"]) == Decimal("2.25")
    assert by_rep[ch.a]["latest_review"]["rating"] == 4 and by_rep[ch.a]["recognitions"] == 1
    for rep in (ch.a, ch.b):  # each staff member's share: what counted while they were the partner's
        assert Decimal(by_rep[rep]["revenue"]) == sum(
            (Decimal(amount) for r, amount, on in wins if r == rep and counted(r, on)), Decimal(0)
        )
        assert Decimal(by_rep[rep]["collections"]) == sum(
            (Decimal(amount) for _d, r, amount, on in payments if r == rep and counted(r, on)), Decimal(0)
        )
    assert sum(Decimal(s["revenue"]) for s in card["staff"]) == revenue

    # a manager sees the partners whose staff all report to them; a manager reviews in their own name
    manager_key = ch.post("/auth/keys", {"role": "manager", "rep_id": ch.manager}, status=(201,))["key"]
    other_key = ch.post("/auth/keys", {"role": "manager", "rep_id": ch.other_manager}, status=(201,))["key"]
    as_manager = {"Authorization": f"Bearer {manager_key}"}
    answer = ch.client.get(f"/partners/{ch.partner}", params={"period": PERIOD}, headers=as_manager)
    assert answer.status_code == 200 and answer.json()["revenue"] == card["revenue"]
    answer = ch.client.get(f"/partners/{ch.partner}", headers={"Authorization": f"Bearer {other_key}"})
    assert answer.status_code == 404
    review = {"period": "2026-10", "rating": 4, "strengths": "s", "improvements": "i", "reviewer_id": ch.director}
    assert ch.client.post(f"/reps/{ch.a}/reviews", json=review, headers=as_manager).status_code == 403

    # the same figures through KPIs and the leaderboard with scope partner:ID
    kpis = ch.get("/kpis", scope=partner_scope, period=PERIOD)
    revenue_row = next(m for m in kpis["metrics"] if m["metric"] == "revenue")
    assert Decimal(revenue_row["actual"]) == revenue and Decimal(revenue_row["target"]) == Decimal("200000.00")
    # the leaderboard ranks the partner's staff (as for a team: whoever is in scope at the period's
    # end) by their whole period's revenue
    board = ch.get("/leaderboards/revenue", scope=partner_scope, period=PERIOD)
    whole_period = {
        rep: sum((Decimal(x) for r, x, on in wins if r == rep and START <= date.fromisoformat(on) <= END), Decimal(0))
        for rep in (ch.a, ch.b)
    }
    assert [(r["rep_id"], Decimal(r["value"])) for r in board["rows"]] == [
        (ch.a, whole_period[ch.a]),
        (ch.b, whole_period[ch.b]),
    ]

    # everything shows on the rep
    rep_reviews = ch.get(f"/reps/{ch.a}/reviews")["items"]
    assert [(r["period"], r["rating"], r["reviewer_id"]) for r in rep_reviews] == [
        ("2026-Q2", 3, ch.manager),
        ("2026-Q3", 4, ch.director),
    ]
    assert [r["period"] for r in ch.get(f"/reps/{ch.a}/reviews", period="2026-Q3")["items"]] == ["2026-Q3"]
    rep = ch.client.get(f"/reps/{ch.a}").json()
    assert (len(rep["trainings"]), len(rep["reviews"]), len(rep["recognitions"])) == (3, 2, 1)
    assert rep["partner_id"] == ch.partner
    development = ch.get(f"/reps/{ch.a}/development")
    assert Decimal(development["training_hours"]) == Decimal("12.5")
    assert Decimal(development["training_hours_by_topic"]["compliance"]) == Decimal("3")


def test_partner_staff_in_the_org_timeline(channel):
    ch = channel
    node = {n["rep_id"]: n for n in ch.get("/org", as_of="2026-10-14")["nodes"]}
    assert node[ch.a]["partner_id"] == ch.partner and node[ch.b]["partner_id"] is None
    node = {n["rep_id"]: n for n in ch.get("/org", as_of="2026-10-15")["nodes"]}
    assert node[ch.b]["partner_id"] == ch.partner
    listed = ch.get("/reps", partner_id=ch.partner, as_of="2026-10-20")["items"]
    assert sorted(r["rep_id"] for r in listed) == sorted([ch.a, ch.b])
    # back to the organisation's own staff: partner_id null; a transfer that omits it keeps it
    ch.post(f"/reps/{ch.a}/transfer", {"team": "渠道二组", "effective_from": "2026-11-01", "reason": "调组"})
    assert ch.client.get(f"/reps/{ch.a}").json()["partner_id"] == ch.partner
    ch.post(f"/reps/{ch.a}/transfer", {"partner_id": None, "effective_from": "2026-11-02", "reason": "回到直销"})
    assert ch.client.get(f"/reps/{ch.a}").json()["partner_id"] is None
    listed = ch.get("/reps", partner_id=ch.partner, as_of="2026-11-03")["items"]
    assert [r["rep_id"] for r in listed] == [ch.b]
    # a partner's target splits among its staff; the company's among regions or partners, never both
    scope = f"partner:{ch.partner}"
    ch.post("/targets", {"scope": scope, "period": "2026-12", "metric": "revenue", "value": "200000.00"})
    children = [{"scope": f"rep:{ch.a}", "value": "120000.00"}, {"scope": f"rep:{ch.b}", "value": "80000.00"}]
    ch.post("/targets/decompose", {"period": "2026-12", "metric": "revenue", "parent": scope, "children": children})
    sheet = ch.get("/targets/2026-12/revenue")
    assert {t["scope"]: t["value"] for t in sheet["targets"]}[f"rep:{ch.a}"] == "120000.00"
    assert sheet["decompositions"] == [{"parent": scope, "children": [f"rep:{ch.a}", f"rep:{ch.b}"]}]
    ch.post("/targets", {"scope": "company", "period": "2026-12", "metric": "revenue", "value": "300000.00"})
    mixed = [{"scope": scope, "value": "200000.00"}, {"scope": "region:华东", "value": "100000.00"}]
    refused = ch.post(
        "/targets/decompose",
        {"period": "2026-12", "metric": "revenue", "parent": "company", "children": mixed},
        status=(422,),
    )
    assert refused["error"]["details"]["field"] == "children"
    # partners are listed; unknown partners are refused naming the field
    partners = ch.get("/partners", kind="distributor")
    assert [p["partner_id"] for p in partners["items"]] == [ch.partner] and partners["next"] is None
    missing = "00000000-0000-4000-8000-000000000000"
    refused = ch.post(
        "/reps", {"name": "X", "level": "junior", "team": "T", "region": "R", "partner_id": missing}, status=(404,)
    )
    assert refused["error"]["details"]["field"] == "partner_id"
    assert ch.client.get(f"/partners/{missing}").status_code == 404
    assert ch.client.get("/kpis", params={"scope": f"partner:{missing}", "period": PERIOD}).status_code == 404
    refused = ch.post("/partners", {"name": "Y", "kind": "wholesaler", "region": "华东"}, status=(422,))
    assert refused["error"]["details"]["field"] == "kind"


def _review(ch, rep, **changes):
    body = {"period": "2026-Q3", "rating": 4, "strengths": "s", "improvements": "i", "reviewer_id": ch.manager}
    return {**body, **changes}


def test_review_rating_and_reviewer_rules(channel):
    ch = channel
    for rating in (0, 6, -1, 4.5, "five"):
        refused = ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, rating=rating), status=(422,))
        fields = {refused["error"]["details"].get("field")} | {
            e["field"] for e in refused["error"]["details"].get("errors", [])
        }
        assert "rating" in fields, refused
    # a senior rep, a manager of another branch, the rep themselves: not a manager or director above the rep
    for reviewer in (ch.c, ch.other_manager, ch.a):
        refused = ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, reviewer_id=reviewer), status=(409,))
        assert refused["error"]["code"] == "reviewer_not_allowed"
        assert refused["error"]["details"]["field"] == "reviewer_id"
        assert "reviewer_id" in refused["error"]["message"]
    refused = ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, reviewer_id=ch.partner), status=(404,))
    assert refused["error"]["details"]["field"] == "reviewer_id"
    refused = ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, period="2026-13"), status=(422,))
    assert refused["error"]["details"]["field"] == "period"
    refused = ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, period="2099-Q1"), status=(422,))
    assert refused["error"]["details"]["field"] == "period"
    assert ch.get(f"/reps/{ch.a}/reviews")["items"] == []  # nothing was written
    assert ch.client.get(f"/reps/{ch.a}").json()["reviews"] == []
    # the manager and the director above both may; one review per period
    ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a), status=(201,))
    ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, period="2026-09", reviewer_id=ch.director), status=(201,))
    again = ch.post(f"/reps/{ch.a}/reviews", _review(ch, ch.a, rating=5), status=(409,))
    assert again["error"]["code"] == "review_exists" and again["error"]["details"]["field"] == "period"
    # training input rules name the field
    for body, field in (
        ({"course": "c", "topic": "cooking", "completed_on": "2026-10-01", "hours": "2"}, "topic"),
        ({"course": "c", "topic": "product", "completed_on": "2026-10-01", "hours": "0"}, "hours"),
        ({"course": "c", "topic": "product", "completed_on": "2026-10-01", "hours": "2", "score": "101"}, "score"),
        ({"course": "c", "topic": "product", "completed_on": "2024-10-01", "hours": "2"}, "completed_on"),
    ):
        refused = ch.post(f"/reps/{ch.a}/trainings", body, status=(422,))
        assert refused["error"]["details"]["field"] == field, refused
