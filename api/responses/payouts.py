"""What the commission month and dispute routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example


class PeriodStatementsStatement(BaseModel):
    rep_id: str
    name: str | None
    status: str
    total: str
    digest: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "16dff177-5c47-50f1-9019-efdaa20ea020",
                    "name": "黄桂英",
                    "status": "paid",
                    "total": "0.00",
                    "digest": "fdb77d70dca2fc25668bf4beda2a556da1e1d5b039c97cfcde6f01e623add016",
                }
            ]
        },
    )


class PeriodStatements(BaseModel):
    """The commission month: open or closed, its total and each statement's status, total and
    digest."""

    period: str
    status: str
    closed_at: dt.datetime | None
    total: str
    statements: list[PeriodStatementsStatement]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-06",
                    "status": "closed",
                    "closed_at": "2026-12-07T09:21:19.495482Z",
                    "total": "0.00",
                    "statements": [example(PeriodStatementsStatement)],
                }
            ]
        },
    )


class DisputeListItem(BaseModel):
    id: str
    period: str
    rep_id: str
    line_id: str
    reason: str
    status: str
    resolution: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5c67a54858b84a5788ad7bed6ba8e135",
                    "period": "2026-09",
                    "rep_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "line_id": "2026-09~889b9766-d329-5ba3-ac2c-206e107db77d~b520d3d359e5480d",
                    "reason": "大单提成比例与合同约定不符，请复核",
                    "status": "open",
                    "resolution": None,
                }
            ]
        },
    )


class DisputeList(BaseModel):
    """Disputes of commission lines, oldest month first."""

    items: list[DisputeListItem]
    next: str | None = Field(description="always null: every dispute is on the one page")
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [example(DisputeListItem)],
                    "next": None,
                }
            ]
        },
    )
