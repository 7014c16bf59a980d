"""What the target sheet answers."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example


class TargetSheetViewTarget(BaseModel):
    scope: str
    value: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"scope": "company", "value": "14400000.00"}]},
    )


class TargetSheetViewDecomposition(BaseModel):
    parent: str
    children: list[str]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"parent": "company", "children": ["region:华东"]}]},
    )


class TargetSheetViewHistoryItemChildrenItem(BaseModel):
    scope: str
    value: str
    previous: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"scope": "region:华东", "value": "5400000.00", "previous": None}]},
    )


class TargetSheetViewHistoryItem(BaseModel):
    type: str
    recorded_at: dt.datetime
    actor: str
    scope: str = Field(None)
    value: str = Field(None)
    previous: str | None = Field(None)
    reason: str | None
    parent: str = Field(None)
    children: list[TargetSheetViewHistoryItemChildrenItem] = Field(None)
    dropped: list[str] = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "TargetSheetDecomposed",
                    "recorded_at": "2026-12-07T09:21:19.180956+00:00",
                    "actor": "demo",
                    "parent": "region:华东",
                    "children": [{"scope": "region:华东", "value": "5400000.00", "previous": None}],
                    "dropped": [],
                    "reason": "按团队人数分解",
                }
            ]
        },
    )


class TargetSheetView(BaseModel):
    """Every scope's target for a period and metric, the decomposition tree and its history."""

    period: str
    metric: str
    version: int
    targets: list[TargetSheetViewTarget]
    decompositions: list[TargetSheetViewDecomposition]
    history: list[TargetSheetViewHistoryItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026",
                    "metric": "revenue",
                    "version": 14,
                    "targets": [{"scope": "company", "value": "14400000.00"}],
                    "decompositions": [{"parent": "company", "children": ["region:华东"]}],
                    "history": [example(TargetSheetViewHistoryItem)],
                }
            ]
        },
    )
