"""What the customer read routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example
from api.responses.fx import CurrencyAmount
from api.responses.sales_process import DeliveryMilestone


class CustomerDistribution(BaseModel):
    """Customers by grade, lifecycle state, region and classification; `unset` counts those without
    one."""

    total: int
    by_grade: dict[str, int]
    by_lifecycle: dict[str, int]
    by_region: dict[str, int]
    by_classification: dict[str, int]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "total": 22,
                    "by_grade": {"A": 2, "B": 5, "C": 6, "unset": 9},
                    "by_lifecycle": {"active": 9, "prospect": 13},
                    "by_region": {"华东": 7, "华北": 2, "华南": 2, "西南": 11},
                    "by_classification": {"general": 7, "key": 4, "potential": 2, "unset": 9},
                }
            ]
        },
    )


class RevisitPolicy(BaseModel):
    """Days between revisits by customer grade (A, B, C, ...), keyed by grade, and the policy's
    version."""

    version: int
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"A": 30, "B": 60, "C": 90, "version": 0}]},
    )


class RevisitDue(BaseModel):
    customer_id: str
    name: str
    owner_id: str | None
    grade: str
    days: int
    last_visit_on: dt.date | None
    next_revisit_due: dt.date
    status: str
    days_overdue: int
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "customer_id": "dfd8edc4-d042-503c-95b0-e8c12ed0bd05",
                    "name": "苏州医疗有限公司13",
                    "owner_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "grade": "B",
                    "days": 60,
                    "last_visit_on": "2026-05-22",
                    "next_revisit_due": "2026-07-21",
                    "status": "overdue",
                    "days_overdue": 139,
                }
            ]
        },
    )


class RevisitList(BaseModel):
    """Customers whose next revisit is overdue or coming due, soonest first."""

    as_of: dt.date
    status: str | None
    within_days: int
    policy: dict[str, int]
    items: list[RevisitDue]
    truncated: bool
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2026-12-07",
                    "status": "due",
                    "within_days": 7,
                    "policy": {"A": 30, "B": 60, "C": 90},
                    "items": [example(RevisitDue)],
                    "truncated": False,
                }
            ]
        },
    )


class Customer360LifecycleHistoryItem(BaseModel):
    from_: str = Field(alias="from")
    to: str
    reason: str
    on: dt.date
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "prospect",
                    "to": "active",
                    "reason": "first won deal b42ed611-3945-5846-8ed4-a7aca87f5337",
                    "on": "2026-07-25",
                }
            ]
        },
    )


class CreditRating(BaseModel):
    rating: str
    limit: str
    evidence: str
    rated_on: dt.date
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"rating": "A", "limit": "2000000.00", "evidence": "年度财报与付款记录", "rated_on": "2025-11-03"}
            ]
        },
    )


class Customer360FeedbackItem(BaseModel):
    score: int
    comment: str | None
    given_on: dt.date
    rep_id: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "score": 4,
                    "comment": "服务及时",
                    "given_on": "2026-11-02",
                    "rep_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                }
            ]
        },
    )


class Customer360GradeHistoryItem(BaseModel):
    from_: str | None = Field(alias="from")
    to: str
    reason: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"from": None, "to": "C", "reason": "按价值与潜力分级"}]},
    )


class Customer360OwnerHistoryItem(BaseModel):
    from_: str = Field(alias="from")
    to: str
    reason: str
    effective_on: dt.date
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "to": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "reason": "区域调整",
                    "effective_on": "2026-11-10",
                }
            ]
        },
    )


class Customer360Visit(BaseModel):
    rep_id: str
    kind: str
    occurred_at: dt.datetime
    notes: str | None
    next_step: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "kind": "visit",
                    "occurred_at": "2026-01-14T10:00:00+08:00",
                    "notes": "拜访记录",
                    "next_step": None,
                }
            ]
        },
    )


class Customer360Deal(BaseModel):
    deal_id: str
    title: str | None
    owner_id: str
    product_line: str
    currency: str
    status: str
    stage: str
    opened_on: dt.date
    amount: str
    signed_amount: str
    gross_margin: str
    signed_on: dt.date | None
    payment_due_on: dt.date | None
    collected: str
    refunded: str
    cancelled: str
    receivable: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "b42ed611-3945-5846-8ed4-a7aca87f5337",
                    "title": "广州精密有限公司12 45",
                    "owner_id": "889b9766-d329-5ba3-ac2c-206e107db77d",
                    "product_line": "BI",
                    "currency": "CNY",
                    "status": "won",
                    "stage": "negotiation",
                    "opened_on": "2026-06-22",
                    "amount": "651000.00",
                    "signed_amount": "618450.00",
                    "gross_margin": "247380.00",
                    "signed_on": "2026-07-25",
                    "payment_due_on": "2026-08-24",
                    "collected": "618450.00",
                    "refunded": "0.00",
                    "cancelled": "0.00",
                    "receivable": "0.00",
                }
            ]
        },
    )


class Customer360Payment(BaseModel):
    deal_id: str
    amount: str
    received_on: dt.date
    position: int
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "deal_id": "b42ed611-3945-5846-8ed4-a7aca87f5337",
                    "amount": "206150.00",
                    "received_on": "2026-08-16",
                    "position": 335,
                }
            ]
        },
    )


class Customer360Delivery(BaseModel):
    status: str
    overdue: int
    open: int
    done: int
    next_milestone: DeliveryMilestone | None
    milestones: list[DeliveryMilestone]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "status": "in_progress",
                    "overdue": 0,
                    "open": 1,
                    "done": 1,
                    "next_milestone": {
                        "deal_id": "3e2b0ccd-e9b3-5c9a-b050-f64301125376",
                        "customer_id": "56d284b5-6ae1-56c1-9161-6957d1f7fa9e",
                        "owner_id": "e35fb193-ab11-5cd4-bb7f-8b692c38d105",
                        "title": "天津电子有限公司4 16",
                        "name": "验收",
                        "planned_on": "2027-01-15",
                        "done_on": None,
                        "status": "open",
                        "days_overdue": 0,
                        "on_time": None,
                    },
                    "milestones": [
                        {
                            "deal_id": "3e2b0ccd-e9b3-5c9a-b050-f64301125376",
                            "customer_id": "56d284b5-6ae1-56c1-9161-6957d1f7fa9e",
                            "owner_id": "e35fb193-ab11-5cd4-bb7f-8b692c38d105",
                            "title": "天津电子有限公司4 16",
                            "name": "上线",
                            "planned_on": "2026-10-15",
                            "done_on": "2026-10-20",
                            "status": "done",
                            "days_overdue": 0,
                            "on_time": False,
                        }
                    ],
                }
            ]
        },
    )


class Customer360Unconverted(BaseModel):
    exposure: list[CurrencyAmount]
    receivable: list[CurrencyAmount]
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"exposure": [{"currency": "USD", "amount": "12000.00"}], "receivable": []}]},
    )


class Customer360Stakeholder(BaseModel):
    stakeholder_id: str
    name: str = Field(description='"[erased]" once the customer\'s personal data is forgotten')
    role: str
    title: str | None
    phone: str | None
    email: str | None
    notes: str | None
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "stakeholder_id": "41323e79e2e751b88418f0613dac1b9a",
                    "name": "何平",
                    "role": "decision_maker",
                    "title": "财务总监",
                    "phone": "13812345678",
                    "email": "heping@example.cn",
                    "notes": "关注付款条件",
                }
            ]
        },
    )


class Customer360OverdueRevisit(BaseModel):
    due_on: dt.date
    as_of: dt.date
    grade: str
    days: int
    last_visit_on: dt.date | None
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"due_on": "2026-11-20", "as_of": "2026-11-21", "grade": "B", "days": 60, "last_visit_on": "2026-09-21"}
            ]
        },
    )


class Customer360(BaseModel):
    """Customer 360 (客户全景): the customer record with deals, payments, exposure, delivery and revisit
    plan. Asked at a `version` or `as_of`: the record alone, without deals and payments."""

    id: str
    version: int
    name: str
    external_id: str | None
    region: str
    industry: str
    owner_id: str
    size_band: str | None
    registered_on: dt.date
    lead_ids: list[str]
    lifecycle: str
    lifecycle_history: list[Customer360LifecycleHistoryItem]
    grade: str | None
    classification: str | None
    credit: CreditRating | None
    credit_history: list[CreditRating]
    stakeholders: list[Customer360Stakeholder] | dict[str, Customer360Stakeholder] = Field(
        description="a list; by stakeholder id when the record is asked at a `version` or `as_of`"
    )
    feedback: list[Customer360FeedbackItem]
    grade_history: list[Customer360GradeHistoryItem]
    owner_history: list[Customer360OwnerHistoryItem]
    visits: list[Customer360Visit]
    overdue_revisits: list[Customer360OverdueRevisit]
    deals: list[Customer360Deal] = Field(None)
    payments: list[Customer360Payment] = Field(None)
    last_activity_on: dt.date | None = Field(None)
    currency: str = Field(None)
    exposure: str = Field(None)
    receivable: str = Field(None)
    unconverted: Customer360Unconverted = Field(None)
    delivery: Customer360Delivery = Field(None)
    next_revisit_due: dt.date | None = Field(None)
    revisit: RevisitDue | None = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "1eb520cd-71aa-57b5-8f93-03ad25d4998f",
                    "version": 7,
                    "name": "广州软件有限公司36",
                    "external_id": None,
                    "region": "华北",
                    "industry": "healthcare",
                    "owner_id": "e1585d9c-5c0f-57c5-9bbc-e364475b8fd2",
                    "size_band": "large",
                    "registered_on": "2025-04-28",
                    "lead_ids": ["9e8b9e5c-975d-544f-9bbb-7e9dc8cc1ec0"],
                    "lifecycle": "active",
                    "lifecycle_history": [example(Customer360LifecycleHistoryItem)],
                    "grade": "A",
                    "classification": "general",
                    "credit": {
                        "rating": "A",
                        "limit": "2000000.00",
                        "evidence": "年度财报与付款记录",
                        "rated_on": "2025-11-03",
                    },
                    "credit_history": [example(CreditRating)],
                    "stakeholders": [
                        {
                            "stakeholder_id": "fed69c312831572680d036be198a1133",
                            "name": "吴杰",
                            "role": "finance",
                            "title": "财务总监",
                            "phone": None,
                            "email": None,
                            "notes": None,
                        }
                    ],
                    "feedback": [example(Customer360FeedbackItem)],
                    "grade_history": [{"from": None, "to": "C", "reason": "按价值与潜力分级"}],
                    "owner_history": [example(Customer360OwnerHistoryItem)],
                    "visits": [example(Customer360Visit)],
                    "overdue_revisits": [],
                    "deals": [example(Customer360Deal)],
                    "payments": [example(Customer360Payment)],
                    "last_activity_on": "2026-10-25",
                    "currency": "CNY",
                    "exposure": "512353.33",
                    "receivable": "512353.33",
                    "unconverted": {"exposure": [], "receivable": []},
                    "delivery": {
                        "status": "in_progress",
                        "overdue": 0,
                        "open": 1,
                        "done": 1,
                        "next_milestone": {
                            "deal_id": "3e2b0ccd-e9b3-5c9a-b050-f64301125376",
                            "customer_id": "56d284b5-6ae1-56c1-9161-6957d1f7fa9e",
                            "owner_id": "e35fb193-ab11-5cd4-bb7f-8b692c38d105",
                            "title": "天津电子有限公司4 16",
                            "name": "验收",
                            "planned_on": "2027-01-15",
                            "done_on": None,
                            "status": "open",
                            "days_overdue": 0,
                            "on_time": None,
                        },
                        "milestones": [
                            {
                                "deal_id": "3e2b0ccd-e9b3-5c9a-b050-f64301125376",
                                "customer_id": "56d284b5-6ae1-56c1-9161-6957d1f7fa9e",
                                "owner_id": "e35fb193-ab11-5cd4-bb7f-8b692c38d105",
                                "title": "天津电子有限公司4 16",
                                "name": "上线",
                                "planned_on": "2026-10-15",
                                "done_on": "2026-10-20",
                                "status": "done",
                                "days_overdue": 0,
                                "on_time": False,
                            }
                        ],
                    },
                    "next_revisit_due": "2026-04-21",
                    "revisit": {
                        "customer_id": "04a90020-732f-5418-ae79-4f785af14740",
                        "name": "广州精密有限公司12",
                        "owner_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                        "grade": "C",
                        "days": 90,
                        "last_visit_on": "2026-08-22",
                        "next_revisit_due": "2026-11-20",
                        "status": "overdue",
                        "days_overdue": 17,
                    },
                }
            ]
        },
    )
