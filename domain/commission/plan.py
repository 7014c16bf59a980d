"""Commission plans: versioned, effective-dated documents. A credited amount is paid under the
version in force on its business date for the rep credited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity
from domain.errors import Conflict, InvalidInput
from domain.values import currency, decimal_number, money, required_text, sane_date

COMPONENT_TYPES = ("tiered_rate", "override", "rank_bonus", "team_target_bonus")


def _rate(value: Any, field: str, high: Decimal = Decimal(1)) -> Decimal:
    rate = decimal_number(value, field)
    if not 0 <= rate <= high:
        raise InvalidInput(f"{field} must be a decimal string from 0 to {high}", field=field)
    return rate


def _choice(value: Any, allowed: tuple[str, ...], field: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"{field} must be one of: {', '.join(allowed)}", field=field, value=value)
    return str(value)


def validate_component(raw: Any, i: int) -> dict[str, Any]:
    where = f"components[{i}]"
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be an object", field=where)
    kind = _choice(raw.get("type"), COMPONENT_TYPES, f"{where}.type")
    out: dict[str, Any] = {"name": required_text(raw.get("name"), f"{where}.name", max_length=100), "type": kind}
    if kind == "tiered_rate":
        out["basis"] = _choice(raw.get("basis", "revenue"), ("revenue", "gross_margin"), f"{where}.basis")
        out["payable_on"] = _choice(raw.get("payable_on", "booking"), ("booking", "collection"), f"{where}.payable_on")
        out["tier_mode"] = _choice(
            raw.get("tier_mode", "marginal"), ("marginal", "retroactive", "per_transaction"), f"{where}.tier_mode"
        )
        out["thresholds"] = _choice(raw.get("thresholds", "amount"), ("amount", "attainment"), f"{where}.thresholds")
        tiers = raw.get("tiers")
        if not isinstance(tiers, list) or not tiers:
            raise InvalidInput(f"{where}.tiers must be a non-empty list", field=f"{where}.tiers")
        parsed, last = [], Decimal(0)
        for j, tier in enumerate(tiers):
            up_to = tier.get("up_to") if isinstance(tier, dict) else None
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
        out["tiers"] = parsed
        cap = raw.get("cap")
        out["cap"] = None if cap is None else str(money(cap, field=f"{where}.cap", allow_zero=True))
    elif kind == "override":
        out["basis"] = _choice(raw.get("basis", "revenue"), ("revenue",), f"{where}.basis")
        out["rate"] = str(_rate(raw.get("rate"), f"{where}.rate"))
        out["threshold"] = str(money(raw.get("threshold", "0"), field=f"{where}.threshold", allow_zero=True))
    elif kind == "rank_bonus":
        out["metric"] = _choice(raw.get("metric", "revenue"), ("revenue", "gross_margin"), f"{where}.metric")
        top = raw.get("top")
        if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
            raise InvalidInput(f"{where}.top must be a whole number from 1 to 1000", field=f"{where}.top")
        out["top"] = top
        out["amount"] = str(money(raw.get("amount"), field=f"{where}.amount"))
    else:
        out["amount"] = str(money(raw.get("amount"), field=f"{where}.amount"))
    return out


def validate_plan(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("a plan must be an object", field="plan")
    if body.get("period", "month") != "month":
        raise InvalidInput("only monthly plans are supported (period: month)", field="period")
    effective = body.get("effective_from")
    try:
        effective = effective if isinstance(effective, date) else date.fromisoformat(str(effective))
    except ValueError:
        raise InvalidInput("effective_from must be a date (YYYY-MM-DD)", field="effective_from") from None
    sane_date(effective, "effective_from")
    days = body.get("clawback_days", 0)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        raise InvalidInput("clawback_days must be a whole number from 0 to 3650", field="clawback_days")
    components = body.get("components")
    if not isinstance(components, list) or not components:
        raise InvalidInput("components must be a non-empty list", field="components")
    parsed = [validate_component(c, i) for i, c in enumerate(components)]
    names = [c["name"] for c in parsed]
    if len(set(names)) != len(names):
        raise InvalidInput("component names must be distinct", field="components")
    return {
        "name": required_text(body.get("name"), "name", max_length=200),
        "currency": currency(body.get("currency")),
        "period": "month",
        "effective_from": effective,
        "clawback_days": days,
        "components": parsed,
    }


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
