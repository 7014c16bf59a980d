"""The organisation: hiring, levels, transfers and leaving (with the hand-over of open work)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TypeVar
from uuid import UUID, uuid4

from application.base import UseCases, Written
from domain.base import Entity, Meta
from domain.customer import Customer
from domain.errors import Conflict
from domain.lead import Lead
from domain.rep import Rep

T = TypeVar("T", bound=Entity)


class Org(UseCases):
    """The organisation: hiring, levels, transfers and leaving (with the hand-over of open work)."""

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
