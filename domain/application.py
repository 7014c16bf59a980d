"""The application service: one method per command, each a single atomic write.

Every command stamps its events with metadata (actor, correlation id, causation id) and
answers a `Written` receipt carrying the store position, for read-your-writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from domain.base import Entity
from domain.customer import Customer
from domain.deal import Deal, parse_splits
from domain.errors import Conflict, NotFound, VersionConflict
from domain.lead import Lead
from domain.rep import Rep

T = TypeVar("T", bound=Entity)

AGGREGATES: dict[str, type[Entity]] = {"rep": Rep, "customer": Customer, "lead": Lead, "deal": Deal}


@dataclass(frozen=True)
class Meta:
    """Who asked for a change, and in answer to which request."""

    actor: str = "system"
    correlation_id: str = ""
    causation_id: str = ""


@dataclass(frozen=True)
class Written:
    """Receipt of a command: the aggregate, its new version and the store position of the last event."""

    id: str
    version: int
    position: int
    extra: dict[str, Any] = field(default_factory=dict)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def parse_id(value: object, kind: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise NotFound(f"no {kind} with id {value}", kind=kind, id=str(value)) from None


class SalesLedger(Application):
    name = "SalesLedger"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    # -- recording -----------------------------------------------------------------------------
    def record(self, meta: Meta, *aggregates: Aggregate) -> int:
        """Atomically append the pending events of `aggregates`; answer the last store position."""
        events = [e for agg in aggregates for e in agg.collect_events()]
        stamp = asdict(meta)
        for e in events:
            object.__setattr__(e, "meta", stamp)
        try:
            recordings = self.save(*events)
        except IntegrityError:
            raise VersionConflict(
                "another writer changed this aggregate concurrently; reload and retry",
                ids=sorted({str(e.originator_id) for e in events}),
            ) from None
        return recordings[-1].notification.id if recordings else self.recorder.max_notification_id() or 0

    def _written(self, meta: Meta, agg: Entity, *others: Entity, **extra: Any) -> Written:
        position = self.record(meta, agg, *others)
        return Written(id=str(agg.id), version=agg.version, position=position, extra=extra)

    def _change(self, meta: Meta, cls: type[T], agg_id: object, expected_version: int | None,
                change: Callable[[T], None]) -> Written:
        agg = self.load(cls, agg_id)
        if expected_version is not None and agg.version != expected_version:
            raise VersionConflict(
                f"{cls.__name__.lower()} is at version {agg.version}, not {expected_version}",
                id=str(agg.id), expected=expected_version, actual=agg.version,
            )
        change(agg)
        return self._written(meta, agg)

    # -- reading -------------------------------------------------------------------------------
    def load(self, cls: type[T], agg_id: object, version: int | None = None) -> T:
        kind = cls.__name__.lower()
        uid = parse_id(agg_id, kind)
        try:
            agg = self.repository.get(uid, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no {kind} with id {agg_id}" + ("" if version is None else f" at version {version}"),
                           kind=kind, id=str(agg_id)) from None
        if not isinstance(agg, cls):
            raise NotFound(f"no {kind} with id {agg_id}", kind=kind, id=str(agg_id))
        if version is not None and agg.version != version:
            raise NotFound(f"{kind} {agg_id} has no version {version} (latest is {agg.version})",
                           kind=kind, id=str(agg_id), version=version, latest=agg.version)
        return agg

    def load_as_of(self, cls: type[T], agg_id: object, as_of: datetime) -> T:
        """The aggregate as it stood at `as_of` (recording time): replay its events up to then."""
        uid = parse_id(agg_id, cls.__name__.lower())
        last = None
        for e in self.repository.event_store.get(uid):
            if e.timestamp > as_of:
                break
            last = e.originator_version
        if last is None:
            raise NotFound(f"no {cls.__name__.lower()} with id {agg_id} at {as_of.isoformat()}",
                           kind=cls.__name__.lower(), id=str(agg_id))
        return self.load(cls, uid, version=last)

    def _active_rep(self, rep_id: object, field_name: str) -> Rep:
        try:
            rep = self.load(Rep, rep_id)
        except NotFound:
            raise NotFound(f"{field_name}: no rep with id {rep_id}", field=field_name, id=str(rep_id)) from None
        if rep.status != "active":
            raise Conflict(f"{field_name}: rep {rep_id} is not active", field=field_name, id=str(rep_id))
        return rep

    # -- reps ----------------------------------------------------------------------------------
    def hire_rep(self, meta: Meta, *, name: str, level: str, team: str, region: str,
                 manager_id: str | None = None, hired_on: date | None = None, id: UUID | None = None) -> Written:
        if manager_id:
            manager_id = str(self._active_rep(manager_id, "manager_id").id)
        rep = Rep.hire(id or uuid4(), name=name, level=level, team=team, region=region,
                       manager_id=manager_id, hired_on=hired_on)
        return self._written(meta, rep)

    # -- customers -----------------------------------------------------------------------------
    def register_customer(self, meta: Meta, *, name: str, region: str, industry: str, registered_on: date,
                          owner_id: str | None = None, size_band: str | None = None,
                          id: UUID | None = None) -> Written:
        if owner_id is not None:
            owner_id = str(self._active_rep(owner_id, "owner_id").id)
        customer = Customer.register(id or uuid4(), name=name, region=region, industry=industry,
                                     registered_on=registered_on, owner_id=owner_id, size_band=size_band)
        return self._written(meta, customer)

    # -- leads ---------------------------------------------------------------------------------
    def capture_lead(self, meta: Meta, *, company: str, source: str, region: str, industry: str,
                     captured_on: date, id: UUID | None = None, **contact: str | None) -> Written:
        lead = Lead.capture(id or uuid4(), company=company, source=source, region=region,
                            industry=industry, captured_on=captured_on, **contact)
        return self._written(meta, lead, duplicate_of=lead.duplicate_of)

    # -- deals ---------------------------------------------------------------------------------
    def open_deal(self, meta: Meta, *, customer_id: str, owner_id: str, amount: object, product_line: str,
                  opened_on: date, currency: str | None = None, title: str | None = None,
                  expected_close: date | None = None, id: UUID | None = None) -> Written:
        try:
            customer = self.load(Customer, customer_id)
        except NotFound:
            raise NotFound(f"customer_id: no customer with id {customer_id}", field="customer_id",
                           id=str(customer_id)) from None
        owner = self._active_rep(owner_id, "owner_id")
        deal = Deal.open(id or uuid4(), customer_id=str(customer.id), owner_id=str(owner.id), amount=amount,
                         product_line=product_line, opened_on=opened_on, currency_code=currency,
                         title=title, expected_close=expected_close)
        return self._written(meta, deal)

    def change_deal_stage(self, meta: Meta, deal_id: str, stage: str, *, expected_version: int | None = None) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.change_stage(stage))

    def set_deal_splits(self, meta: Meta, deal_id: str, splits: list[dict], *,
                        expected_version: int | None = None) -> Written:
        parsed = [{**s, "rep_id": str(self._active_rep(s["rep_id"], "splits.rep_id").id)}
                  for s in parse_splits(splits)]
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.set_splits(parsed))

    def win_deal(self, meta: Meta, deal_id: str, *, amount: object, gross_margin: object, signed_on: date,
                 contract_no: str | None = None, expected_version: int | None = None) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.win(
            amount=amount, gross_margin=gross_margin, signed_on=signed_on, contract_no=contract_no))

    def lose_deal(self, meta: Meta, deal_id: str, *, reason: str, competitor: str | None = None,
                  notes: str | None = None, expected_version: int | None = None) -> Written:
        return self._change(meta, Deal, deal_id, expected_version,
                            lambda d: d.lose(reason=reason, competitor=competitor, notes=notes))

    def receive_payment(self, meta: Meta, deal_id: str, *, amount: object, received_on: date,
                        expected_version: int | None = None) -> Written:
        return self._change(meta, Deal, deal_id, expected_version,
                            lambda d: d.receive_payment(amount=amount, received_on=received_on))

    def refund_deal(self, meta: Meta, deal_id: str, *, amount: object, refunded_on: date, reason: str,
                    expected_version: int | None = None) -> Written:
        return self._change(meta, Deal, deal_id, expected_version,
                            lambda d: d.refund(amount=amount, refunded_on=refunded_on, reason=reason))
