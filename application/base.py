"""What every use case shares: the event store, If-Match, receipts and the shared look-ups."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from domain.base import Entity, Meta
from domain.errors import Conflict, NotFound, VersionConflict
from domain.lead_policy import POLICY_ID, LeadPolicy, PolicyView
from domain.rep import Rep
from domain.sales_policy import SALES_POLICY_ID, SalesPolicy, SalesPolicyView
from infrastructure.store import EventStore

T = TypeVar("T", bound=Entity)


@dataclass(frozen=True)
class Written:
    """Receipt of a command: the aggregate, its new version and the store position of the last event."""

    id: str
    version: int
    position: int
    extra: dict[str, Any] = field(default_factory=dict)


class UseCases:
    """Base of each bounded context's use cases: loads and records aggregates through the store."""

    def __init__(self, store: EventStore) -> None:
        self.store = store

    def load(self, cls: type[T], agg_id: object, version: int | None = None) -> T:
        return self.store.load(cls, agg_id, version)

    def load_as_of(self, cls: type[T], agg_id: object, as_of: datetime) -> T:
        return self.store.load_as_of(cls, agg_id, as_of)

    def record(self, meta: Meta, *aggregates: Entity) -> int:
        return self.store.record(meta, *aggregates)

    def _written(self, meta: Meta, agg: Entity, *others: Entity, **extra: Any) -> Written:
        position = self.record(meta, agg, *others)
        return Written(id=str(agg.id), version=agg.version, position=position, extra=extra)

    def _change(
        self, meta: Meta, cls: type[T], agg_id: object, expected_version: int | None, change: Callable[[T], None]
    ) -> Written:
        agg = self._expect(self.load(cls, agg_id), expected_version)
        change(agg)
        return self._written(meta, agg)

    @staticmethod
    def _expect(agg: T, expected_version: int | None) -> T:
        """If-Match: refuse when the aggregate has moved on from the version the caller saw."""
        if expected_version is not None and agg.version != expected_version:
            raise VersionConflict(
                f"{type(agg).__name__.lower()} is at version {agg.version}, not {expected_version}",
                id=str(agg.id),
                expected=expected_version,
                actual=agg.version,
            )
        return agg

    def _active_rep(self, rep_id: object, field_name: str) -> Rep:
        try:
            rep = self.load(Rep, rep_id)
        except NotFound:
            raise NotFound(f"{field_name}: no rep with id {rep_id}", field=field_name, id=str(rep_id)) from None
        if rep.status != "active":
            raise Conflict(f"{field_name}: rep {rep_id} is not active", field=field_name, id=str(rep_id))
        return rep

    def sales_policy(self) -> SalesPolicyView:
        try:
            return self.load(SalesPolicy, SALES_POLICY_ID).view()
        except NotFound:
            return SalesPolicyView.default()

    def lead_policy(self) -> PolicyView:
        try:
            return self.load(LeadPolicy, POLICY_ID).view()
        except NotFound:
            return PolicyView.default()
