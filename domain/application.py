"""The application service: one method per command, each a single atomic write.

Every command stamps its events with metadata (actor, correlation id, causation id) and
answers a `Written` receipt carrying the store position, for read-your-writes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Transcoding

from domain.access import SECRET_PREFIX, AccessKey, Role, key_id_for
from domain.base import Entity
from domain.commission.period import CommissionPeriod
from domain.commission.plan import Plan
from domain.commission.service import CommissionCommands
from domain.customer import Customer
from domain.deal import Deal, parse_splits
from domain.errors import Conflict, NotFound, VersionConflict
from domain.lead import Lead
from domain.lead_policy import LeadPolicy
from domain.lead_service import LeadCommands
from domain.rep import Rep
from domain.sales_policy import SALES_POLICY_ID, SalesPolicy, SalesPolicyView
from domain.target import TargetSheet, parse_scope, sheet_id
from domain.values import OPEN_STAGES, Stage, money, required_text

T = TypeVar("T", bound=Entity)

AGGREGATES: dict[str, type[Entity]] = {
    "rep": Rep,
    "customer": Customer,
    "lead": Lead,
    "deal": Deal,
    "target_sheet": TargetSheet,
    "lead_policy": LeadPolicy,
    "sales_policy": SalesPolicy,
    "plan": Plan,
    "commission_period": CommissionPeriod,
    "access_key": AccessKey,
}


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


class SalesLedger(LeadCommands, CommissionCommands, Application):
    name = "SalesLedger"

    def __init__(self, env: dict[str, str] | None = None, *, personal_data: Transcoding | None = None) -> None:
        """`personal_data` is the transcoding that stores Personal values (encrypted per data
        subject); without one, recording personal data is refused."""
        self.personal_data = personal_data
        super().__init__(env=env)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        if self.personal_data is not None:
            transcoder.register(self.personal_data)

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

    # -- reading -------------------------------------------------------------------------------
    def load(self, cls: type[T], agg_id: object, version: int | None = None) -> T:
        kind = cls.__name__.lower()
        uid = parse_id(agg_id, kind)
        try:
            agg = self.repository.get(uid, version=version)
        except AggregateNotFoundError:
            raise NotFound(
                f"no {kind} with id {agg_id}" + ("" if version is None else f" at version {version}"),
                kind=kind,
                id=str(agg_id),
            ) from None
        if not isinstance(agg, cls):
            raise NotFound(f"no {kind} with id {agg_id}", kind=kind, id=str(agg_id))
        if version is not None and agg.version != version:
            raise NotFound(
                f"{kind} {agg_id} has no version {version} (latest is {agg.version})",
                kind=kind,
                id=str(agg_id),
                version=version,
                latest=agg.version,
            )
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
            raise NotFound(
                f"no {cls.__name__.lower()} with id {agg_id} at {as_of.isoformat()}",
                kind=cls.__name__.lower(),
                id=str(agg_id),
            )
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
    def hire_rep(
        self,
        meta: Meta,
        *,
        name: str,
        level: str,
        team: str,
        region: str,
        manager_id: str | None = None,
        hired_on: date | None = None,
        id: UUID | None = None,
    ) -> Written:
        if manager_id:
            manager_id = str(self._active_rep(manager_id, "manager_id").id)
        rep = Rep.hire(
            id or uuid4(), name=name, level=level, team=team, region=region, manager_id=manager_id, hired_on=hired_on
        )
        return self._written(meta, rep)

    def change_rep_level(
        self,
        meta: Meta,
        rep_id: str,
        *,
        level: str,
        effective_from: date,
        reason: str,
        expected_version: int | None = None,
    ) -> Written:
        """A promotion or a demotion (the event says which), effective from a business date."""
        return self._change(
            meta,
            Rep,
            rep_id,
            expected_version,
            lambda r: r.change_level(level=level, effective_from=effective_from, reason=reason),
        )

    def transfer_rep(
        self,
        meta: Meta,
        rep_id: str,
        *,
        effective_from: date,
        reason: str,
        team: str | None = None,
        region: str | None = None,
        manager_id: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """Move a rep to another team, region or manager; fields not given stay as they were then."""
        rep = self.load(Rep, rep_id)
        then = rep.as_of(effective_from) if isinstance(effective_from, date) else None
        then = then or {"team": rep.team, "region": rep.region, "manager_id": rep.manager_id}
        if manager_id:
            manager_id = str(self._active_rep(manager_id, "manager_id").id)
            self._refuse_cycle(str(rep.id), manager_id)
        return self._change(
            meta,
            Rep,
            rep_id,
            expected_version,
            lambda r: r.transfer(
                team=team or then["team"],
                region=region or then["region"],
                manager_id=manager_id if manager_id is not None else then["manager_id"],
                effective_from=effective_from,
                reason=reason,
            ),
        )

    def _refuse_cycle(self, rep_id: str, manager_id: str) -> None:
        seen, current = set(), manager_id
        while current and current not in seen:
            if current == rep_id:
                raise Conflict(
                    "that manager reports (directly or not) to this rep",
                    code="manager_cycle",
                    rep_id=rep_id,
                    manager_id=manager_id,
                )
            seen.add(current)
            current = self.load(Rep, current).manager_id

    def rep_leaves(
        self,
        meta: Meta,
        rep_id: str,
        *,
        effective_on: date,
        reason: str,
        customers: list[str],
        reports: list[str],
        reassign_to: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """A rep leaves. Their customers and direct reports (found by the caller from the read
        model) must be handed to `reassign_to` in the same atomic write, else 409 lists them."""
        rep = self._expect(self.load(Rep, rep_id), expected_version)
        leads = list(rep.open_leads)
        if (customers or reports or leads) and not reassign_to:
            raise Conflict(
                "reassign the rep's open leads, customers and direct reports first, or give reassign_to",
                code="rep_has_open_work",
                leads=sorted(leads),
                customers=sorted(customers),
                reports=sorted(reports),
            )
        rep.leave(effective_on=effective_on, reason=reason)
        changed: list[Entity] = []
        if reassign_to:
            heir_rep = self._active_rep(reassign_to, "reassign_to")
            heir = str(heir_rep.id)
            if heir == str(rep.id):
                raise Conflict("a leaving rep cannot inherit their own work", code="reassign_to_self")
            handed_at = datetime.combine(effective_on, datetime.min.time(), tzinfo=UTC)
            for lead_id in leads:
                lead = self.load(Lead, lead_id)
                lead.assign(
                    rep_id=heir,
                    kind="handover",
                    assigned_at=handed_at,
                    why="the previous rep left",
                    reason=f"owner left: {reason}",
                )
                heir_rep.take_lead(lead_id=lead_id, capacity=None, taken_at=handed_at)
                rep.release_lead(lead_id=lead_id, why="left")
                changed.append(lead)
            if leads:
                changed.append(heir_rep)
            for customer_id in customers:
                customer = self.load(Customer, customer_id)
                customer.transfer_owner(owner_id=heir, reason=f"owner left: {reason}", effective_on=effective_on)
                changed.append(customer)
            for report_id in reports:
                report = self.load(Rep, report_id)
                report.transfer(
                    team=report.team,
                    region=report.region,
                    manager_id=heir,
                    effective_from=effective_on,
                    reason=f"manager left: {reason}",
                )
                changed.append(report)
        return self._written(meta, rep, *changed, reassigned_to=reassign_to)

    # -- targets -------------------------------------------------------------------------------
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

    # -- customers -----------------------------------------------------------------------------
    def register_customer(
        self,
        meta: Meta,
        *,
        name: str,
        region: str,
        industry: str,
        registered_on: date,
        owner_id: str | None = None,
        size_band: str | None = None,
        id: UUID | None = None,
    ) -> Written:
        if owner_id is not None:
            owner_id = str(self._active_rep(owner_id, "owner_id").id)
        customer = Customer.register(
            id or uuid4(),
            name=name,
            region=region,
            industry=industry,
            registered_on=registered_on,
            owner_id=owner_id,
            size_band=size_band,
        )
        return self._written(meta, customer)

    def grade_customer(
        self, meta: Meta, customer_id: str, *, grade: str, reason: str, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta, Customer, customer_id, expected_version, lambda c: c.grade_as(grade=grade, reason=reason)
        )

    def transfer_customer(
        self,
        meta: Meta,
        customer_id: str,
        *,
        owner_id: str,
        reason: str,
        effective_on: date,
        expected_version: int | None = None,
    ) -> Written:
        owner = str(self._active_rep(owner_id, "owner_id").id)
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.transfer_owner(owner_id=owner, reason=reason, effective_on=effective_on),
        )

    def log_visit(
        self,
        meta: Meta,
        customer_id: str,
        *,
        rep_id: str,
        kind: str,
        occurred_at: datetime,
        notes: str | None = None,
        next_step: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        rep = str(self._active_rep(rep_id, "rep_id").id)
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.log_visit(rep_id=rep, kind=kind, occurred_at=occurred_at, notes=notes, next_step=next_step),
        )

    # -- sales policy --------------------------------------------------------------------------
    def sales_policy(self) -> SalesPolicyView:
        try:
            return self.load(SalesPolicy, SALES_POLICY_ID).view()
        except NotFound:
            return SalesPolicyView.default()

    def configure_sales_policy(self, meta: Meta, *, settings: dict, reason: str) -> Written:
        try:
            policy = self.load(SalesPolicy, SALES_POLICY_ID)
            policy.configure(settings, reason)
        except NotFound:
            policy = SalesPolicy.configure_first(settings, reason)
        return self._written(meta, policy, policy_version=policy.version)

    # -- access keys ---------------------------------------------------------------------------
    def mint_key(self, meta: Meta, *, role: str, label: str | None = None, rep_id: str | None = None) -> Written:
        """A new API key. The answer carries the secret (`key`): it is shown this once and only
        its digest is recorded."""
        if rep_id is not None:
            rep = self._active_rep(rep_id, "rep_id")
            rep_id = str(rep.id)
            if Role.parse(role, "role") == Role.MANAGER and rep.level not in ("manager", "director"):
                raise Conflict(
                    "a manager key belongs to a manager or director",
                    code="not_a_manager",
                    rep_id=rep_id,
                    level=rep.level,
                )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = AccessKey.mint(secret, role=role, rep_id=rep_id, label=label)
        return self._written(
            meta, key, key=secret, key_id=str(key.id), role=key.role, rep_id=key.rep_id, label=key.label
        )

    def revoke_key(self, meta: Meta, key_id: str, *, reason: str) -> Written:
        return self._change(meta, AccessKey, key_id, None, lambda k: k.revoke(reason))

    def key_for(self, secret: str) -> AccessKey | None:
        """The live key holding this secret, or None: unknown, revoked, or its rep has left."""
        try:
            key = self.repository.get(key_id_for(secret))
        except AggregateNotFoundError:
            return None
        if not isinstance(key, AccessKey) or key.revoked:
            return None
        if key.rep_id and self.load(Rep, key.rep_id).status != "active":
            return None
        return key

    # -- forgetting personal data (crypto-shredding) ----------------------------------------------
    def forget(self, meta: Meta, cls: type[T], agg_id: str, *, reason: str) -> Written:
        """Record that a lead or customer record's personal data is to be forgotten, then destroy
        its key: the data is unreadable everywhere from then on, and history still replays."""
        if self.personal_data is None:
            raise Conflict("this store keeps no personal-data keys", code="no_key_vault")
        agg = self.load(cls, agg_id)
        if getattr(agg, "forgotten", False):
            raise Conflict("already forgotten", code="already_forgotten")
        agg.forget(reason=reason)
        written = self._written(meta, agg)
        self.personal_data.forget(str(agg.id))
        return written

    # -- customers, continued --------------------------------------------------------------------
    def classify_customer(
        self, meta: Meta, customer_id: str, *, classification: str, reason: str, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.classify(classification=classification, reason=reason),
        )

    def rate_customer_credit(
        self,
        meta: Meta,
        customer_id: str,
        *,
        rating: str,
        limit: object,
        evidence: str,
        rated_on: date,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.rate_credit(rating=rating, limit=limit, evidence=evidence, rated_on=rated_on),
        )

    def add_stakeholder(
        self, meta: Meta, customer_id: str, *, expected_version: int | None = None, **fields: str | None
    ) -> Written:
        stakeholder_id = uuid4().hex
        written = self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.add_stakeholder(stakeholder_id=stakeholder_id, **fields),
        )
        return Written(written.id, written.version, written.position, {"stakeholder_id": stakeholder_id})

    def update_stakeholder(
        self,
        meta: Meta,
        customer_id: str,
        stakeholder_id: str,
        *,
        expected_version: int | None = None,
        **fields: str | None,
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.update_stakeholder(stakeholder_id=stakeholder_id, **fields),
        )

    def remove_stakeholder(
        self, meta: Meta, customer_id: str, stakeholder_id: str, *, reason: str, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.remove_stakeholder(stakeholder_id=stakeholder_id, reason=reason),
        )

    def give_feedback(
        self,
        meta: Meta,
        customer_id: str,
        *,
        score: int,
        given_on: date,
        comment: str | None = None,
        rep_id: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        if rep_id:
            rep_id = str(self.load(Rep, rep_id).id)
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.give_feedback(score=score, comment=comment, given_on=given_on, rep_id=rep_id),
        )

    def churn_customer(
        self, meta: Meta, customer_id: str, *, reason: str, on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.move_lifecycle(
                to="churned", reason=reason, on=on, allowed_from=("prospect", "active", "dormant")
            ),
        )

    def reactivate_customer(
        self, meta: Meta, customer_id: str, *, reason: str, on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta,
            Customer,
            customer_id,
            expected_version,
            lambda c: c.move_lifecycle(to="active", reason=reason, on=on, allowed_from=("dormant", "churned")),
        )

    def mark_dormant(self, meta: Meta, customer_id: str, *, as_of: date, last_activity: date | None) -> int | None:
        """Idempotent: only an active customer with no activity for the policy's days turns dormant."""
        days = self.sales_policy().settings["dormant_after_days"]
        customer = self.load(Customer, customer_id)
        if customer.lifecycle != "active" or (last_activity and (as_of - last_activity).days < days):
            return None
        customer.move_lifecycle(
            to="dormant",
            on=as_of,
            allowed_from=("active",),
            reason=f"no activity for {days} days (last: {last_activity})",
        )
        return self.record(meta, customer)

    # -- deals ---------------------------------------------------------------------------------
    def open_deal(
        self,
        meta: Meta,
        *,
        customer_id: str,
        owner_id: str,
        amount: object,
        product_line: str,
        opened_on: date,
        currency: str | None = None,
        title: str | None = None,
        expected_close: date | None = None,
        exposure: Decimal | None = None,
        credit_override: dict | None = None,
        id: UUID | None = None,
    ) -> Written:
        """Open a deal. A customer with a credit limit refuses a deal that would take its exposure
        (open deal amounts plus receivables, given by the caller) over the limit, unless a manager
        overrides with a reason; the override is recorded on the deal."""
        try:
            customer = self.load(Customer, customer_id)
        except NotFound:
            raise NotFound(
                f"customer_id: no customer with id {customer_id}", field="customer_id", id=str(customer_id)
            ) from None
        owner = self._active_rep(owner_id, "owner_id")
        override = self._credit_check(
            customer, money(amount, allow_zero=True), exposure or Decimal("0.00"), credit_override
        )
        policy = self.sales_policy()
        deal = Deal.open(
            id or uuid4(),
            customer_id=str(customer.id),
            owner_id=str(owner.id),
            amount=amount,
            product_line=product_line,
            opened_on=opened_on,
            currency_code=currency,
            title=title,
            expected_close=expected_close,
            probability=policy.probability(Stage.INITIAL_CONTACT),
            credit_override=override,
        )
        return self._written(meta, deal)

    def _credit_check(
        self, customer: Customer, amount: Decimal, exposure: Decimal, override: dict | None
    ) -> dict | None:
        if customer.credit is None or exposure + amount <= customer.credit["limit"]:
            return None
        details = {
            "limit": str(customer.credit["limit"]),
            "exposure": str(exposure),
            "amount": str(amount),
            "rating": customer.credit["rating"],
        }
        if not override:
            raise Conflict(
                f"the deal would take the customer's exposure to {exposure + amount}, over its credit "
                f"limit of {customer.credit['limit']}; a manager may override with a reason",
                code="credit_limit_exceeded",
                **details,
            )
        manager = self._active_rep(override.get("manager_id"), "credit_override.manager_id")
        if manager.level not in ("manager", "director"):
            raise Conflict(
                "only a manager or director can override a credit limit",
                code="override_not_allowed",
                level=manager.level,
            )
        return {
            "manager_id": str(manager.id),
            "reason": required_text(override.get("reason"), "credit_override.reason"),
            **details,
        }

    def change_deal_stage(
        self,
        meta: Meta,
        deal_id: str,
        stage: str,
        *,
        changed_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        policy = self.sales_policy()
        probability = policy.probability(stage) if stage in OPEN_STAGES else None
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.change_stage(stage, changed_on=changed_on, probability=probability),
        )

    def revise_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        reason: str,
        amount: object | None = None,
        expected_close: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.revise(reason=reason, amount=amount, expected_close=expected_close),
        )

    def set_deal_line_items(
        self, meta: Meta, deal_id: str, items: list[dict], *, expected_version: int | None = None
    ) -> Written:
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.set_line_items(items))

    def set_deal_splits(
        self,
        meta: Meta,
        deal_id: str,
        splits: list[dict],
        *,
        overlays: list[dict] | None = None,
        expected_version: int | None = None,
    ) -> Written:
        parsed = [{**s, "rep_id": str(self._active_rep(s["rep_id"], "splits.rep_id").id)} for s in parse_splits(splits)]
        return self._change(meta, Deal, deal_id, expected_version, lambda d: d.set_splits(parsed, overlays))

    def win_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        amount: object,
        gross_margin: object,
        signed_on: date,
        contract_no: str | None = None,
        payment_due_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """Win; the customer becomes (or becomes again) active in the same write."""
        deal = self._expect(self.load(Deal, deal_id), expected_version)
        deal.win(
            amount=amount,
            gross_margin=gross_margin,
            signed_on=signed_on,
            contract_no=contract_no,
            payment_due_on=payment_due_on,
            payment_terms_days=self.sales_policy().settings["payment_terms_days"],
        )
        customer = self.load(Customer, deal.customer_id)
        if customer.lifecycle != "active":
            first = customer.lifecycle == "prospect"
            customer.move_lifecycle(
                to="active",
                on=deal.signed_on,
                allowed_from=("prospect", "dormant", "churned"),
                reason=f"{'first' if first else 'reactivated by a'} won deal {deal.id}",
            )
            return self._written(meta, deal, customer)
        return self._written(meta, deal)

    def lose_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        reason: str,
        competitor: str | None = None,
        notes: str | None = None,
        lost_on: date | None = None,
        expected_version: int | None = None,
    ) -> Written:
        allowed = self.sales_policy().settings["loss_reasons"]
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.lose(reason=reason, allowed=allowed, competitor=competitor, notes=notes, lost_on=lost_on),
        )

    def receive_payment(
        self, meta: Meta, deal_id: str, *, amount: object, received_on: date, expected_version: int | None = None
    ) -> Written:
        return self._change(
            meta, Deal, deal_id, expected_version, lambda d: d.receive_payment(amount=amount, received_on=received_on)
        )

    def refund_deal(
        self,
        meta: Meta,
        deal_id: str,
        *,
        amount: object,
        refunded_on: date,
        reason: str,
        kind: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        return self._change(
            meta,
            Deal,
            deal_id,
            expected_version,
            lambda d: d.refund(amount=amount, refunded_on=refunded_on, reason=reason, kind=kind),
        )
