"""A commission month and its payouts: the period's statements, payroll export (CSV and Excel),
approve → pay per statement, the rep's acknowledgement, and the list of disputes."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Literal

from fastapi import Query, Request, Response

from api.access import ADMIN, AUDITOR, EVERYONE, FINANCE, MONEY, REP, AccessDep, Allow, Record
from api.deps import MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.models import Body, SaneDate, Text
from api.responses.payouts import DisputeList, PeriodStatements
from api.routing import Router
from application.commissions import (
    READ_MODELS,
    AcknowledgeStatement,
    ApproveStatement,
    DisputesOf,
    PayStatement,
    PeriodOf,
)
from domain.rep import Rep

router = Router(tags=["commissions"])

PAYROLL_READERS = (FINANCE, AUDITOR, ADMIN)


class Approve(Body):
    pass


class Pay(Body):
    paid_on: SaneDate
    reference: Text


class Acknowledge(Body):
    pass


@router.get("/commissions/periods/{period}", dependencies=[Allow(*PAYROLL_READERS)], response_model=PeriodStatements)
def period_statements(period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """The month: open or closed (and when), its total and every statement's status, total and digest."""
    await_position(request, READ_MODELS, min_position)
    return Json(rt.ledger.commissions.period(PeriodOf(period)).as_dict())


def _payroll_csv(header: list[str], rows: list[list[object]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header, *rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@router.get(
    "/commissions/periods/{period}/payroll.csv",
    dependencies=[Allow(*PAYROLL_READERS)],
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
def payroll_csv(period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """One row per statement of the month (UTF-8 with BOM): amounts per line kind, total, status, digest."""
    await_position(request, READ_MODELS, min_position)
    sheet = rt.ledger.commissions.payroll(PeriodOf(period))
    rows = [[f"{v:.2f}" if hasattr(v, "quantize") else v for v in row] for row in sheet.rows]
    return Response(
        _payroll_csv(sheet.header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{sheet.filename}.csv"'},
    )


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get(
    "/commissions/periods/{period}/payroll.xlsx",
    dependencies=[Allow(*PAYROLL_READERS)],
    response_class=Response,
    responses={200: {"content": {XLSX: {"schema": {"type": "string", "format": "binary"}}}}},
)
def payroll_xlsx(period: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """The payroll rows as an Excel workbook: the same columns, amounts as numbers with two decimals."""
    from openpyxl import Workbook

    await_position(request, READ_MODELS, min_position)
    sheet = rt.ledger.commissions.payroll(PeriodOf(period))
    book = Workbook()
    ws = book.active
    ws.title = sheet.filename.removeprefix("payroll-")
    ws.append(sheet.header)
    for row in sheet.rows:
        ws.append(row)
        for cell in ws[ws.max_row]:
            if hasattr(cell.value, "quantize") or isinstance(cell.value, float):
                cell.number_format = "0.00"
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{sheet.filename}.xlsx"'},
    )


@router.post(
    "/commissions/statements/{rep_id}/{period}/approve",
    dependencies=[Allow(MONEY, scope=Record(Rep))],
)
def approve(rep_id: str, period: str, rt: RuntimeDep, meta: MetaDep, body: Approve | None = None):
    """A closed statement becomes approved (409 not_closed otherwise)."""
    return answer(rt, rt.ledger.commissions.approve_statement(ApproveStatement(rep_id, period), meta))


@router.post(
    "/commissions/statements/{rep_id}/{period}/pay",
    dependencies=[Allow(MONEY, scope=Record(Rep))],
)
def pay(rep_id: str, period: str, body: Pay, rt: RuntimeDep, meta: MetaDep):
    """An approved statement becomes paid; `paid_on` and `reference` then appear on it (409 not_approved otherwise)."""
    command = PayStatement(rep_id, period, body.paid_on, body.reference)
    return answer(rt, rt.ledger.commissions.pay_statement(command, meta))


@router.post(
    "/commissions/statements/{rep_id}/{period}/acknowledge",
    dependencies=[Allow(REP, ADMIN, scope=Record(Rep))],
)
def acknowledge(
    rep_id: str, period: str, rt: RuntimeDep, meta: MetaDep, access: AccessDep, body: Acknowledge | None = None
):
    """The rep acknowledges their closed statement."""
    if access.role == REP:
        access.myself(rep_id, "rep_id")
    return answer(rt, rt.ledger.commissions.acknowledge_statement(AcknowledgeStatement(rep_id, period), meta))


@router.get("/commissions/disputes", dependencies=[Allow(EVERYONE)], response_model=DisputeList)
def disputes(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    period: str | None = None,
    rep_id: str | None = None,
    status: Annotated[Literal["open", "accepted", "rejected"] | None, Query()] = None,
    min_position: MinPosition = None,
):
    """Disputes, oldest month first; reps and managers see those of the reps they see."""
    await_position(request, READ_MODELS, min_position)
    access.rep(rep_id)
    items = rt.ledger.commissions.disputes(DisputesOf(period, rep_id, status))
    return Json({"items": [d for d in items if access.sees_rep(d["rep_id"])], "next": None})
