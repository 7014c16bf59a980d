"""Access control through the real app on each backend: authentication, the role x route
matrix over every route, record visibility for reps and managers, and keys' life."""

import re
from datetime import timedelta

import pytest
from fastapi import FastAPI

from api.access import EVERYONE, MONEY, Allow, Record, api_routes, is_public, require_policies
from application import clock
from domain.deal import Deal
from tests.e2e.session import Session
from tests.helpers import bearer, every_stored_value

ROLES = ("rep", "manager", "finance", "auditor", "admin")


@pytest.fixture
def world(client):
    """Two teams: manager M over reps R1 and R2, manager N over R3; each rep owns a customer,
    a deal and a lead; keys for every role."""
    s = Session(client)
    director = s.rep("总监", "director", team="总部", region="全国")
    m = s.rep("经理甲", "manager", manager_id=director)
    n = s.rep("经理乙", "manager", team="华南一组", region="华南", manager_id=director)
    reps = {
        "R1": s.rep("代表一", "mid", manager_id=m),
        "R2": s.rep("代表二", "mid", manager_id=m),
        "R3": s.rep("代表三", "mid", team="华南一组", region="华南", manager_id=n),
    }
    w = {"M": m, "N": n, "director": director, **reps}
    for name, rep in reps.items():
        customer = s.post("/customers", {"name": f"客户{name}", "region": "华东", "industry": "制造", "owner_id": rep})[
            "id"
        ]
        deal = s.post("/deals", {"customer_id": customer, "owner_id": rep, "amount": "1000.00", "product_line": "ERP"})[
            "id"
        ]
        lead = s.lead(f"线索公司{name}", phone=f"1380000000{name[-1]}")["id"]
        s.post(f"/leads/{lead}/assign", {"rep_id": rep, "reason": "test"})
        w |= {f"C{name[-1]}": customer, f"D{name[-1]}": deal, f"L{name[-1]}": lead}
    w["pool_lead"] = s.lead("公海公司", phone="13900000009")["id"]
    w["plan"] = s.post(
        "/plans",
        {
            "name": "P",
            "currency": "CNY",
            "period": "month",
            "effective_from": "2026-01-01",
            "clawback_days": 180,
            "components": [
                {
                    "name": "base",
                    "type": "tiered_rate",
                    "basis": "revenue",
                    "payable_on": "booking",
                    "tier_mode": "marginal",
                    "thresholds": "amount",
                    "tiers": [{"up_to": None, "rate": "0.05"}],
                    "cap": None,
                }
            ],
        },
    )["id"]
    w["keys"] = {
        "rep": bearer(client, "rep", reps["R1"]),
        "manager": bearer(client, "manager", m),
        "finance": bearer(client, "finance"),
        "auditor": bearer(client, "auditor"),
        "admin": bearer(client, "admin"),
        "director": bearer(client, "manager", director),
        "R3": bearer(client, "rep", reps["R3"]),
    }
    w["session"] = s
    return w


def _fill(path: str, w: dict) -> str:
    """A concrete path for a route template, naming records of rep R1 (the rep key's own)."""
    values = {
        "rep_id": w["R1"],
        "customer_id": w["C1"],
        "deal_id": w["D1"],
        "lead_id": w["L1"],
        "plan_id": w["plan"],
        "period": "2026-11",
        "metric": "revenue",
        "name": "pipeline",
        "line_id": f"2026-11~{w['R1']}~x",
        "stakeholder_id": "s-1",
        "proposal_id": "p-1",
        "dispute_id": "d-1",
        "key_id": "00000000-0000-0000-0000-000000000000",
        "partner_id": "00000000-0000-0000-0000-000000000001",
        "scheme_id": "00000000-0000-0000-0000-000000000002",
        "improvement_plan_id": "00000000-0000-0000-0000-000000000004",
        "programme_id": "00000000-0000-0000-0000-000000000003",
    }
    by_prefix = {"/reps/": "R1", "/customers/": "C1", "/leads/": "L1", "/deals/": "D1"}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name == "record_id":
            return w[next(v for prefix, v in by_prefix.items() if path.startswith(prefix))]
        return values[name]

    return re.sub(r"\{([^}]+)\}", value, path)


def test_every_route_declares_an_access_policy(client):
    """Walk every route of the app: each one but the public ones declares exactly one policy."""
    routes = list(api_routes(client.app))
    undeclared = [f"{method} {path}" for method, path, policy in routes if policy is None and not is_public(path)]
    assert undeclared == []
    assert [f"{m} {p}" for m, p, policy in routes if policy is None] == [
        "GET /health",
        "GET /health/ready",
    ]  # liveness and readiness
    assert all(policy.roles and policy.roles <= EVERYONE for _, _, policy in routes if policy is not None)
    # every documented operation is one of the walked routes (nothing is served from elsewhere)
    documented = {f"{m.upper()} {p}" for p, ops in client.app.openapi()["paths"].items() for m in ops}
    assert documented == {f"{m} {p}" for m, p, _ in routes}
    # a record named in the path is checked by the policy, not left to the handler
    for method, path, policy in routes:
        for name in ("rep_id", "customer_id", "lead_id", "deal_id", "record_id", "line_id"):
            if "{" + name + "}" in path:
                assert policy.scope is not None and policy.scope.param == name, (method, path)


def test_an_app_with_an_undeclared_route_refuses_to_start():
    app = FastAPI()

    @app.get("/declared", dependencies=[Allow(MONEY)])
    def declared() -> None: ...

    @app.get("/deals/{deal_id}", dependencies=[Allow(EVERYONE, scope=Record(Deal))])
    def deal(deal_id: str) -> None: ...

    require_policies(app)

    @app.post("/forgotten")
    def forgotten() -> None: ...

    with pytest.raises(RuntimeError, match="POST /forgotten"):
        require_policies(app)
    with pytest.raises(ValueError):
        Allow("root")


def test_role_by_route_matrix(client, world):
    """Every route, every role: a role without the right gets 403 and writes nothing; a role
    with it is never refused for its role (it may still get 404/409/422 for the data)."""
    head = client.get("/events", params={"limit": 1000}).json()["items"][-1]["position"]
    refused = 0
    routes = list(api_routes(client.app))
    assert len(routes) > 80
    for method, template, policy in routes:
        key, public = f"{method} {template}", is_public(template)
        path = _fill(template, world)
        for role in ROLES:
            answer = client.request(
                method, path, headers=world["keys"][role], json={} if method in ("POST", "PUT", "PATCH") else None
            )
            assert answer.status_code != 500, (key, role, answer.text)
            if public:
                assert answer.status_code == 200
            elif role in policy.roles:
                assert answer.status_code not in (401, 403), (key, role, answer.text)
            else:
                assert answer.status_code == 403, (key, role, answer.status_code, answer.text)
                assert answer.json()["error"]["code"] == "forbidden"
                refused += 1
                if method == "GET":  # HEAD follows GET's rule (it is not served at all today)
                    assert client.head(path, headers=world["keys"][role]).status_code in (403, 405), (key, role)
        unauthenticated = client.request(method, path, headers={"Authorization": ""})
        assert unauthenticated.status_code == (200 if public else 401), key
    assert refused > 100
    # the refusals wrote nothing: every event after the setup was written by an allowed role
    later = client.get("/events", params={"after": head, "limit": 1000}).json()["items"]
    assert {e["actor"].split(":")[0] for e in later} <= {"rep", "manager", "finance", "admin"}


def test_authentication(client, world):
    assert client.get("/health", headers={"Authorization": ""}).status_code == 200
    assert client.get("/openapi.json", headers={"Authorization": ""}).status_code == 200
    for header in ("", "Bearer", "Bearer wrong-token", "Basic dXNlcjpwYXNz", "bearer " + "x" * 500):
        answer = client.get("/org", headers={"Authorization": header})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    # without SALESLEDGER_ADMIN_TOKEN set, only minted keys open the door
    assert client.get("/auth/whoami", headers=world["keys"]["rep"]).json()["actor"] == f"rep:{world['R1']}"


def test_reps_see_their_own_records_only(client, world):
    rep, other = world["keys"]["rep"], world["keys"]["R3"]
    position = world["session"].position  # read-your-writes: the read models have the world in them

    def get(path, headers=rep, **params):
        return client.get(path, headers=headers, params={"min_position": position, **params})

    for path in (
        f"/customers/{world['C1']}",
        f"/deals/{world['D1']}",
        f"/leads/{world['L1']}",
        f"/reps/{world['R1']}",
        f"/deals/{world['D1']}/history",
        f"/leads/queue/{world['R1']}",
        f"/commissions/statements/{world['R1']}/2026-11",
        f"/leads/{world['pool_lead']}",
    ):
        assert get(path).status_code == 200, path
    for path in (
        f"/customers/{world['C2']}",
        f"/deals/{world['D2']}",
        f"/leads/{world['L2']}",
        f"/reps/{world['R2']}",
        f"/customers/{world['C2']}/history",
        f"/leads/queue/{world['R2']}",
        f"/commissions/statements/{world['R2']}/2026-11",
        f"/reps/{world['M']}",
    ):
        answer = get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", path
    # another's record looks exactly like a missing one
    missing = get("/deals/00000000-0000-0000-0000-000000000001").json()["error"]
    hidden = get(f"/deals/{world['D2']}").json()["error"]
    assert (missing["code"], missing["details"].keys()) == (hidden["code"], hidden["details"].keys())
    leads = {i["lead_id"] for i in get("/leads").json()["items"]}
    assert leads == {world["L1"], world["pool_lead"]}
    pipeline = get("/pipeline").json()
    assert sum(s["count"] for s in pipeline["stages"]) == 1
    assert get("/customers/distribution").json()["total"] == 1
    assert get("/kpis", period="2026-11", scope=f"rep:{world['R1']}").status_code == 200
    assert get("/kpis", period="2026-11", scope="company").status_code == 404
    assert get("/kpis", period="2026-11", scope=f"rep:{world['R2']}").status_code == 404
    # writing on another's records, or in another's name
    assert client.post(f"/deals/{world['D2']}/stage", headers=rep, json={"stage": "proposal"}).status_code == 404
    assert (
        client.post(
            "/deals",
            headers=rep,
            json={"customer_id": world["C1"], "owner_id": world["R2"], "amount": "1.00", "product_line": "ERP"},
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/customers/{world['C1']}/visits",
            headers=rep,
            json={"rep_id": world["R2"], "kind": "visit", "occurred_at": "2026-11-02T10:00:00"},
        ).status_code
        == 404
    )
    # and their own work goes through, recorded under their name
    moved = client.post(f"/deals/{world['D1']}/stage", headers=rep, json={"stage": "proposal"})
    assert moved.status_code == 200
    [event] = client.get("/events", params={"after": moved.json()["position"] - 1}).json()["items"]
    assert event["actor"] == f"rep:{world['R1']}"
    # a customer a rep registers without an owner is theirs
    mine = client.post("/customers", headers=rep, json={"name": "新客户", "region": "华东", "industry": "制造"})
    assert client.get(f"/customers/{mine.json()['id']}", headers=rep).json()["owner_id"] == world["R1"]
    # R3, in another team, sees none of R1's
    assert get(f"/customers/{world['C1']}", headers=other).status_code == 404
    assert get(f"/customers/{world['C3']}", headers=other).status_code == 200


def test_managers_see_their_subtree(client, world):
    manager, director = world["keys"]["manager"], world["keys"]["director"]
    for record in ("C1", "C2", "D1", "D2", "L1", "L2", "R1", "R2", "M"):
        kind = {"C": "customers", "D": "deals", "L": "leads", "R": "reps", "M": "reps"}[record[0]]
        assert client.get(f"/{kind}/{world[record]}", headers=manager).status_code == 200, record
    for record, kind in (("C3", "customers"), ("D3", "deals"), ("L3", "leads"), ("R3", "reps"), ("N", "reps")):
        assert client.get(f"/{kind}/{world[record]}", headers=manager).status_code == 404, record
        assert client.get(f"/{kind}/{world[record]}", headers=director).status_code == 200, record
    listed = client.get("/leads", headers=manager, params={"min_position": world["session"].position})
    assert {i["lead_id"] for i in listed.json()["items"]} == {world["L1"], world["L2"], world["pool_lead"]}
    assert (
        client.get("/kpis", headers=manager, params={"period": "2026-11", "scope": "team:华东一组"}).status_code == 200
    )
    assert client.get("/kpis", headers=manager, params={"period": "2026-11", "scope": "company"}).status_code == 404
    assert client.get("/kpis", headers=director, params={"period": "2026-11", "scope": "company"}).status_code == 200
    # a manager acts below themselves, never on themselves
    assert (
        client.post(
            f"/reps/{world['R1']}/targets",
            headers=manager,
            json={"period": "2026-11", "metric": "revenue", "value": "1000.00"},
        ).status_code
        == 201
    )
    assert (
        client.post(
            f"/reps/{world['M']}/targets",
            headers=manager,
            json={"period": "2026-11", "metric": "revenue", "value": "1.00"},
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/reps/{world['R3']}/targets",
            headers=manager,
            json={"period": "2026-11", "metric": "revenue", "value": "1.00"},
        ).status_code
        == 404
    )
    sheet = client.get("/targets/2026-11/revenue", headers=world["keys"]["R3"]).json()
    assert sheet["targets"] == [] and sheet["history"] == []
    # adjustments: a manager approves for their team in their own name; deductions are finance's
    body = {"rep_id": world["R1"], "kind": "adjustment", "amount": "100.00", "reason": "展会补贴"}
    adjusted = client.post("/commissions/periods/2026-11/adjustments", headers=manager, json=body)
    assert adjusted.status_code == 201, adjusted.text
    assert (
        client.post(
            "/commissions/periods/2026-11/adjustments", headers=manager, json={**body, "rep_id": world["R3"]}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/commissions/periods/2026-11/adjustments", headers=manager, json={**body, "kind": "deduction"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/commissions/periods/2026-11/adjustments", headers=manager, json={**body, "approver_id": world["director"]}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/commissions/periods/2026-11/adjustments",
            headers=world["keys"]["finance"],
            json={**body, "kind": "deduction", "approver_id": world["M"]},
        ).status_code
        == 201
    )
    lines = client.get(f"/commissions/statements/{world['R1']}/2026-11", headers=world["keys"]["rep"]).json()["lines"]
    assert sorted(line["kind"] for line in lines) == ["adjustment", "deduction"]


def test_keys_are_shown_once_listed_without_secrets_and_revoked_at_once(client, world):
    minted = client.post(
        "/auth/keys", json={"role": "auditor", "label": "外审 2026"}, headers={"Idempotency-Key": "mint-1"}
    )
    assert minted.status_code == 201
    secret, key_id = minted.json()["key"], minted.json()["key_id"]
    replay = client.post(
        "/auth/keys", json={"role": "auditor", "label": "外审 2026"}, headers={"Idempotency-Key": "mint-1"}
    )
    assert replay.json()["key_id"] == key_id and replay.json()["key"] == "[shown once]"
    auditor = {"Authorization": f"Bearer {secret}"}
    assert client.get("/events", headers=auditor).status_code == 200
    assert (
        client.post(
            "/reps", headers=auditor, json={"name": "x", "level": "mid", "team": "t", "region": "r"}
        ).status_code
        == 403
    )
    listed = client.get("/auth/keys", params={"min_position": minted.json()["position"]}).json()["items"]
    mine = next(k for k in listed if k["key_id"] == key_id)
    assert (mine["role"], mine["label"], mine["minted_by"], mine["revoked"]) == (
        "auditor",
        "外审 2026",
        "admin:token",
        False,
    )
    # the secret is nowhere in the database: not in events, read models or the idempotency table
    assert not [table for table, value in every_stored_value(client.app.state.runtime.db) if secret.encode() in value]
    revoked = client.post(f"/auth/keys/{key_id}/revoke", json={"reason": "engagement over"})
    assert revoked.status_code == 200
    assert client.get("/events", headers=auditor).status_code == 401
    assert client.post(f"/auth/keys/{key_id}/revoke", json={"reason": "again"}).status_code == 409
    # a rep's keys stop working when they leave
    assert client.get("/auth/whoami", headers=world["keys"]["R3"]).status_code == 200
    left = client.post(
        f"/reps/{world['R3']}/leave", json={"effective_on": "2026-11-20", "reason": "离职", "reassign_to": world["N"]}
    )
    assert left.status_code == 200, left.text
    assert client.get("/auth/whoami", headers=world["keys"]["R3"]).status_code == 401
    # keys are checked when minted
    assert client.post("/auth/keys", json={"role": "rep"}).status_code == 422
    assert client.post("/auth/keys", json={"role": "finance", "rep_id": world["R1"]}).status_code == 422
    assert client.post("/auth/keys", json={"role": "manager", "rep_id": world["R1"]}).status_code == 409
    assert client.post("/auth/keys", json={"role": "root"}).status_code == 422
    assert client.post("/auth/keys", headers=world["keys"]["manager"], json={"role": "admin"}).status_code == 403


def test_finance_runs_the_money_and_auditors_read_everything(client, world):
    finance, auditor = world["keys"]["finance"], world["keys"]["auditor"]
    won = client.post(
        f"/deals/{world['D1']}/win",
        headers=world["keys"]["rep"],
        json={"amount": "1000.00", "gross_margin": "300.00", "signed_on": "2026-11-03"},
    )
    assert won.status_code == 200, won.text
    assigned = client.post(
        f"/reps/{world['R1']}/plan", headers=finance, json={"plan_id": world["plan"], "effective_from": "2026-01-01"}
    )
    assert assigned.status_code == 200, assigned.text
    paid = client.post(
        f"/deals/{world['D1']}/payments", headers=finance, json={"amount": "400.00", "received_on": "2026-11-10"}
    )
    assert paid.status_code == 200, paid.text
    assert client.get(f"/customers/{world['C3']}", headers=finance).status_code == 200
    assert client.get("/leads", headers=finance).status_code == 403
    statement = client.get(
        f"/commissions/statements/{world['R1']}/2026-11",
        headers=finance,
        params={"min_position": paid.json()["position"]},
    ).json()
    assert statement["total"] == "50.00"
    line = statement["lines"][0]["id"]
    assert client.get(f"/commissions/lines/{line}/explain", headers=auditor).status_code == 200
    assert client.get(f"/commissions/lines/{line}/explain", headers=world["keys"]["R3"]).status_code == 404
    clock.set_today(clock.today().replace(year=2026, month=12, day=15))  # November has ended
    try:
        closed = client.post("/commissions/periods/2026-11/close", headers=finance, json={})
    finally:
        clock.set_today(None)
    assert closed.status_code == 200, closed.text
    assert client.get(f"/commissions/statements/{world['R1']}/2026-11/verify", headers=auditor).json()["verified"]
    actors = {
        e["actor"]
        for e in client.get("/events", headers=auditor, params={"after": won.json()["position"]}).json()["items"]
    }
    assert actors == {f"finance:key:{client.get('/auth/whoami', headers=finance).json()['key_id']}"}
    assert (
        client.post(
            f"/deals/{world['D2']}/payments", headers=auditor, json={"amount": "1.00", "received_on": "2026-11-10"}
        ).status_code
        == 403
    )


def _sees(client, key, world, *records):
    kinds = {"C": "customers", "D": "deals", "L": "leads"}  # R1.., M, N: reps
    return {r: client.get(f"/{kinds.get(r[0], 'reps')}/{world[r]}", headers=key).status_code == 200 for r in records}


def test_a_transfer_moves_a_report_between_subtrees_at_once(client, world):
    """The org directory behind scope decisions is current as soon as the transfer command has
    answered: no `min_position`, no waiting for the org read model."""
    manager, other = world["keys"]["manager"], bearer(client, "manager", world["N"])
    assert _sees(client, manager, world, "R1", "C1", "D1", "L1") == dict.fromkeys(("R1", "C1", "D1", "L1"), True)
    assert _sees(client, other, world, "R1", "C1", "D1", "L1", "R3") == {
        "R1": False,
        "C1": False,
        "D1": False,
        "L1": False,
        "R3": True,
    }
    # a manager cannot see, nor act on, a rep of another subtree
    assert _sees(client, manager, world, "R3", "C3", "D3", "N") == dict.fromkeys(("R3", "C3", "D3", "N"), False)
    assert client.post(f"/deals/{world['D3']}/stage", headers=manager, json={"stage": "proposal"}).status_code == 404
    assert client.get(f"/commissions/statements/{world['R3']}/2026-11", headers=manager).status_code == 404

    moved = client.post(
        f"/reps/{world['R1']}/transfer",
        json={"manager_id": world["N"], "effective_from": clock.today().isoformat(), "reason": "调岗"},
    )
    assert moved.status_code == 200, moved.text
    assert _sees(client, other, world, "R1", "C1", "D1", "L1") == dict.fromkeys(("R1", "C1", "D1", "L1"), True)
    assert _sees(client, manager, world, "R1", "C1", "D1", "L1", "R2") == {
        "R1": False,
        "C1": False,
        "D1": False,
        "L1": False,
        "R2": True,
    }
    assert client.get(f"/leads/queue/{world['R1']}", headers=other).status_code == 200
    assert client.get(f"/leads/queue/{world['R1']}", headers=manager).status_code == 404
    # the director above both still sees everyone
    assert all(_sees(client, world["keys"]["director"], world, "R1", "R2", "R3", "C1").values())


def test_a_future_dated_transfer_changes_nothing_before_its_date(client, world):
    manager, other = world["keys"]["manager"], bearer(client, "manager", world["N"])
    today = clock.today()
    later = today + timedelta(days=30)
    moved = client.post(
        f"/reps/{world['R2']}/transfer",
        json={"manager_id": world["N"], "effective_from": later.isoformat(), "reason": "下月调岗"},
    )
    assert moved.status_code == 200, moved.text
    assert _sees(client, manager, world, "R2", "C2") == {"R2": True, "C2": True}
    assert _sees(client, other, world, "R2", "C2") == {"R2": False, "C2": False}
    try:
        clock.set_today(later)
        assert _sees(client, manager, world, "R2", "C2") == {"R2": False, "C2": False}
        assert _sees(client, other, world, "R2", "C2") == {"R2": True, "C2": True}
        clock.set_today(later - timedelta(days=1))
        assert _sees(client, manager, world, "R2", "C2") == {"R2": True, "C2": True}
    finally:
        clock.set_today(None)


def test_the_org_directory_applies_only_new_rep_events(client, world):
    """Built once and kept current incrementally: each use reads the Rep events after the last
    position it saw, never the whole history again."""
    rt = client.app.state.runtime
    directory = rt.directory
    directory.catch_up()
    reads = []
    read = directory.feed.read

    def counting(after, limit, stop=None, topics=()):
        found = read(after, limit, stop=stop, topics=topics)
        reads.append((after, len(found)))
        return found

    directory.feed = type("Feed", (), {"head": staticmethod(rt.source.head), "read": staticmethod(counting)})()
    try:
        seen = directory.position
        assert directory.catch_up() == seen and reads == []  # nothing new: no read at all
        client.post(f"/deals/{world['D1']}/stage", json={"stage": "proposal"})  # not a Rep event
        hired = client.post("/reps", json={"name": "新人", "level": "junior", "team": "t", "region": "r"}).json()
        assert directory.canonical(hired["id"].upper()) == hired["id"]
        assert reads == [(seen, 1)]  # one read from where it was: the new Rep event only
        assert directory.position == rt.source.head()
    finally:
        directory.feed = rt.source
