"""SMART targets per period and metric, and their decomposition down the organisation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar, cast

from application.base import UseCases, Written
from domain.base import Entity, Meta
from domain.errors import NotFound
from domain.partner import Partner
from domain.rep import Rep
from domain.target import TargetSheet, parse_scope, sheet_id
from domain.values import Metric, Period

T = TypeVar("T", bound=Entity)

HISTORY_FIELDS = ("scope", "value", "previous", "parent", "children", "dropped", "reason")


@dataclass(frozen=True)
class TargetChange:
    """One change of a target sheet: `TargetSheetTargetSet` or `TargetSheetDecomposed`, who made
    it, when, and its fields (scope, value, previous, parent, children, dropped, reason)."""

    type: str
    recorded_at: datetime
    actor: str | None
    fields: dict[str, Any]

    @property
    def scope(self) -> str:
        """The scope the change is about: the target's scope, or the decomposed parent."""
        return self.fields.get("scope") or self.fields.get("parent") or "company"


@dataclass(frozen=True)
class TargetSheetView:
    """Every scope's target for a period and metric, the decomposition tree and its history."""

    period: str
    metric: str
    version: int
    targets: dict[str, Decimal]
    decompositions: dict[str, list[str]]
    history: list[TargetChange]


class Targets(UseCases):
    """SMART targets per period and metric, and their decomposition down the organisation."""

    def _sheet(self, period: str, metric: str) -> TargetSheet:
        fresh = TargetSheet.open(period=period, metric=metric)
        try:
            return self.load(TargetSheet, sheet_id(fresh.period, fresh.metric))
        except NotFound:
            return fresh

    def _target_scope(self, scope: object) -> str:
        scope = parse_scope(scope)
        if scope.startswith("rep:"):
            scope = f"rep:{self.load(Rep, scope[4:]).id}"
        elif scope.startswith("partner:"):
            scope = f"partner:{self.load(Partner, scope[8:]).id}"
        return scope

    def set_target(
        self, meta: Meta, *, period: str, metric: str, scope: str, value: object, reason: str | None = None
    ) -> Written:
        sheet = self._sheet(period, metric)
        scope = self._target_scope(scope)
        sheet.set(scope=scope, value=value, reason=reason)
        return self._written(
            meta, sheet, period=sheet.period, metric=sheet.metric, scope=scope, value=sheet.values[scope]
        )

    def sheet(self, period: str, metric: str) -> TargetSheetView:
        """The sheet of one period and metric (404 when nothing was ever set there)."""
        label, metric = Period.parse(period).label, Metric.parse(metric, "metric")
        try:
            sheet = self.load(TargetSheet, sheet_id(label, metric))
        except NotFound:
            raise NotFound(f"no {metric} targets for {label}", period=label, metric=metric) from None
        # after SheetOpened; the store hands back the sheet's own (timestamped) aggregate events
        events = cast("list[TargetSheet.Event]", list(self.store.repository.event_store.get(sheet.id))[1:])
        history = [
            TargetChange(
                type=type(e).__qualname__.replace(".", ""),
                recorded_at=e.timestamp,
                actor=(getattr(e, "meta", None) or {}).get("actor"),
                fields={k: v for k, v in vars(e).items() if k in HISTORY_FIELDS},
            )
            for e in events
        ]
        return TargetSheetView(
            period=label,
            metric=metric,
            version=sheet.version,
            targets=dict(sorted(sheet.values.items())),
            decompositions=dict(sorted(sheet.children.items())),
            history=history,
        )

    def decompose_target(
        self,
        meta: Meta,
        *,
        period: str,
        metric: str,
        parent: str,
        children: list[dict[str, Any]],
        reason: str | None = None,
    ) -> Written:
        sheet = self._sheet(period, metric)
        children = [{**c, "scope": self._target_scope(c.get("scope"))} for c in children]
        sheet.decompose(parent=self._target_scope(parent), children=children, reason=reason)
        return self._written(meta, sheet, period=sheet.period, metric=sheet.metric, parent=parse_scope(parent))
