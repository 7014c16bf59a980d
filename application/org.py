"""The organisation: hiring, levels, transfers and leaving (with the hand-over of open work)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID, uuid4

from application import clock
from application.base import UseCases, Written
from application.reads import ReadModels
from domain.base import Entity, Meta, business_date
from domain.customer import Customer
from domain.errors import Conflict, NotFound
from domain.lead import Lead
from domain.partner import Partner
from domain.rep import KEEP, Keep, Rep
from infrastructure.store import EventStore
from projections.accounts import customers_owned_by
from projections.org import direct_reports

T = TypeVar("T", bound=Entity)


@dataclass(frozen=True)
class OpenWork:
    """What a rep still holds: open leads (from the Rep itself), customers they own and the reps
    reporting to them (from the read models)."""

    leads: list[str]
    customers: list[str]
    reports: list[str]

    def __bool__(self) -> bool:
        return bool(self.leads or self.customers or self.reports)


class Org(UseCases):
    """The organisation: hiring, levels, transfers and leaving (with the hand-over of open work)."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        super().__init__(store)
        self.reads = reads

    def _manager(self, manager_id: str, on: date, *, of: str | None = None) -> str:
        """The id of an active rep who may manage `of` from `on`: not reporting to `of` (409
        `manager_cycle`) and a manager or director on that day (409 `manager_not_allowed`)."""
        manager = self._active_rep(manager_id, "manager_id")
        if of is not None:
            self._refuse_cycle(of, str(manager.id))
        manager.may_manage(on, "manager_id")
        return str(manager.id)

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
        partner_id: str | None = None,
    ) -> Written:
        """Hire a rep; with `partner_id`, as that channel partner's staff."""
        hired_on = None if hired_on is None else business_date(hired_on, "hired_on")
        if manager_id:
            manager_id = self._manager(manager_id, hired_on or clock.today())
        rep = Rep.hire(
            id or uuid4(),
            name=name,
            level=level,
            team=team,
            region=region,
            manager_id=manager_id,
            hired_on=hired_on,
            partner_id=self._partner(partner_id),
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
        partner_id: str | Keep | None = KEEP,
        expected_version: int | None = None,
    ) -> Written:
        """Move a rep to another team, region, manager or channel partner (`partner_id` None: the
        organisation's own staff again); fields not given stay as they were then."""
        rep = self.load(Rep, rep_id)
        effective_from = business_date(effective_from, "effective_from")
        then = rep.as_of(effective_from) or {"team": rep.team, "region": rep.region, "manager_id": rep.manager_id}
        if manager_id:
            manager_id = self._manager(manager_id, effective_from, of=str(rep.id))
        partner = partner_id if isinstance(partner_id, Keep) else self._partner(partner_id)
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
                partner_id=partner,
            ),
        )

    def _partner(self, partner_id: str | None) -> str | None:
        """The id of the partner named by `partner_id` as stored (404 naming the field if none)."""
        if not partner_id:
            return None
        try:
            return str(self.load(Partner, partner_id).id)
        except NotFound:
            raise NotFound(f"partner_id: no partner with id {partner_id}", field="partner_id", id=partner_id) from None

    def _refuse_cycle(self, rep_id: str, manager_id: str) -> None:
        seen: set[str] = set()
        current: str | None = manager_id
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

    def open_work(self, rep: Rep) -> OpenWork:
        """The rep's open leads, the customers they own and their direct reports, as of every
        event written so far (the org and accounts read models are caught up first)."""
        rep_id = str(rep.id)
        with self.reads.current("org", "accounts") as tx:
            return OpenWork(
                leads=sorted(rep.open_leads),
                customers=customers_owned_by(tx, rep_id),
                reports=direct_reports(tx, rep_id),
            )

    def rep_leaves(
        self,
        meta: Meta,
        rep_id: str,
        *,
        effective_on: date,
        reason: str,
        reassign_to: str | None = None,
        expected_version: int | None = None,
    ) -> Written:
        """A rep leaves. Their open leads, customers and direct reports must be handed to
        `reassign_to` in the same atomic write, else 409 lists them; an heir who takes over
        reports must be a manager or director on the leaving date."""
        rep = self._expect(self.load(Rep, rep_id), expected_version)
        work = self.open_work(rep)
        leads, customers, reports = work.leads, work.customers, work.reports
        if work and not reassign_to:
            raise Conflict(
                "reassign the rep's open leads, customers and direct reports first, or give reassign_to",
                code="rep_has_open_work",
                leads=leads,
                customers=customers,
                reports=reports,
            )
        rep.leave(effective_on=effective_on, reason=reason)
        changed: list[Entity] = []
        if reassign_to:
            heir_rep = self._active_rep(reassign_to, "reassign_to")
            heir = str(heir_rep.id)
            if heir == str(rep.id):
                raise Conflict("a leaving rep cannot inherit their own work", code="reassign_to_self")
            if reports:
                heir_rep.may_manage(effective_on, "reassign_to")
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
