"""What the event browser answers."""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from api.responses import example


class EventRecord(BaseModel):
    position: int
    type: str
    aggregate_id: str
    version: int
    recorded_at: dt.datetime
    actor: str
    correlation_id: str
    causation_id: str
    data: dict[str, Any]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "position": 299,
                    "type": "CommissionPeriodStatementClosed",
                    "aggregate_id": "5facd8d1-3d38-5ce5-9eea-a775fd207836",
                    "version": 3,
                    "recorded_at": "2026-12-07T09:15:57.848992+00:00",
                    "actor": "demo",
                    "correlation_id": "demo-2",
                    "causation_id": "demo-2",
                    "data": {
                        "rep_id": "1774e564-3cf6-5d05-ade4-c3f7d28f7ba1",
                        "statement": {
                            "rep_id": "1774e564-3cf6-5d05-ade4-c3f7d28f7ba1",
                            "period": "2026-01",
                            "currency": "CNY",
                            "status": "closed",
                            "total": "9990.00",
                            "digest": "a54ad93b186e5679019768ccfcc9fce68d19c934a2f8cadfe697749f194993b7",
                            "lines": [
                                {
                                    "id": "2026-01~1774e564-3cf6-5d05-ade4-c3f7d28f7ba1~25580676c8675ef7",
                                    "kind": "override",
                                    "deal_id": "ffc03a3d-721f-570b-a6dc-26d9a9baa73d",
                                    "component": "manager override",
                                    "basis_amount": "333000.00",
                                    "amount": "9990.00",
                                    "plan_id": "5cbf2141-7ace-5f42-89d3-02088b19e949",
                                    "plan_version": 1,
                                    "key": "override|manager "
                                    "override|ffc03a3d-721f-570b-a6dc-26d9a9baa73d|59368757-5676-5387-a432-c9907a227184|90",
                                    "explain": {
                                        "plan_id": "5cbf2141-7ace-5f42-89d3-02088b19e949",
                                        "plan_version": 1,
                                        "component": {
                                            "name": "manager override",
                                            "type": "override",
                                            "basis": "revenue",
                                            "rate": "0.03",
                                            "threshold": "0.00",
                                        },
                                        "basis": "333000.00",
                                        "credited_rep": "59368757-5676-5387-a432-c9907a227184",
                                        "split_share": "1",
                                        "accumulated_before": "0.00",
                                        "accumulated_after": "333000.00",
                                        "tier_walk": [
                                            {
                                                "band": {"above": "0.00", "up_to": None},
                                                "slice": "333000.00",
                                                "rate": "0.03",
                                                "amount": "9990.0000",
                                            }
                                        ],
                                        "sources": [
                                            {
                                                "type": "DealWon",
                                                "aggregate_id": "ffc03a3d-721f-570b-a6dc-26d9a9baa73d",
                                                "version": 5,
                                                "position": 90,
                                                "recorded_at": "2026-12-07T09:15:57.782686+00:00",
                                                "actor": "demo",
                                            }
                                        ],
                                        "amount_before_rounding": "9990.0000",
                                    },
                                }
                            ],
                        },
                    },
                }
            ]
        },
    )


class EventPage(BaseModel):
    """Events in store order with their metadata; `next` is the cursor (null at the end)."""

    items: list[EventRecord]
    next: int | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [example(EventRecord)],
                    "next": 300,
                }
            ]
        },
    )


class AggregateHistory(BaseModel):
    """Every event of one record (rep, customer, lead, deal), in order, with its metadata."""

    id: str
    version: int
    events: list[EventRecord]
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "1774e564-3cf6-5d05-ade4-c3f7d28f7ba1",
                    "version": 2,
                    "events": [
                        {
                            "position": 12,
                            "type": "RepHired",
                            "aggregate_id": "1774e564-3cf6-5d05-ade4-c3f7d28f7ba1",
                            "version": 1,
                            "recorded_at": "2026-12-07T09:15:57.848992+00:00",
                            "actor": "admin:token",
                            "correlation_id": "c-12",
                            "causation_id": "r-12",
                            "data": {"name": "王芳", "level": "mid", "team": "华东一组", "region": "华东"},
                        },
                        {
                            "position": 40,
                            "type": "RepLevelChanged",
                            "aggregate_id": "1774e564-3cf6-5d05-ade4-c3f7d28f7ba1",
                            "version": 2,
                            "recorded_at": "2026-12-07T09:20:03.101000+00:00",
                            "actor": "admin:token",
                            "correlation_id": "c-40",
                            "causation_id": "r-40",
                            "data": {"to_level": "senior", "effective_from": "2026-07-01", "reason": "年度晋升"},
                        },
                    ],
                }
            ]
        },
    )


class RecordState(BaseModel):
    """A record (rep, lead, deal) as its events made it: `id`, `version` and its attributes, now or
    at `version` / `as_of`; the attributes are those of the record's kind."""

    id: str
    version: int
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "id": "1774e564-3cf6-5d05-ade4-c3f7d28f7ba1",
                    "version": 2,
                    "name": "王芳",
                    "level": "senior",
                    "team": "华东一组",
                    "region": "华东",
                    "manager_id": "0f314ad6-f284-447f-b271-2c15ca1fc779",
                    "status": "active",
                }
            ]
        },
    )
