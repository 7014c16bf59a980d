"""The plan body's shape: one pydantic model per component type (a union by `type`), strict about
unknown keys, published in OpenAPI. `domain.commission.plan.validate_plan` checks a body against it
(every problem at once, each named by its path such as `components[0].tier_mod`) and then the
rules a shape cannot say (bands increase, names distinct, amounts are money)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# Decimal amounts and rates are written as decimal strings ("0.04", "150000"); numbers are accepted.
DecimalText = Annotated[str | int | float, Field(json_schema_extra={"format": "decimal"})]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Tier(_Strict):
    up_to: DecimalText | None = Field(description="upper bound of the band (null: open-ended, the last band)")
    rate: DecimalText = Field(description="rate paid on the band, 0 to 1")


class TieredRate(_Strict):
    """Pays a rate per band on the accumulated basis."""

    type: Literal["tiered_rate"]
    name: str
    basis: Literal["revenue", "gross_margin"] = "revenue"
    payable_on: Literal["booking", "collection"] = "booking"
    tier_mode: Literal["marginal", "retroactive", "per_transaction", "deal_rate"] = "marginal"
    thresholds: Literal["amount", "attainment"] = "amount"
    measure: Literal["period", "quarter_to_date", "year_to_date"] = Field(
        "period", description="where the cumulative basis starts: the month, the quarter or the year"
    )
    credit: Literal["split", "overlay"] = Field("split", description="split shares, or overlay parties")
    tiers: list[Tier] = Field(min_length=1)
    cap: DecimalText | None = None


class Override(_Strict):
    """A manager's rate on revenue credited below them, above a monthly threshold."""

    type: Literal["override"]
    name: str
    basis: Literal["revenue"] = "revenue"
    rate: DecimalText
    threshold: DecimalText = "0"


class RankBonus(_Strict):
    """A fixed amount for the top N of the plan by a metric, settled at close (ties at the cut paid)."""

    type: Literal["rank_bonus"]
    name: str
    metric: Literal["revenue", "gross_margin"] = "revenue"
    top: int
    amount: DecimalText


class TeamTargetBonus(_Strict):
    """A fixed amount when the rep's team (or a team they lead) reaches its revenue target."""

    type: Literal["team_target_bonus"]
    name: str
    amount: DecimalText


class TargetBonus(_Strict):
    """Paid once, on the last month of the span, when the rep's attainment over it reaches the threshold."""

    type: Literal["target_bonus"]
    name: str
    metric: Literal["revenue", "gross_margin"] = "revenue"
    over: Literal["month", "quarter", "year"] = "month"
    attainment_at_least: DecimalText = "1.00"
    amount: DecimalText


class AssessmentBonus(_Strict):
    """Paid (or, negative, deducted) on the statement of the last month of an assessment period,
    by the grade the rep's finalized scorecard of that scheme gives."""

    type: Literal["assessment_bonus"]
    name: str
    scheme_id: str
    amounts: dict[str, DecimalText] = Field(min_length=1, description='grade -> amount, e.g. {"S": "5000"}')


Component = Annotated[
    TieredRate | Override | RankBonus | TeamTargetBonus | TargetBonus | AssessmentBonus, Field(discriminator="type")
]


class Draw(_Strict):
    """A month whose other lines total less than `amount` is made up to it; recoverable draws are
    taken back from later months above it."""

    amount: DecimalText
    recoverable: bool = True


class PlanBody(_Strict):
    """A commission plan version."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Field sales 2026",
                    "currency": "CNY",
                    "period": "month",
                    "effective_from": "2026-01-01",
                    "clawback_days": 180,
                    "draw": {"amount": "3000", "recoverable": True},
                    "components": [
                        {
                            "name": "base",
                            "type": "tiered_rate",
                            "basis": "revenue",
                            "payable_on": "booking",
                            "tier_mode": "marginal",
                            "thresholds": "amount",
                            "measure": "period",
                            "tiers": [
                                {"up_to": "150000", "rate": "0.04"},
                                {"up_to": "250000", "rate": "0.06"},
                                {"up_to": None, "rate": "0.08"},
                            ],
                            "cap": None,
                        },
                        {
                            "name": "annual accelerator",
                            "type": "tiered_rate",
                            "tier_mode": "marginal",
                            "measure": "year_to_date",
                            "tiers": [{"up_to": "1000000", "rate": "0.00"}, {"up_to": None, "rate": "0.02"}],
                        },
                        {
                            "name": "presales overlay",
                            "type": "tiered_rate",
                            "credit": "overlay",
                            "tiers": [{"up_to": None, "rate": "0.01"}],
                        },
                        {"name": "manager override", "type": "override", "rate": "0.03", "threshold": "0"},
                        {
                            "name": "top 10 bonus",
                            "type": "rank_bonus",
                            "metric": "revenue",
                            "top": 10,
                            "amount": "2000",
                        },
                        {"name": "team target bonus", "type": "team_target_bonus", "amount": "10000"},
                        {
                            "name": "quarter target bonus",
                            "type": "target_bonus",
                            "metric": "revenue",
                            "over": "quarter",
                            "attainment_at_least": "1.00",
                            "amount": "20000",
                        },
                    ],
                }
            ]
        },
    )

    name: str
    currency: str = Field(description="ISO 4217 code, kept across versions")
    period: Literal["month"] = "month"
    effective_from: date = Field(description="YYYY-MM-DD: credits dated from then are paid under this version")
    clawback_days: int = 0
    draw: Draw | None = None
    components: list[Component] = Field(min_length=1)


def _path(loc: tuple[Any, ...]) -> str:
    """('components', 0, 'tiered_rate', 'tier_mod') -> 'components[0].tier_mod'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in COMPONENT_TAGS:
            continue  # the union's branch, not a key of the body
        else:
            out += f".{part}" if out else str(part)
    return out


COMPONENT_TAGS = frozenset(
    {"tiered_rate", "override", "rank_bonus", "team_target_bonus", "target_bonus", "assessment_bonus"}
)


def shape_problems(body: Any) -> list[dict[str, str]]:
    """Every way `body` departs from the plan's shape, each named by its path."""
    try:
        PlanBody.model_validate(body)
    except ValidationError as error:
        problems = []
        for e in error.errors():
            kind = e.get("type")
            message = "unknown key" if kind == "extra_forbidden" else e.get("msg", "invalid")
            problems.append({"field": _path(tuple(e.get("loc", ()))) or "plan", "message": message})
        return problems
    return []
