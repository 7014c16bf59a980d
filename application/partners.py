"""Channel staff (渠道人员): partner organisations, and the development of every rep — training,
periodic reviews with feedback, recognition — recorded as events of the rep."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from application import clock
from application.base import UseCases, Written
from domain.base import Meta
from domain.errors import InvalidInput, NotFound
from domain.partner import Partner
from domain.rep import Rep
from domain.values import Period


class Partners(UseCases):
    """Partners (distributor, agent, reseller) and their staff's trainings, reviews and recognitions."""

    def register_partner(
        self,
        meta: Meta,
        *,
        name: str,
        kind: str,
        region: str,
        registered_on: date | None = None,
        id: UUID | None = None,
    ) -> Written:
        partner = Partner.register(id or uuid4(), name=name, kind=kind, region=region, registered_on=registered_on)
        return self._written(meta, partner, name=partner.name, kind=partner.kind, region=partner.region)

    def partner(self, partner_id: object, field: str = "partner_id") -> Partner:
        """The partner named by `field` (404 naming the field when there is none)."""
        try:
            return self.load(Partner, partner_id)
        except NotFound:
            raise NotFound(f"{field}: no partner with id {partner_id}", field=field, id=str(partner_id)) from None

    def record_training(
        self,
        meta: Meta,
        rep_id: str,
        *,
        course: str,
        topic: str,
        completed_on: date,
        hours: object,
        score: object = None,
    ) -> Written:
        return self._change(
            meta,
            Rep,
            rep_id,
            None,
            lambda r: r.record_training(
                course=course, topic=topic, completed_on=completed_on, hours=hours, score=score
            ),
        )

    def review_rep(
        self,
        meta: Meta,
        rep_id: str,
        *,
        period: str,
        rating: object,
        strengths: str,
        improvements: str,
        reviewer_id: str,
        reviewed_on: date | None = None,
    ) -> Written:
        """A periodic review by a manager or director above the rep on the period's last day (or
        today, while the period runs): 409 `reviewer_not_allowed` naming `reviewer_id` otherwise."""
        rep = self.load(Rep, rep_id)
        reviewed_on = reviewed_on or clock.today()
        try:
            reviewer = self.load(Rep, reviewer_id)
        except NotFound:
            raise NotFound(f"reviewer_id: no rep with id {reviewer_id}", field="reviewer_id", id=reviewer_id) from None
        try:
            day = min(Period.parse(period).end, reviewed_on)
        except InvalidInput:  # the aggregate reports the malformed period, naming the field
            day = reviewed_on
        rep.review(
            period=period,
            rating=rating,
            strengths=strengths,
            improvements=improvements,
            reviewer=reviewer,
            reviewer_chain=self._managers_above(rep, day),
            reviewed_on=reviewed_on,
        )
        return self._written(meta, rep)

    def _managers_above(self, rep: Rep, day: date) -> list[str]:
        """The rep's manager, their manager and so on, as they stood on `day`."""
        chain: list[str] = []
        current = (rep.as_of(day) or {}).get("manager_id")
        while current and current not in chain and current != str(rep.id):
            chain.append(current)
            try:
                current = (self.load(Rep, current).as_of(day) or {}).get("manager_id")
            except NotFound:
                break
        return chain

    def recognise_rep(self, meta: Meta, rep_id: str, *, title: str, awarded_on: date, reason: str) -> Written:
        return self._change(
            meta, Rep, rep_id, None, lambda r: r.recognise(title=title, awarded_on=awarded_on, reason=reason)
        )
