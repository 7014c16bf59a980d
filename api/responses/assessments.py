"""What the assessment and training programme routes answer."""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from api.responses import example


class SchemeAppliesTo(BaseModel):
    levels: list[str]
    teams: list[str]
    partner_id: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"levels": ["junior"], "teams": [], "partner_id": None}]},
    )


class SchemeIndicator(BaseModel):
    key: str
    source: str
    weight: str
    zero_at: str
    full_at: str
    cap: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "key": "sales",
                    "source": "kpi:revenue_attainment",
                    "weight": "0.5",
                    "zero_at": "0.5",
                    "full_at": "1.0",
                    "cap": "1.2",
                }
            ]
        },
    )


class SchemeGrade(BaseModel):
    grade: str
    min_score: str
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, json_schema_extra={"examples": [{"grade": "S", "min_score": "90.00"}]}
    )


class SchemeListItem(BaseModel):
    scheme_id: str
    version: int
    name: str
    period: str
    effective_from: dt.date
    applies_to: SchemeAppliesTo
    indicators: list[SchemeIndicator]
    grades: list[SchemeGrade]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "scheme_id": "592dcb88-f764-4bfe-a6af-35cd43b14b26",
                    "version": 1,
                    "name": "销售季度考核 2026",
                    "period": "quarter",
                    "effective_from": "2026-01-01",
                    "applies_to": {"levels": ["junior"], "teams": [], "partner_id": None},
                    "indicators": [example(SchemeIndicator)],
                    "grades": [{"grade": "S", "min_score": "90.00"}],
                }
            ]
        },
    )


class SchemeList(BaseModel):
    """Every assessment scheme (考核方案) at its newest version."""

    items: list[SchemeListItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "items": [example(SchemeListItem)],
                }
            ]
        },
    )


class SchemeVersionsVersion(BaseModel):
    version: int
    name: str
    period: str
    effective_from: dt.date
    applies_to: SchemeAppliesTo
    indicators: list[SchemeIndicator]
    grades: list[SchemeGrade]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "version": 1,
                    "name": "销售季度考核 2026",
                    "period": "quarter",
                    "effective_from": "2026-01-01",
                    "applies_to": {"levels": ["junior"], "teams": [], "partner_id": None},
                    "indicators": [example(SchemeIndicator)],
                    "grades": [{"grade": "S", "min_score": "90.00"}],
                }
            ]
        },
    )


class SchemeVersions(BaseModel):
    """An assessment scheme with every version."""

    id: str
    version: int
    name: str
    period: str
    versions: list[SchemeVersionsVersion]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "592dcb88-f764-4bfe-a6af-35cd43b14b26",
                    "version": 1,
                    "name": "销售季度考核 2026",
                    "period": "quarter",
                    "versions": [example(SchemeVersionsVersion)],
                }
            ]
        },
    )


class PeriodScorecardsItemIndicator(BaseModel):
    key: str
    value: str | None
    points: str
    weight: str
    missing: str = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"key": "sales", "value": "0.0000", "points": "0.00", "weight": "0.5"}]},
    )


class PeriodScorecardsItem(BaseModel):
    scheme_id: str
    scheme_version: int
    period: str
    rep_id: str
    name: str | None
    score: str
    grade: str
    indicators: list[PeriodScorecardsItemIndicator]
    status: str
    as_of_position: int = Field(None)
    finalized_on: dt.date = Field(None)
    digest: str = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "as_of_position": 832,
                    "finalized_on": "2026-12-07",
                    "grade": "C",
                    "indicators": [{"key": "sales", "value": "0.0000", "points": "0.00", "weight": "0.5"}],
                    "name": "马霞",
                    "period": "2026-Q1",
                    "rep_id": "59368757-5676-5387-a432-c9907a227184",
                    "scheme_id": "592dcb88-f764-4bfe-a6af-35cd43b14b26",
                    "scheme_version": 1,
                    "score": "3.60",
                    "status": "finalized",
                    "digest": "35c823bd1172c64bfa52fdef7940b77bea9cd5ab427fa537d2f3810f81f3e1e7",
                }
            ]
        },
    )


class PeriodScorecards(BaseModel):
    """Each rep's score, grade and indicator points for a period."""

    period: str
    scope: str
    items: list[PeriodScorecardsItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-Q1",
                    "scope": "company",
                    "items": [example(PeriodScorecardsItem)],
                }
            ]
        },
    )


class IndicatorChange(BaseModel):
    key: str
    frozen: str | None
    now: str | None
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"key": "collection", "frozen": "0.5000", "now": "0.7500"}]},
    )


class ScorecardNote(BaseModel):
    """Facts recorded after the previous period was finalized that would change its scorecard."""

    period: str
    scheme_id: str
    changed_since_finalized: list[IndicatorChange]
    score_now: str
    grade_now: str
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "period": "2026-Q1",
                    "scheme_id": "5085cd8d-a4f1-4d65-a600-da94670fb4cd",
                    "changed_since_finalized": [{"key": "collection", "frozen": "0.5000", "now": "0.7500"}],
                    "score_now": "71.25",
                    "grade_now": "B",
                }
            ]
        },
    )


class IndicatorReadFrom(BaseModel):
    actual: str | None = Field(None)
    attainment: str | None = Field(None)
    metric: str = Field(None)
    read_model: str
    target: str | None = Field(None)
    target_source: str | None = Field(None)
    billed: str = Field(None)
    deals_signed: int = Field(None)
    kept: str = Field(None)
    missing: str = Field(None)
    rate: str | None = Field(None)
    feedback: int = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "actual": "0.00",
                    "attainment": "0.0000",
                    "metric": "revenue",
                    "read_model": "kpi",
                    "target": "450000.00",
                    "target_source": "prorated from 2026",
                }
            ]
        },
    )


class TracedIndicator(BaseModel):
    cap: str
    full_at: str
    key: str
    points: str
    read_from: IndicatorReadFrom
    source: str
    value: str | None
    weight: str
    zero_at: str
    missing: str = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "cap": "1.2",
                    "full_at": "1.0",
                    "key": "sales",
                    "points": "0.00",
                    "read_from": {
                        "actual": "0.00",
                        "attainment": "0.0000",
                        "metric": "revenue",
                        "read_model": "kpi",
                        "target": "450000.00",
                        "target_source": "prorated from 2026",
                    },
                    "source": "kpi:revenue_attainment",
                    "value": "0.0000",
                    "weight": "0.5",
                    "zero_at": "0.5",
                }
            ]
        },
    )


class RepScorecardsItem(BaseModel):
    as_of_position: int = Field(None)
    finalized_on: dt.date = Field(None)
    grade: str
    indicators: list[TracedIndicator]
    name: str | None
    period: str
    rep_id: str
    scheme_id: str
    scheme_version: int
    score: str
    status: str
    digest: str = Field(None)
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "as_of_position": 832,
                    "finalized_on": "2026-12-07",
                    "grade": "C",
                    "indicators": [example(TracedIndicator)],
                    "name": "杨涛",
                    "period": "2026-Q1",
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "scheme_id": "592dcb88-f764-4bfe-a6af-35cd43b14b26",
                    "scheme_version": 1,
                    "score": "0.00",
                    "status": "finalized",
                    "digest": "398300a37d519ab07bb06f5ece10406f8977d50beffff63427cc0dd24129059d",
                }
            ]
        },
    )


class ImprovementPlan(BaseModel):
    rep_id: str
    period: str
    causes: str
    actions: str
    due_on: dt.date
    manager_id: str
    recorded_on: dt.date
    done_on: dt.date | None
    outcome: str | None
    position: int
    id: str
    status: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "period": "2026-Q1",
                    "causes": "回款慢",
                    "actions": "每周跟进",
                    "due_on": "2026-05-10",
                    "manager_id": "755fef13-1958-5fda-a517-9110add3cc4a",
                    "recorded_on": "2026-12-07",
                    "done_on": None,
                    "outcome": None,
                    "position": 799,
                    "id": "0f66bffc-40a5-42bf-a7fd-e0f0b33e639c",
                    "status": "overdue",
                }
            ]
        },
    )


class RepScorecards(BaseModel):
    """A rep's scorecards for a period, each value with what it was read from, the improvement plans
    of the period and notes on the previous, finalized period. Null fields: no scheme applies."""

    rep_id: str
    period: str
    name: str | None
    scheme_id: str | None
    scheme_version: int | None
    status: str | None
    digest: str | None
    score: str | None
    grade: str | None
    indicators: list[TracedIndicator]
    items: list[RepScorecardsItem]
    improvement_plans: list[ImprovementPlan]
    notes: list[ScorecardNote]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "period": "2026-Q1",
                    "name": "杨涛",
                    "scheme_id": "592dcb88-f764-4bfe-a6af-35cd43b14b26",
                    "scheme_version": 1,
                    "status": "finalized",
                    "digest": "398300a37d519ab07bb06f5ece10406f8977d50beffff63427cc0dd24129059d",
                    "score": "0.00",
                    "grade": "C",
                    "indicators": [example(TracedIndicator)],
                    "items": [example(RepScorecardsItem)],
                    "improvement_plans": [example(ImprovementPlan)],
                    "notes": [],
                }
            ]
        },
    )


class ScorecardVerificationItem(BaseModel):
    scheme_id: str
    scheme_version: int
    as_of_position: int
    grade: str
    score: str
    frozen_digest: str
    recomputed_digest: str
    verified: bool
    changed_since_finalized: list[IndicatorChange]
    score_now: str
    grade_now: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "scheme_id": "592dcb88-f764-4bfe-a6af-35cd43b14b26",
                    "scheme_version": 1,
                    "as_of_position": 832,
                    "grade": "C",
                    "score": "0.00",
                    "frozen_digest": "398300a37d519ab07bb06f5ece10406f8977d50beffff63427cc0dd24129059d",
                    "recomputed_digest": "398300a37d519ab07bb06f5ece10406f8977d50beffff63427cc0dd24129059d",
                    "verified": True,
                    "changed_since_finalized": [],
                    "score_now": "0.00",
                    "grade_now": "C",
                }
            ]
        },
    )


class ScorecardVerification(BaseModel):
    """A rep's finalized scorecards recomputed from their frozen inputs, digests compared."""

    rep_id: str
    period: str
    verified: bool
    items: list[ScorecardVerificationItem]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "3c83e238-fecf-51d6-9dcd-87b495722e34",
                    "period": "2026-Q1",
                    "verified": True,
                    "items": [example(ScorecardVerificationItem)],
                }
            ]
        },
    )


class ImprovementPlanList(BaseModel):
    """Improvement plans (改善对策) by status."""

    status: str | None
    manager_id: str | None
    as_of: dt.date
    items: list[ImprovementPlan]
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "status": "overdue",
                    "manager_id": None,
                    "as_of": "2026-12-07",
                    "items": [example(ImprovementPlan)],
                }
            ]
        },
    )


class ProgrammeReportAudience(BaseModel):
    levels: list[str]
    teams: list[str]
    partner_id: str | None
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={"examples": [{"levels": [], "teams": [], "partner_id": None}]},
    )


class ProgrammeReportItem(BaseModel):
    rep_id: str
    name: str | None
    level: str
    team: str
    hours_done: str
    required_hours: str
    complete: bool
    short_by: str
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "rep_id": "e35fb193-ab11-5cd4-bb7f-8b692c38d105",
                    "name": "何强",
                    "level": "mid",
                    "team": "西南二组",
                    "hours_done": "0.00",
                    "required_hours": "8.00",
                    "complete": False,
                    "short_by": "8.00",
                }
            ]
        },
    )


class ProgrammeReport(BaseModel):
    """A training programme (培训体系) with each rep of its audience, hours done by the due date and
    counts."""

    id: str
    name: str
    topic: str
    required_hours: str
    due_by: dt.date
    audience: ProgrammeReportAudience
    position: int
    as_of: dt.date
    items: list[ProgrammeReportItem]
    complete: int
    short: int
    model_config = ConfigDict(
        extra="allow",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "b3df44d8-6801-41a2-944e-694f70f9cf31",
                    "name": "产品知识 2026",
                    "topic": "product",
                    "required_hours": "8.00",
                    "due_by": "2026-03-31",
                    "audience": {"levels": [], "teams": [], "partner_id": None},
                    "position": 795,
                    "as_of": "2026-03-31",
                    "items": [example(ProgrammeReportItem)],
                    "complete": 0,
                    "short": 14,
                }
            ]
        },
    )
