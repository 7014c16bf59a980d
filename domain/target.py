"""SMART targets: one TargetSheet per period and metric holds every scope's target there.

Scopes form the decomposition tree company → region:X → team:Y → rep:ID. A decomposition
records which children split a parent's target; its children always sum exactly to the parent.
Every change is an event carrying the previous value and the reason, so history is kept."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity
from domain.errors import Conflict, InvalidInput
from domain.values import MONEY_METRICS, Metric, Period, money, optional_text, required_text

SCOPE_KINDS = ("company", "region", "team", "rep")
# a channel partner's staff: a scope of its own beside the org tree, split among its reps
PARTNER = "partner"
CHILD_KINDS = {"company": ("region", PARTNER), "region": ("team",), "team": ("rep",), PARTNER: ("rep",)}


def parse_scope(text: object) -> str:
    """'company', 'region:华东', 'team:华东一组', 'rep:<id>' or 'partner:<id>', normalised."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("scope is required: company, region:X, team:Y, rep:ID or partner:ID", field="scope")
    text = text.strip()
    if text == "company":
        return text
    kind, _, name = text.partition(":")
    if kind not in (*SCOPE_KINDS[1:], PARTNER) or not name.strip():
        raise InvalidInput("scope must be company, region:X, team:Y, rep:ID or partner:ID", field="scope", value=text)
    return f"{kind}:{required_text(name, 'scope', max_length=200)}"


def scope_kind(scope: str) -> str:
    return scope.partition(":")[0]


def parse_target_value(metric: str, value: object) -> Decimal:
    """Money metrics take two-decimal amounts; count metrics whole numbers; never negative."""
    if metric in MONEY_METRICS:
        return money(value, field="value", allow_zero=True)
    if isinstance(value, (float, bool)):
        raise InvalidInput("value must be a whole number", field="value")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput("value must be a whole number", field="value") from None
    if not number.is_finite() or number != number.to_integral_value() or number < 0 or number >= 10**12:
        raise InvalidInput("value must be a whole number, zero or more", field="value", value=str(value))
    return Decimal(int(number))


def sheet_id(period: str, metric: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"salesledger:targets:{period}:{metric}")


class TargetSheet(Entity):
    @event("SheetOpened")
    def __init__(self, id: UUID, period: str, metric: str) -> None:
        self.period = period
        self.metric = metric
        self.values: dict[str, Decimal] = {}
        self.children: dict[str, list[str]] = {}  # parent scope -> the scopes it was split into

    @classmethod
    def open(cls, *, period: str, metric: str) -> TargetSheet:
        period = Period.parse(period).label
        metric = Metric.parse(metric, "metric")
        return cls(id=sheet_id(period, metric), period=period, metric=metric)

    def parent_of(self, scope: str) -> str | None:
        return next((p for p, kids in self.children.items() if scope in kids), None)

    def set(self, *, scope: str, value: object, reason: str | None) -> None:
        scope = parse_scope(scope)
        value = parse_target_value(self.metric, value)
        reason = optional_text(reason, "reason")
        previous = self.values.get(scope)
        if previous == value:
            raise Conflict(
                f"the {self.metric} target of {scope} for {self.period} is already {value}", code="target_unchanged"
            )
        if previous is not None and reason is None:
            raise InvalidInput("changing a target needs a reason", field="reason")
        if previous is not None and (self.parent_of(scope) or scope in self.children):
            raise Conflict(
                f"{scope} is part of a decomposition: change it with a new decomposition so that "
                f"children keep summing to their parent",
                code="target_decomposed",
                parent=self.parent_of(scope),
                children=self.children.get(scope, []),
            )
        self._target_set(
            period=self.period, metric=self.metric, scope=scope, value=value, previous=previous, reason=reason
        )

    @event("TargetSet")
    def _target_set(
        self, period: str, metric: str, scope: str, value: Decimal, previous: Decimal | None, reason: str | None
    ) -> None:
        self.values[scope] = value

    def decompose(self, *, parent: str, children: list[dict[str, Any]], reason: str | None) -> None:
        parent = parse_scope(parent)
        reason = optional_text(reason, "reason")
        if parent not in self.values:
            raise Conflict(
                f"{parent} has no {self.metric} target for {self.period} to decompose",
                code="target_missing",
                scope=parent,
            )
        if scope_kind(parent) == "rep":
            raise InvalidInput("a rep's target cannot be decomposed further", field="parent")
        expected_kinds = CHILD_KINDS[scope_kind(parent)]
        if not children:
            raise InvalidInput("children must not be empty", field="children")
        parsed: list[dict[str, Any]] = []
        seen: set[str] = set()
        for i, child in enumerate(children):
            scope = parse_scope(child.get("scope"))
            if scope_kind(scope) not in expected_kinds:
                raise InvalidInput(
                    f"children of {parent} must be {' or '.join(expected_kinds)} scopes", field=f"children[{i}].scope"
                )
            if scope in seen:
                raise InvalidInput(f"{scope} appears twice", field="children")
            other = self.parent_of(scope)
            if other not in (None, parent):
                raise Conflict(f"{scope} is already part of {other}'s decomposition", code="target_decomposed")
            seen.add(scope)
            value = parse_target_value(self.metric, child.get("value"))
            if scope in self.children and self.values.get(scope) != value:
                raise Conflict(
                    f"{scope} is itself decomposed; re-decompose it after changing its value",
                    code="target_decomposed",
                    scope=scope,
                )
            parsed.append({"scope": scope, "value": value, "previous": self.values.get(scope)})
        if len({scope_kind(c["scope"]) for c in parsed}) > 1:  # partner staff sit in regions too: never both
            raise InvalidInput(f"children of {parent} must all be of one kind", field="children")
        total = sum((c["value"] for c in parsed), Decimal(0))
        if total != self.values[parent]:
            raise Conflict(
                f"children sum to {total}, not to {parent}'s target {self.values[parent]}",
                code="decomposition_mismatch",
                parent=parent,
                parent_value=str(self.values[parent]),
                children_sum=str(total),
            )
        changes = parent in self.children or any(c["previous"] is not None for c in parsed)
        if changes and reason is None:
            raise InvalidInput("changing a decomposition needs a reason", field="reason")
        dropped = sorted(set(self.children.get(parent, [])) - seen)
        self._decomposed(
            period=self.period, metric=self.metric, parent=parent, children=parsed, dropped=dropped, reason=reason
        )

    @event("Decomposed")
    def _decomposed(
        self,
        period: str,
        metric: str,
        parent: str,
        children: list[dict[str, Any]],
        dropped: list[str],
        reason: str | None,
    ) -> None:
        for scope in dropped:
            self.values.pop(scope, None)
        self.children[parent] = [c["scope"] for c in children]
        for child in children:
            self.values[child["scope"]] = child["value"]
