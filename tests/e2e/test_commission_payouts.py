"""The period close rules, the period's statements, approve → pay, the rep's acknowledgement,
the payroll export and the list of disputes, over HTTP on each backend."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from application import clock
from tests.e2e.test_commissions import Books, plan, tiered

PAYROLL_HEADER = (
    "rep_id,name,team,currency,earned,clawback,override,bonus,adjustment,deduction,draw,total,status,digest"
)


@pytest.fixture
def books(client):
    clock.set_today(date(2027, 1, 15))
    yield Books(client)
    clock.set_today(None)


def refused(answer, status, code):
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code, answer.text
    return answer.json()["error"]


def test_a_month_closes_only_once_it_has_ended_in_the_organisations_time_zone(books):
    rep = books.rep("月末", "senior")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    books.win(rep, "1000.00", "2026-11-02")
    clock.set_today(date(2026, 11, 30))  # the last day: not ended yet
    error = refused(books.client.post("/commissions/periods/2026-11/close", json={}), 409, "period_not_ended")
    assert error["details"]["period"] == "2026-11"
    refused(books.client.post("/commissions/periods/2026-12/close", json={}), 409, "period_not_ended")
    assert books.statement(rep, "2026-11")["status"] == "open"  # nothing written
    clock.set_today(date(2026, 12, 1))
    assert books.client.post("/commissions/periods/2026-11/close", json={}).status_code == 200
    assert books.statement(rep, "2026-11")["status"] == "closed"


def test_months_close_in_order_of_their_commission_activity(books):
    rep = books.rep("顺序", "senior")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    books.win(rep, "1000.00", "2026-07-10")
    deal = books.win(rep, "2000.00", "2026-09-10")
    books.post(f"/deals/{deal}/payments", {"amount": "500.00", "received_on": "2026-10-03"})
    error = refused(books.client.post("/commissions/periods/2026-10/close", json={}), 409, "earlier_period_open")
    assert error["details"]["periods"] == ["2026-07", "2026-09"]  # August had no activity
    refused(books.client.post("/commissions/periods/2026-09/close", json={}), 409, "earlier_period_open")
    books.post("/commissions/periods/2026-07/close", {})
    books.post("/commissions/periods/2026-09/close", {})
    books.post("/commissions/periods/2026-10/close", {})
    assert books.client.get("/commissions/periods/2026-08").json()["status"] == "open"


def test_close_records_one_event_per_statement_and_the_period_lists_them(books):
    reps = [books.rep(f"关账{i}", "senior") for i in range(3)]
    for rep in reps:
        books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    books.win(reps[0], "1000.00", "2026-11-02")
    books.win(reps[1], "3000.00", "2026-11-03")
    shown = books.client.get("/commissions/periods/2026-11").json()
    assert (shown["status"], shown["closed_at"], shown["total"]) == ("open", None, "400.00")
    assert {s["rep_id"]: (s["status"], s["total"]) for s in shown["statements"]} == {
        reps[0]: ("open", "100.00"),
        reps[1]: ("open", "300.00"),
        reps[2]: ("open", "0.00"),
    }
    closed = books.post("/commissions/periods/2026-11/close", {})
    events = books.client.get("/events", params={"after": closed["position"] - 4}).json()["items"]
    assert [e["type"] for e in events] == ["CommissionPeriodStatementClosed"] * 3 + ["CommissionPeriodClosed"]
    shown = books.client.get("/commissions/periods/2026-11").json()
    assert shown["status"] == "closed" and shown["closed_at"] and shown["total"] == "400.00"
    assert [s["name"] for s in shown["statements"] if s["rep_id"] == reps[1]] == ["关账1"]
    for listed in shown["statements"]:
        statement = books.statement(listed["rep_id"], "2026-11")
        assert (listed["status"], listed["total"], listed["digest"]) == (
            "closed",
            statement["total"],
            statement["digest"],
        )
        check = books.client.get(f"/commissions/statements/{listed['rep_id']}/2026-11/verify").json()
        assert check["verified"]


def test_a_statement_is_approved_then_paid_and_the_rep_acknowledges_it(books):
    rep = books.rep("发放", "senior")
    books.on_plan(rep, plan(tiered(tiers=((None, "0.10"),))))
    books.win(rep, "1000.00", "2026-11-02")
    url = f"/commissions/statements/{rep}/2026-11"
    refused(books.client.post(f"{url}/approve", json={}), 409, "not_closed")
    books.post("/commissions/periods/2026-11/close", {})
    refused(books.client.post(f"{url}/pay", json={"paid_on": "2026-12-10", "reference": "PAY-1"}), 409, "not_approved")
    books.post(f"{url}/approve", {})
    approved = books.statement(rep, "2026-11")
    assert approved["status"] == "approved" and approved["approved_by"] and approved["approved_at"]
    refused(books.client.post(f"{url}/approve", json={}), 409, "not_closed")
    assert books.client.post(f"{url}/pay", json={"paid_on": "2026-12-10"}).status_code == 422
    books.post(f"{url}/pay", {"paid_on": "2026-12-10", "reference": "PAY-1"})
    paid = books.statement(rep, "2026-11")
    assert (paid["status"], paid["paid_on"], paid["reference"]) == ("paid", "2026-12-10", "PAY-1")
    assert (paid["total"], paid["digest"]) == (approved["total"], approved["digest"])
    refused(books.client.post(f"{url}/pay", json={"paid_on": "2026-12-11", "reference": "PAY-2"}), 409, "not_approved")
    books.post(f"{url}/acknowledge", {})
    assert books.statement(rep, "2026-11")["acknowledged_at"]
    assert books.client.get("/commissions/periods/2026-11").json()["statements"][0]["status"] == "paid"
    assert books.client.get(f"/commissions/statements/{rep}/2026-11/verify").json()["verified"]


def test_payroll_csv_and_xlsx_have_one_row_per_statement(books):
    rep = books.rep("工资 王", "senior", team="华南组")
    other = books.rep("工资 李", "senior")
    manager = books.rep("工资经理", "manager")
    for someone in (rep, other):
        books.on_plan(someone, plan(tiered(tiers=((None, "0.10"),)), clawback_days=365))
    deal = books.win(rep, "1000.00", "2026-11-02")
    books.post(f"/deals/{deal}/refunds", {"amount": "100.00", "refunded_on": "2026-11-20", "reason": "退款"})
    books.post(
        "/commissions/periods/2026-11/adjustments",
        {"rep_id": rep, "kind": "deduction", "amount": "5.00", "reason": "惩罚", "approver_id": manager},
    )
    books.post("/commissions/periods/2026-11/close", {})
    answer = books.client.get("/commissions/periods/2026-11/payroll.csv")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert ",".join(rows[0]) == PAYROLL_HEADER
    by_rep = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert set(by_rep) == {rep, other}
    mine = by_rep[rep]
    assert (mine["name"], mine["team"], mine["currency"]) == ("工资 王", "华南组", "CNY")
    assert (mine["earned"], mine["clawback"], mine["deduction"], mine["total"]) == (
        "100.00",
        "-10.00",
        "-5.00",
        "85.00",
    )
    assert (mine["status"], mine["digest"]) == ("closed", books.statement(rep, "2026-11")["digest"])
    assert by_rep[other]["total"] == "0.00"
    workbook = books.client.get("/commissions/periods/2026-11/payroll.xlsx")
    assert workbook.status_code == 200
    sheet = load_workbook(io.BytesIO(workbook.content)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert ",".join(values[0]) == PAYROLL_HEADER
    total_at = values[0].index("total")
    assert {row[0]: Decimal(str(row[total_at])) for row in values[1:]} == {
        rep: Decimal("85.00"),
        other: Decimal("0.00"),
    }


def test_disputes_are_listed_by_period_rep_and_status(books):
    rep = books.rep("争议甲", "senior")
    other = books.rep("争议乙", "senior")
    manager = books.rep("裁决", "manager")
    for someone in (rep, other):
        books.on_plan(someone, plan(tiered(tiers=((None, "0.10"),))))
    books.win(rep, "1000.00", "2026-10-02")
    books.win(other, "1000.00", "2026-11-02")
    [october] = books.lines(rep, "2026-10")
    [november] = books.lines(other, "2026-11")
    first = books.post(
        "/commissions/periods/2026-10/disputes", {"rep_id": rep, "line_id": october["id"], "reason": "少算"}
    )
    second = books.post(
        "/commissions/periods/2026-11/disputes", {"rep_id": other, "line_id": november["id"], "reason": "重复"}
    )
    books.post(
        f"/commissions/periods/2026-10/disputes/{first['dispute_id']}/resolve",
        {"outcome": "rejected", "reason": "按合同", "resolver_id": manager},
    )

    def listed(**params):
        answer = books.client.get("/commissions/disputes", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()

    everything = listed()
    assert [(d["id"], d["period"], d["status"]) for d in everything["items"]] == [
        (first["dispute_id"], "2026-10", "rejected"),
        (second["dispute_id"], "2026-11", "open"),
    ]
    assert everything["next"] is None
    assert everything["items"][0]["resolution"] == "按合同" and everything["items"][1]["resolution"] is None
    assert [d["id"] for d in listed(status="open")["items"]] == [second["dispute_id"]]
    assert [d["id"] for d in listed(rep_id=rep)["items"]] == [first["dispute_id"]]
    assert [d["id"] for d in listed(period="2026-11", rep_id=other)["items"]] == [second["dispute_id"]]
    assert listed(period="2026-11", status="rejected")["items"] == []
    assert books.client.get("/commissions/disputes", params={"status": "closed"}).status_code == 422
