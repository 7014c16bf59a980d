"""Importing history from another CRM (POST /imports, and `salesledger import` for the CLI) on
each backend: a generated export round-trips into the lists, receivables and KPIs (expected
figures computed here from the files, independently of the read models); re-importing writes
nothing; every kind of bad row is reported with its file and line and nothing is written."""

import csv
import io
import random
from collections import defaultdict
from decimal import Decimal

import pytest

from tests.e2e.session import Session

STAGES = ["initial_contact", "needs_analysis", "proposal", "negotiation"]


def table(header, rows, *, bom=False, crlf=False):
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if crlf else "\n").writerows([header.split(","), *rows])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def export(seed=3, reps=6, customers=10, deals=40):
    """A deterministic export of a year of history (2025), and what it says."""
    rnd = random.Random(seed)
    rep_rows = [["D1", "总监", "director", "总部", "全国", "", "2024-01-01"]]
    rep_rows += [["M1", "经理", "manager", "华东一组", "华东", "D1", "2024-01-01"]]
    rep_rows += [[f"R{i}", f"代表{i}", "mid", "华东一组", "华东", "M1", "2024-06-01"] for i in range(reps)]
    customer_rows = [
        [f"C{i}", f"客户{i}, 有限公司\n第{i}分部", "华东", "制造", f"R{i % reps}", rnd.choice("ABC")]
        for i in range(customers)
    ]
    deal_rows, stage_rows, payment_rows, refund_rows = [], [], [], []
    expect = {"deals": {}, "signed_2025": Decimal(0), "won": 0}
    for i in range(deals):
        customer = rnd.randrange(customers)
        owner = f"R{customer % reps}"
        amount = Decimal(rnd.randrange(1000, 90000)) + Decimal(rnd.randrange(100)) / 100
        month = rnd.randrange(1, 10)
        opened = f"2025-{month:02d}-0{rnd.randrange(1, 9)}"
        reached = rnd.randrange(1, 4)
        for s in range(1, reached + 1):
            stage_rows.append([f"X{i}", STAGES[s], f"2025-{month:02d}-{10 + s}"])
        status = rnd.choice(["open", "won", "won", "lost"])
        signed = f"2025-{month + 2:02d}-15" if status in ("won", "lost") else ""
        margin = (amount * Decimal("0.3")).quantize(Decimal("0.01")) if status == "won" else ""
        deal_rows.append(
            [
                f"X{i}",
                f"C{customer}",
                owner,
                f"项目{i}",
                rnd.choice(["ERP", "CRM"]),
                f"{amount}",
                "CNY",
                opened,
                STAGES[reached],
                status,
                signed,
                f"{margin}",
                "价格" if status == "lost" else "",
            ]
        )
        collected = refunded = Decimal(0)
        if status == "won":
            expect["won"] += 1
            expect["signed_2025"] += amount
            paid = (amount / 2).quantize(Decimal("0.01"))
            payment_rows.append([f"X{i}", f"{paid}", f"2025-{month + 3:02d}-01"])
            collected = paid
            if rnd.random() < 0.3:
                payment_rows.append([f"X{i}", f"{amount - paid}", f"2025-{month + 3:02d}-20"])
                collected = amount
            if rnd.random() < 0.2:
                refund_rows.append([f"X{i}", "100.00", f"2025-{month + 3:02d}-25", "质量问题"])
                refunded = Decimal("100.00")
        expect["deals"][f"X{i}"] = {
            "owner": owner,
            "status": status,
            "stage": STAGES[reached],
            "amount": amount,
            "collected": collected,
            "refunded": refunded,
        }
    files = {
        "reps.csv": table(
            "external_id,name,level,team,region,manager_external_id,hired_on", rep_rows, bom=True, crlf=True
        ),
        "customers.csv": table("external_id,name,region,industry,owner_external_id,grade", customer_rows, crlf=True),
        "deals.csv": table(
            "external_id,customer_external_id,owner_external_id,title,product_line,amount,currency,opened_on,stage,"
            "status,signed_on,gross_margin,lost_reason",
            deal_rows,
        ),
        "deal_stages.csv": table("deal_external_id,stage,changed_on", stage_rows),
        "payments.csv": table("deal_external_id,amount,received_on", payment_rows),
        "refunds.csv": table("deal_external_id,amount,refunded_on,reason", refund_rows),
    }
    expect["rows"] = {
        "reps.csv": len(rep_rows),
        "customers.csv": len(customer_rows),
        "deals.csv": len(deal_rows),
        "deal_stages.csv": len(stage_rows),
        "payments.csv": len(payment_rows),
        "refunds.csv": len(refund_rows),
    }
    expect["customers"] = {row[0]: row for row in customer_rows}
    return files, expect


def send(client, files, dry_run=False):
    return client.post(
        "/imports",
        params={"dry_run": str(dry_run).lower()},
        files=[("files", (name, data, "text/csv")) for name, data in files.items()],
    )


def all_items(session, path, **params):
    items, cursor = [], None
    while True:
        page = session.get(path, limit=7, **params, **({"after": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            return items


def test_import_round_trip_and_idempotent_reimport(client):
    files, expect = export()
    dry = send(client, files, dry_run=True)
    assert dry.status_code == 200, dry.text
    assert dry.json()["position"] is None and client.get("/events", params={"limit": 5}).json()["items"] == []
    answer = send(client, files)
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert {k: v["rows"] for k, v in report["files"].items()} == expect["rows"]
    assert report["events"] == dry.json()["events"] > 0 and report["already_present"] == 0
    s = Session(client)
    s.position = report["position"]

    reps = all_items(s, "/reps")
    assert sorted(r["external_id"] for r in reps) == sorted(["D1", "M1", *(f"R{i}" for i in range(6))])
    by_ext = {r["external_id"]: r for r in reps}
    assert by_ext["R0"]["manager_id"] == by_ext["M1"]["rep_id"] and by_ext["R0"]["hired_on"] == "2024-06-01"
    assert s.get("/reps", external_id="R3")["items"] == [by_ext["R3"]]

    customers = all_items(s, "/customers")
    assert len(customers) == len(expect["customers"])
    for c in customers:
        row = expect["customers"][c["external_id"]]
        assert c["name"] == row[1] and c["grade"] == row[5] and c["owner_id"] == by_ext[row[4]]["rep_id"]

    deals = all_items(s, "/deals")
    assert len(deals) == len(expect["deals"])
    for d in deals:
        want = expect["deals"][d["external_id"]]
        assert d["owner_id"] == by_ext[want["owner"]]["rep_id"]
        assert d["status"] == want["status"] and Decimal(d["amount"]) == want["amount"]
        assert Decimal(d["collected"]) == want["collected"] and Decimal(d["refunded"]) == want["refunded"]
        if want["status"] == "open":
            assert d["stage"] == want["stage"]
    deal = next(d for d in deals if expect["deals"][d["external_id"]]["status"] == "won")
    assert s.get("/deals", external_id=deal["external_id"])["items"][0]["deal_id"] == deal["deal_id"]
    # the stage changes carry the files' dates, the recording time is the import's
    history = s.get(f"/deals/{deal['deal_id']}")
    assert all(h["on"].startswith("2025-") for h in history["stage_history"])

    # KPIs: revenue signed in 2025 and the number of contracts, per the files
    kpis = s.get("/kpis", period="2025", scope="company")
    revenue = next(m for m in kpis["metrics"] if m["metric"] == "revenue")
    assert Decimal(revenue["actual"]) == expect["signed_2025"]
    signed = next(m for m in kpis["metrics"] if m["metric"] == "contracts_signed")
    assert Decimal(signed["actual"]) == expect["won"]
    # receivables: collected less refunds per owner, per the files
    rows = {r["rep"]: r for r in s.get("/receivables", period="2025")["rows"]}
    kept = defaultdict(Decimal)
    for d in expect["deals"].values():
        if d["status"] == "won":
            kept[by_ext[d["owner"]]["rep_id"]] += d["collected"] - d["refunded"]
    assert {rep: Decimal(r["collected"]) for rep, r in rows.items()} == dict(kept)

    again = send(client, files)
    assert again.status_code == 200, again.text
    assert again.json()["events"] == 0 and again.json()["already_present"] == sum(expect["rows"].values())
    assert client.get("/events", params={"limit": 1, "after": report["position"]}).json()["items"] == []


BAD = [
    ("reps.csv", "external_id,name,level,team,region\nR1,Amy,wizard,T,R\n", "reps.csv:2: level must be one of"),
    ("reps.csv", "external_id,name,level,team,region,hired_on\nR1,Amy,mid,T,R,2025-02-30\n", "reps.csv:2: hired_on"),
    (
        "reps.csv",
        "external_id,name,level,team,region,manager_external_id\nR1,Amy,mid,T,R,R9\n",
        "reps.csv:2: manager_external_id",
    ),
    (
        "deals.csv",
        "external_id,customer_external_id,owner_external_id,product_line,amount,opened_on\n"
        "X1,C1,R1,ERP,-5.00,2025-01-01\n",
        "deals.csv:2: amount must not be negative",
    ),
    (
        "deals.csv",
        "external_id,customer_external_id,owner_external_id,product_line,amount,opened_on\n"
        "X1,C404,R1,ERP,5.00,2025-01-01\n",
        "deals.csv:2: customer_external_id: no customer",
    ),
    ("deal_stages.csv", "deal_external_id,stage,changed_on\nX0,dreaming,2025-02-01\n", "deal_stages.csv:2: stage"),
    ("payments.csv", "deal_external_id,amount,received_on\nX404,5.00,2025-02-01\n", "payments.csv:2: deal_external_id"),
    (
        "deals.csv",
        "external_id,customer_external_id,owner_external_id,product_line,amount,opened_on\n"
        "X1,C1,R1,ERP,5.00,2025-01-01\nX1,C1,R1,ERP,5.00,2025-01-01\n",
        "deals.csv:3: external_id 'X1' appears twice",
    ),
    ("refunds.csv", "deal_external_id,amount\nX0,5.00\n", "refunds.csv:1: missing columns refunded_on"),
]


@pytest.mark.parametrize("name,text,problem", BAD, ids=[b[2].split(":", 2)[2][:30] for b in BAD])
def test_a_bad_row_writes_nothing_and_says_where(client, name, text, problem):
    base = {
        "reps.csv": table("external_id,name,level,team,region", [["R1", "Amy", "mid", "T", "R"]]),
        "customers.csv": table(
            "external_id,name,region,industry,owner_external_id", [["C1", "客户", "华东", "制造", "R1"]]
        ),
        "deals.csv": table(
            "external_id,customer_external_id,owner_external_id,product_line,amount,opened_on",
            [["X0", "C1", "R1", "ERP", "10.00", "2025-01-01"]],
        ),
    }
    answer = send(client, {**base, name: text.encode()})
    assert answer.status_code == 422, answer.text
    error = answer.json()["error"]
    assert error["code"] == "import_rejected"
    assert any(p.startswith(problem) for p in error["details"]["problems"]), error
    assert client.get("/events", params={"limit": 5}).json()["items"] == []


def test_every_bad_row_is_reported_at_once(client):
    text = (
        "external_id,name,level,team,region,hired_on\r\n"
        '"R1","Amy ""A""",wizard,T,R,\r\n'
        'R2,"Bo,\r\nsecond line",mid,T,R,2025-13-01\r\n'
        "R3,Cai,mid,T,R,2025-01-01\r\n"
        "R4,,mid,T,R,\r\n"
    )
    answer = send(client, {"reps.csv": ("\ufeff" + text).encode()})
    problems = answer.json()["error"]["details"]["problems"]
    assert [p.split(": ")[0] for p in problems] == ["reps.csv:2", "reps.csv:3", "reps.csv:6"]  # R2 spans lines 3-4
    assert client.get("/events", params={"limit": 5}).json()["items"] == []


def test_bom_crlf_and_quoted_line_breaks(client):
    text = '\ufeffexternal_id,name,region,industry\r\nC1,"上海某某, 有限公司\r\n第二行",华东,制造\r\n'
    rep = "external_id,name,level,team,region\r\nR1,张三,mid,华东一组,华东\r\n"
    answer = send(client, {"customers.csv": text.encode(), "reps.csv": rep.encode()})
    assert answer.status_code == 200, answer.text
    s = Session(client)
    s.position = answer.json()["position"]
    [customer] = s.get("/customers", external_id="C1")["items"]
    assert customer["name"] == "上海某某, 有限公司\r\n第二行"


def test_xlsx_workbooks(client):
    from datetime import date

    from openpyxl import Workbook

    def workbook(rows):
        book = Workbook()
        for row in rows:
            book.active.append(row)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    files = {
        "reps.xlsx": workbook(
            [
                ["external_id", "name", "level", "team", "region", "hired_on"],
                ["R1", "李四", "senior", "华南一组", "华南", date(2024, 3, 1)],
            ]
        ),
        "customers.xlsx": workbook(
            [
                ["external_id", "name", "region", "industry", "owner_external_id"],
                ["C1", "广州客户", "华南", "零售", "R1"],
            ]
        ),
        "deals.xlsx": workbook(
            [
                [
                    "external_id",
                    "customer_external_id",
                    "owner_external_id",
                    "product_line",
                    "amount",
                    "opened_on",
                    "status",
                    "signed_on",
                    "gross_margin",
                ],
                ["X1", "C1", "R1", "ERP", "12000.50", date(2025, 1, 5), "won", date(2025, 2, 1), "3000"],
            ]
        ),
    }
    answer = client.post("/imports", files=[("files", (n, d, "application/octet-stream")) for n, d in files.items()])
    assert answer.status_code == 200, answer.text
    s = Session(client)
    s.position = answer.json()["position"]
    [rep] = s.get("/reps", external_id="R1")["items"]
    assert rep["hired_on"] == "2024-03-01" and rep["level"] == "senior"
    [deal] = s.get("/deals", external_id="X1")["items"]
    assert deal["signed_amount"] == "12000.50" and deal["signed_on"] == "2025-02-01" and deal["status"] == "won"
    bad = workbook([["external_id", "name", "level", "team", "region"], ["R2", "王五", "boss", "T", "R"]])
    answer = client.post("/imports", files=[("files", ("reps.xlsx", bad, "application/octet-stream"))])
    assert answer.json()["error"]["details"]["problems"] == [
        "reps.xlsx:2: level must be one of: junior, mid, senior, manager, director"
    ]


def test_only_admins_import(client):
    from tests.helpers import bearer

    answer = client.post(
        "/imports",
        files=[("files", ("reps.csv", b"external_id,name,level,team,region\n", "text/csv"))],
        headers=bearer(client, "finance"),
    )
    assert answer.status_code == 403


def test_an_import_interrupted_between_transactions_is_completed_by_a_rerun(client):
    """The bulk write commits a few records per transaction here; the third transaction fails
    (a crash mid-write): what was committed is whole records only, and importing the same files
    again writes the rest, once, to the same end state as an uninterrupted import."""
    from datetime import date

    from domain.base import Meta

    files, expect = export(deals=60)
    planned = send(client, files, dry_run=True).json()["events"]
    rt = client.app.state.runtime
    imports, recorder = rt.ledger.imports, rt.store.recorder
    imports.chunk_events = 40
    calls = []
    real = recorder.insert_bulk

    def failing(stored_events):
        calls.append(len(stored_events))
        if len(calls) == 3:
            raise RuntimeError("the process died here")
        real(stored_events)

    recorder.insert_bulk = failing
    try:
        with pytest.raises(RuntimeError):
            imports.run(Meta(actor="import"), files, today=date(2026, 11, 30))
    finally:
        recorder.insert_bulk = real
    written = len(all_events(client))
    assert 0 < written < planned and len(calls) == 3

    answer = send(client, files)
    assert answer.status_code == 200, answer.text
    assert answer.json()["events"] == planned - written and answer.json()["already_present"] > 0
    assert len(all_events(client)) == planned
    s = Session(client)
    s.position = answer.json()["position"]
    deals = all_items(s, "/deals")
    assert len(deals) == len(expect["deals"])
    for d in deals:
        want = expect["deals"][d["external_id"]]
        assert d["status"] == want["status"] and Decimal(d["collected"]) == want["collected"]
    assert send(client, files).json()["events"] == 0


def all_events(client):
    events, after = [], 0
    while True:
        page = client.get("/events", params={"limit": 1000, "after": after}).json()
        events += page["items"]
        if page["next"] is None:
            return events
        after = page["next"]


DEALS_HEADER = (
    "external_id,customer_external_id,owner_external_id,title,product_line,amount,currency,opened_on,stage,"
    "status,signed_on,gross_margin,lost_reason"
)


def test_a_later_export_adds_to_the_deals_already_imported(client):
    """Migrating in two passes: the second export names the same deals, some moved on. Stage
    changes, outcomes, payments and refunds the ledger does not have are recorded; rows it has
    count as present; a closed deal the file says is open is reported and nothing is written."""
    base = {
        "reps.csv": table("external_id,name,level,team,region", [["R1", "Amy", "mid", "T", "华东"]]),
        "customers.csv": table(
            "external_id,name,region,industry,owner_external_id", [["C1", "客户", "华东", "制造", "R1"]]
        ),
    }
    first = {
        **base,
        "deals.csv": table(
            DEALS_HEADER,
            [
                ["A", "C1", "R1", "a", "ERP", "1000.00", "CNY", "2025-01-05", "needs_analysis", "open", "", "", ""],
                ["B", "C1", "R1", "b", "ERP", "2000.00", "CNY", "2025-01-06", "proposal", "open", "", "", ""],
                [
                    "W",
                    "C1",
                    "R1",
                    "w",
                    "ERP",
                    "3000.00",
                    "CNY",
                    "2025-01-07",
                    "proposal",
                    "won",
                    "2025-02-01",
                    "900",
                    "",
                ],
            ],
        ),
        "deal_stages.csv": table("deal_external_id,stage,changed_on", [["A", "needs_analysis", "2025-01-10"]]),
        "payments.csv": table("deal_external_id,amount,received_on", [["W", "1000.00", "2025-03-01"]]),
    }
    answer = send(client, first)
    assert answer.status_code == 200, answer.text
    second = {
        **base,
        "deals.csv": table(
            DEALS_HEADER,
            [
                ["A", "C1", "R1", "a", "ERP", "1000.00", "CNY", "2025-01-05", "negotiation", "open", "", "", ""],
                [
                    "B",
                    "C1",
                    "R1",
                    "b",
                    "ERP",
                    "2000.00",
                    "CNY",
                    "2025-01-06",
                    "proposal",
                    "won",
                    "2025-04-01",
                    "500",
                    "",
                ],
                [
                    "W",
                    "C1",
                    "R1",
                    "w",
                    "ERP",
                    "3000.00",
                    "CNY",
                    "2025-01-07",
                    "proposal",
                    "won",
                    "2025-02-01",
                    "900",
                    "",
                ],
            ],
        ),
        "deal_stages.csv": table(
            "deal_external_id,stage,changed_on",
            [
                ["A", "needs_analysis", "2025-01-10"],
                ["A", "proposal", "2025-03-10"],
                ["A", "negotiation", "2025-04-10"],
            ],
        ),
        "payments.csv": table(
            "deal_external_id,amount,received_on",
            [["W", "1000.00", "2025-03-01"], ["W", "1000.00", "2025-04-01"], ["B", "500.00", "2025-05-01"]],
        ),
        "refunds.csv": table("deal_external_id,amount,refunded_on,reason", [["W", "100.00", "2025-05-01", "质量问题"]]),
    }
    answer = send(client, second)
    assert answer.status_code == 200, answer.text
    files = answer.json()["files"]
    assert files["deal_stages.csv"] == {"rows": 3, "events": 2, "already_present": 1}
    assert files["deals.csv"] == {"rows": 3, "events": 1, "already_present": 2}  # B won; A's stage came by its rows
    assert files["payments.csv"] == {"rows": 3, "events": 2, "already_present": 1}
    assert files["refunds.csv"] == {"rows": 1, "events": 1, "already_present": 0}
    assert files["reps.csv"]["already_present"] == 1 and files["customers.csv"]["already_present"] == 1
    s = Session(client)
    s.position = answer.json()["position"]
    deals = {d["external_id"]: d for d in all_items(s, "/deals")}
    assert deals["A"]["stage"] == "negotiation" and deals["A"]["status"] == "open"
    history = s.get(f"/deals/{deals['A']['deal_id']}")["stage_history"]
    assert [(h["to"], h["on"]) for h in history][-2:] == [("proposal", "2025-03-10"), ("negotiation", "2025-04-10")]
    assert deals["B"]["status"] == "won" and deals["B"]["signed_on"] == "2025-04-01"
    assert Decimal(deals["B"]["collected"]) == Decimal("500.00")
    assert Decimal(deals["W"]["collected"]) == Decimal("2000.00") and Decimal(deals["W"]["refunded"]) == Decimal("100")
    assert send(client, second).json()["events"] == 0  # the second pass again: nothing new

    third = {**second, "deals.csv": second["deals.csv"].replace(b"proposal,won,2025-04-01", b"proposal,open,")}
    head = all_events(client)
    answer = send(client, third)
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["error"]["details"]["problems"]
    assert problem.startswith("deals.csv:3: deal 'B' is won in the ledger and open in the file")
    assert all_events(client) == head


def test_imported_leads_keep_their_external_id(client):
    reps = table("external_id,name,level,team,region", [["R1", "Amy", "mid", "T", "华东"]])
    leads = table(
        "external_id,company,source,region,industry,captured_at,assignee_external_id,status",
        [
            ["L1", "甲公司", "referral", "华东", "制造", "2025-03-01T09:30:00+08:00", "R1", "qualified"],
            ["L2", "乙公司", "online", "华东", "零售", "2025-03-02", "", "pool"],
        ],
    )
    answer = send(client, {"reps.csv": reps, "leads.csv": leads})
    assert answer.status_code == 200, answer.text
    s = Session(client)
    s.position = answer.json()["position"]
    [lead] = s.get("/leads", external_id="L1")["items"]
    assert lead["external_id"] == "L1" and lead["company"] == "甲公司" and lead["status"] == "qualified"
    assert [x["external_id"] for x in all_items(s, "/leads")] == ["L1", "L2"]
    again = send(client, {"reps.csv": reps, "leads.csv": leads}).json()
    assert again["events"] == 0 and again["files"]["leads.csv"]["already_present"] == 2
