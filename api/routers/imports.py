"""`POST /imports`: history from another CRM, the same files as `salesledger import FOLDER`."""

from __future__ import annotations

from typing import Annotated

from fastapi import File, Query, UploadFile

from api.access import OPERATIONS, Allow
from api.deps import MetaDep, RuntimeDep
from api.encoding import Json
from api.routing import Router
from api.schemas import ImportAnswer
from application import clock
from application.imports import ImportRejected

router = Router(tags=["imports"])

EXAMPLE = {
    "dry_run": False,
    "rows": 6,
    "events": 11,
    "already_present": 0,
    "files": {
        "reps.csv": {"rows": 2, "events": 2, "already_present": 0},
        "deals.csv": {"rows": 2, "events": 7, "already_present": 0},
        "payments.csv": {"rows": 2, "events": 2, "already_present": 0},
    },
    "position": 11,
}


@router.post(
    "/imports",
    dependencies=[Allow(OPERATIONS)],
    response_model=ImportAnswer,
    responses={
        200: {
            "description": "rows read, events written, rows already present",
            "content": {"application/json": {"example": EXAMPLE}},
        },
        422: {"description": "nothing was written; `details.problems` lists every bad row as file:line: problem"},
    },
)
def import_files(
    rt: RuntimeDep,
    meta: MetaDep,
    files: Annotated[
        list[UploadFile],
        File(description="reps, customers, leads, deals, deal_stages, payments, refunds (.csv or .xlsx)"),
    ],
    dry_run: Annotated[bool, Query(description="check and count only; write nothing")] = False,
):
    """Load history from another CRM (the contract's files, any subset). All or nothing: every
    bad row is reported and nothing is written; records already imported (same external_id) are
    counted, not written again. Events carry the files' business dates."""
    contents: dict[str, bytes] = {}
    for upload in files:
        name = (upload.filename or "").rsplit("/", 1)[-1]
        if name in contents:
            raise ImportRejected([f"{name}: sent twice"])
        contents[name] = upload.file.read()
    report = rt.ledger.imports.run(meta, contents, dry_run=dry_run, today=clock.today())
    rt.written()
    return Json(report.as_dict() | {"files": {_name(k, contents): v for k, v in report.as_dict()["files"].items()}})


def _name(kind: str, contents: dict[str, bytes]) -> str:
    """The file name a kind came in as (reps -> reps.csv or reps.xlsx)."""
    return next((n for n in contents if n.rsplit(".", 1)[0] == kind), kind)
