"""SMART targets per period and metric, and their decomposition down the organisation."""

from __future__ import annotations

from typing import TypeVar

from application.base import UseCases, Written
from domain.base import Entity, Meta
from domain.errors import NotFound
from domain.rep import Rep
from domain.target import TargetSheet, parse_scope, sheet_id

T = TypeVar("T", bound=Entity)


class Targets(UseCases):
    """SMART targets per period and metric, and their decomposition down the organisation."""

    def _sheet(self, period: str, metric: str) -> TargetSheet:
        fresh = TargetSheet.open(period=period, metric=metric)
        try:
            return self.load(TargetSheet, sheet_id(fresh.period, fresh.metric))
        except NotFound:
            return fresh

    def _target_scope(self, scope: str) -> str:
        scope = parse_scope(scope)
        if scope.startswith("rep:"):
            scope = f"rep:{self.load(Rep, scope[4:]).id}"
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

    def decompose_target(
        self, meta: Meta, *, period: str, metric: str, parent: str, children: list[dict], reason: str | None = None
    ) -> Written:
        sheet = self._sheet(period, metric)
        children = [{**c, "scope": self._target_scope(c.get("scope"))} for c in children]
        sheet.decompose(parent=self._target_scope(parent), children=children, reason=reason)
        return self._written(meta, sheet, period=sheet.period, metric=sheet.metric, parent=parse_scope(parent))
