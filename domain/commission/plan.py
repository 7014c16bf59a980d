"""Commission plans: versioned, effective-dated documents. A credited amount is paid under the
version in force on its business date for the rep credited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity
from domain.commission.schema import shape_problems
from domain.errors import Conflict, InvalidInput
from domain.values import currency, decimal_number, money, required_text, sane_date


def _rate(value: Any, field: str, high: Decimal = Decimal(1)) -> Decimal:
    rate = decimal_number(value, field)
    if not 0 <= rate <= high:
        raise InvalidInput(f"{field} must be a decimal string from 0 to {high}", field=field)
    return rate


def _tiers(tiers: list[dict[str, Any]], where: str) -> list[dict[str, Any]]:
    parsed, last = [], Decimal(0)
    for j, tier in enumerate(tiers):
        up_to = tier.get("up_to")
        if up_to is None:
            if j != len(tiers) - 1:
                raise InvalidInput("only the last tier may be open-ended (up_to null)", field=f"{where}.tiers[{j}]")
            bound = None
        else:
            bound = _rate(up_to, f"{where}.tiers[{j}].up_to", Decimal(10) ** 12)
            if bound <= last:
                raise InvalidInput("tier bounds must increase", field=f"{where}.tiers[{j}].up_to")
            last = bound
        parsed.append(
            {
                "up_to": None if bound is None else str(bound),
                "rate": str(_rate(tier.get("rate"), f"{where}.tiers[{j}].rate")),
            }
        )
    if parsed[-1]["up_to"] is not None:
        raise InvalidInput("the last tier must be open-ended (up_to null)", field=f"{where}.tiers")
    return parsed


def validate_component(raw: dict[str, Any], i: int) -> dict[str, Any]:
    """One component whose shape `schema.PlanBody` accepted: its values checked and normalised
    (decimals as strings; keys with their default value left out of older component kinds)."""
    where = f"components[{i}]"
    kind = raw["type"]
    out: dict[str, Any] = {"name": required_text(raw.get("name"), f"{where}.name", max_length=100), "type": kind}
    if kind == "tiered_rate":
        out["basis"] = raw.get("basis", "revenue")
        out["payable_on"] = raw.get("payable_on", "booking")
        out["tier_mode"] = raw.get("tier_mode", "marginal")
        out["thresholds"] = raw.get("thresholds", "amount")
        for key, default in (("measure", "period"), ("credit", "split")):
            if raw.get(key, default) != default:
                out[key] = raw[key]
        out["tiers"] = _tiers(raw["tiers"], where)
        cap = raw.get("cap")
        out["cap"] = None if cap is None else str(money(cap, field=f"{where}.cap", allow_zero=True))
    elif kind == "override":
        out["basis"] = "revenue"
        out["rate"] = str(_rate(raw.get("rate"), f"{where}.rate"))
        out["threshold"] = str(money(raw.get("threshold", "0"), field=f"{where}.threshold", allow_zero=True))
    elif kind == "rank_bonus":
        out["metric"] = raw.get("metric", "revenue")
        top = raw["top"]
        if isinstance(top, bool) or not 1 <= top <= 1000:
            raise InvalidInput(f"{where}.top must be a whole number from 1 to 1000", field=f"{where}.top")
        out["top"] = top
        out["amount"] = str(money(raw.get("amount"), field=f"{where}.amount"))
    elif kind == "target_bonus":
        out["metric"] = raw.get("metric", "revenue")
        out["over"] = raw.get("over", "month")
        out["attainment_at_least"] = str(
            _rate(raw.get("attainment_at_least", "1.00"), f"{where}.attainment_at_least", Decimal(100))
        )
        out["amount"] = str(money(raw.get("amount"), field=f"{where}.amount"))
    elif kind == "assessment_bonus":
        out["scheme_id"] = required_text(raw.get("scheme_id"), f"{where}.scheme_id", max_length=100)
        out["amounts"] = {
            required_text(grade, f"{where}.amounts", max_length=20): str(
                money(value, field=f"{where}.amounts.{grade}", allow_negative=True, allow_zero=True)
            )
            for grade, value in raw["amounts"].items()
        }
    else:
        out["amount"] = str(money(raw.get("amount"), field=f"{where}.amount"))
    return out


def _checked(problems: list[dict[str, str]], check: Any, *args: Any) -> Any:
    """`check(*args)`, or None with its refusal added to `problems`."""
    try:
        return check(*args)
    except InvalidInput as refused:
        problems.append({"field": str(refused.details.get("field", "plan")), "message": refused.message})
        return None


def validate_plan(body: Any) -> dict[str, Any]:
    """A plan body checked against its shape (unknown keys refused by path) and its rules, every
    problem reported at once (`details.errors`), or the normalised body."""
    if not isinstance(body, dict):
        raise InvalidInput("a plan must be an object", field="plan")
    problems = shape_problems(body)
    if problems:
        raise InvalidInput(
            f"{problems[0]['field']}: {problems[0]['message']}", field=problems[0]["field"], errors=problems
        )
    effective = body["effective_from"]
    effective = effective if isinstance(effective, date) else date.fromisoformat(str(effective))
    _checked(problems, sane_date, effective, "effective_from")
    days = body.get("clawback_days", 0)
    if isinstance(days, bool) or not 0 <= days <= 3650:
        problems.append({"field": "clawback_days", "message": "clawback_days must be a whole number from 0 to 3650"})
    parsed = [_checked(problems, validate_component, c, i) for i, c in enumerate(body["components"])]
    names = [c["name"] for c in parsed if c is not None]
    if len(set(names)) != len(names):
        problems.append({"field": "components", "message": "component names must be distinct"})
    name = _checked(problems, lambda: required_text(body.get("name"), "name", max_length=200))
    code = _checked(problems, currency, body.get("currency"))
    draw = None
    if body.get("draw") is not None:
        amount = _checked(problems, lambda: money(body["draw"]["amount"], field="draw.amount"))
        draw = {"amount": str(amount), "recoverable": bool(body["draw"].get("recoverable", True))}
    if problems:
        raise InvalidInput(
            f"{problems[0]['field']}: {problems[0]['message']}", field=problems[0]["field"], errors=problems
        )
    out = {
        "name": name,
        "currency": code,
        "period": "month",
        "effective_from": effective,
        "clawback_days": days,
        "components": parsed,
    }
    if draw is not None:
        out["draw"] = draw
    return out


class Plan(Entity):
    @event("Created")
    def __init__(self, id: UUID, body: dict[str, Any]) -> None:
        self.versions: list[dict[str, Any]] = [{"version": 1, **body}]

    @classmethod
    def create(cls, id: UUID, body: Any) -> Plan:
        return cls(id=id, body=validate_plan(body))

    def add_version(self, body: Any) -> int:
        parsed = validate_plan(body)
        latest = self.versions[-1]
        if parsed["effective_from"] <= latest["effective_from"]:
            raise Conflict(
                f"a new version must take effect after {latest['effective_from']}",
                code="effective_from_not_later",
                latest=latest["effective_from"].isoformat(),
            )
        if parsed["currency"] != latest["currency"]:
            raise Conflict("a plan keeps its currency across versions", code="currency_changed")
        version = len(self.versions) + 1
        self._versioned(version=version, body=parsed)
        return version

    @event("Versioned")
    def _versioned(self, version: int, body: dict[str, Any]) -> None:
        self.versions.append({"version": version, **body})

    def in_force(self, day: date) -> dict[str, Any] | None:
        """The version in force on `day` (None before the first takes effect)."""
        current = None
        for version in self.versions:
            if version["effective_from"] <= day:
                current = version
        return current
