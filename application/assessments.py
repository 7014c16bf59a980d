"""Performance assessment (绩效考核) and training programmes (培训体系): schemes, scorecards live
for open periods and frozen at finalization, verification by recomputation, improvement plans
(改善对策) and training programmes with their completion report."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID, uuid4

from application import clock
from application.base import UseCases, Written
from application.reads import ReadModels
from domain.assessment import (
    AssessmentRound,
    AssessmentScheme,
    ImprovementPlan,
    TrainingProgramme,
    digest,
    round_id,
)
from domain.base import Meta
from domain.errors import Conflict, InvalidInput, NotFound
from domain.partner import Partner
from domain.rep import Rep
from domain.values import Period
from infrastructure.database import Tx
from infrastructure.store import EventStore
from projections import assessments as read
from projections.org import OrgHistory

READ_MODELS = read.READ_MODELS
PLAN_STATUSES = ("open", "overdue", "done")


def _period(text: object) -> Period:
    return Period.parse(text if isinstance(text, str) else "")


def _public(card: dict[str, Any], *, traced: bool) -> dict[str, Any]:
    """A scorecard as listed: without what each value was read from unless `traced`."""
    if traced:
        return card
    shown = dict(card)
    shown["indicators"] = [
        {k: v for k, v in ind.items() if k in ("key", "value", "points", "weight", "missing")}
        for ind in card["indicators"]
    ]
    return shown


class Assessments(UseCases):
    """Assessment schemes, scorecards, finalization, improvement plans and training programmes."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        super().__init__(store)
        self.reads = reads

    # -- schemes ----------------------------------------------------------------------------
    def create_scheme(self, meta: Meta, body: Any, *, id: UUID | None = None) -> Written:
        scheme = AssessmentScheme.create(id or uuid4(), self._with_partner(body, "applies_to"))
        return self._written(meta, scheme, name=scheme.versions[0]["name"])

    def version_scheme(self, meta: Meta, scheme_id: str, body: Any, expected_version: int | None = None) -> Written:
        scheme = self._expect(self.load(AssessmentScheme, scheme_id), expected_version)
        scheme.add_version(self._with_partner(body, "applies_to"))
        return self._written(meta, scheme, name=scheme.versions[-1]["name"])

    def _with_partner(self, body: Any, key: str) -> Any:
        """The body with its audience's partner id as stored (404 naming the field for no such
        partner); anything malformed is left for the domain to refuse."""
        audience = body.get(key) if isinstance(body, dict) else None
        if not isinstance(audience, dict):
            return body
        partner_id = audience.get("partner_id")
        if not isinstance(partner_id, str) or not partner_id.strip():
            return body
        field = f"{key}.partner_id"
        try:
            stored = str(self.load(Partner, partner_id.strip()).id)
        except NotFound:
            raise NotFound(f"{field}: no partner with id {partner_id}", field=field, id=partner_id) from None
        return {**body, key: {**audience, "partner_id": stored}}

    def scheme(self, scheme_id: str) -> dict[str, Any]:
        scheme = self.load(AssessmentScheme, scheme_id)
        latest = scheme.versions[-1]
        return {
            "id": str(scheme.id),
            "version": scheme.version,
            "name": latest["name"],
            "period": latest["period"],
            "versions": scheme.versions,
        }

    def schemes(self) -> dict[str, Any]:
        with self.reads.read() as tx:
            return {"items": read.list_schemes(tx)}

    # -- scorecards -------------------------------------------------------------------------
    def _cards(
        self,
        tx: Tx,
        period: Period,
        *,
        scope: str = "company",
        rep_id: str | None = None,
        scheme_id: str | None = None,
        today: date,
        traced: bool,
    ) -> list[dict[str, Any]]:
        """Every scorecard of the period: frozen ones for schemes finalized, live ones otherwise."""
        org = OrgHistory.of(tx)
        on = min(period.end, today)
        cards: list[dict[str, Any]] = []
        for scheme_row in read.schemes_for(tx, period, scheme_id):
            kept = read.frozen(tx, period.label, rep_id=rep_id, scheme_id=scheme_row["scheme_id"])
            if kept or self._finalized(scheme_row["scheme_id"], period):
                for row in kept:
                    if rep_id is None and not org.in_scope(row["rep_id"], on, scope):
                        continue
                    card = {**row["scorecard"], "status": "finalized", "digest": row["digest"]}
                    cards.append(_public(card, traced=traced))
                continue
            reps = read.audience(org, scheme_row, period, on, scope if rep_id is None else f"rep:{rep_id}")
            inputs = read.Inputs(tx, org, period, reps)
            for rep in reps:
                card = read.scorecard(inputs, scheme_row, rep, org.names.get(rep))
                cards.append(_public({**card, "status": "open"}, traced=traced))
        return cards

    def _finalized(self, scheme_id: str, period: Period) -> bool:
        try:
            self.load(AssessmentRound, round_id(scheme_id, period.label))
        except NotFound:
            return False
        return True

    def period_scorecards(
        self,
        period: object,
        *,
        scope: str = "company",
        scheme_id: str | None = None,
        visible: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """`GET /assessments/{period}`: each rep's score, grade and indicator points."""
        label = _period(period)
        with self.reads.read() as tx:
            cards = self._cards(tx, label, scope=scope, scheme_id=scheme_id, today=clock.today(), traced=False)
        items = [c for c in cards if visible is None or c["rep_id"] in visible]
        return {"period": label.label, "scope": scope, "items": items}

    def rep_scorecards(self, rep_id: str, period: object) -> dict[str, Any]:
        """`GET /reps/{id}/assessments/{period}`: the rep's scorecards with what each value was
        read from, and the rep's improvement plans of the period."""
        label = _period(period)
        rep = str(self.load(Rep, rep_id).id)
        today = clock.today()
        with self.reads.read() as tx:
            cards = self._cards(tx, label, rep_id=rep, today=today, traced=True)
            plans = read.improvement_plans(tx, rep, label.label, today=today)
            notes = self._notes(tx, rep, label.previous(), {c["scheme_id"] for c in cards})
        first = cards[0] if cards else {}
        return {
            "rep_id": rep,
            "period": label.label,
            "name": first.get("name"),
            "scheme_id": first.get("scheme_id"),
            "scheme_version": first.get("scheme_version"),
            "status": first.get("status"),
            "digest": first.get("digest"),
            "score": first.get("score"),
            "grade": first.get("grade"),
            "indicators": first.get("indicators", []),
            "items": cards,
            "improvement_plans": plans,
            "notes": notes,
        }

    def _notes(self, tx: Tx, rep: str, previous: Period, scheme_ids: set[str]) -> list[dict[str, Any]]:
        """Facts recorded after the previous period was finalized that would change its
        scorecards: shown as notes on this period, never as edits of the frozen ones."""
        notes = []
        for row in read.frozen(tx, previous.label, rep_id=rep):
            if row["scheme_id"] not in scheme_ids:
                continue
            changes = self._changes(tx, row, rep, previous)
            if changes["changed_since_finalized"]:
                notes.append({"period": previous.label, "scheme_id": row["scheme_id"], **changes})
        return notes

    def _changes(self, tx: Tx, row: dict[str, Any], rep: str, period: Period) -> dict[str, Any]:
        """What the read models say now about a frozen scorecard's inputs, where it differs."""
        card = row["scorecard"]
        scheme_row = self._scheme_version(row["scheme_id"], int(card["scheme_version"]))
        now = read.scorecard(read.Inputs(tx, OrgHistory.of(tx), period, [rep]), scheme_row, rep, card.get("name"))
        changed = [
            {"key": was["key"], "frozen": was["value"], "now": _text(live["value"])}
            for was, live in zip(card["indicators"], now["indicators"], strict=True)
            if was["value"] != _text(live["value"])
        ]
        return {"changed_since_finalized": changed, "score_now": now["score"], "grade_now": now["grade"]}

    # -- finalization -----------------------------------------------------------------------
    def finalize(self, meta: Meta, period: object) -> Written:
        """Freeze the period's scorecards, scheme by scheme, as events (a digest per rep). 409
        `period_not_ended` while the period's last day is today or later; 409
        `already_finalized` when every scheme of the period was finalized before; 409
        `no_scheme` when no scheme assesses periods of this kind then."""
        label = _period(period)
        today = clock.today()
        rounds: list[AssessmentRound] = []
        with self.reads.current(*READ_MODELS) as tx:
            as_of = self.reads.caught_up_to(tx, *READ_MODELS)
            org = OrgHistory(tx, until_position=as_of)
            schemes = read.schemes_for(tx, label)
            if not schemes:
                raise Conflict(f"no assessment scheme assesses {label.label}", code="no_scheme", period=label.label)
            for scheme_row in schemes:
                if self._finalized(scheme_row["scheme_id"], label):
                    continue
                reps = read.audience(org, scheme_row, label, min(label.end, today))
                inputs = read.Inputs(tx, org, label, reps, until_position=as_of)
                cards = [self._frozen_card(inputs, scheme_row, rep, org.names.get(rep), today, as_of) for rep in reps]
                rounds.append(
                    AssessmentRound.finalize(
                        scheme_id=scheme_row["scheme_id"],
                        scheme_version=scheme_row["version"],
                        period=label,
                        finalized_on=today,
                        as_of_position=as_of,
                        scorecards=cards,
                    )
                )
        if not rounds:
            raise Conflict(f"{label.label} is already finalized", code="already_finalized", period=label.label)
        position = self.record(meta, *rounds)
        return Written(
            id=label.label,
            version=1,
            position=position,
            extra={
                "period": label.label,
                "status": "finalized",
                "schemes": [
                    {
                        "scheme_id": r.scheme_id,
                        "scheme_version": r.scheme_version,
                        "reps": r.reps,
                        "scorecards": [
                            {"rep_id": rep, "grade": c["grade"], "score": c["score"], "digest": c["digest"]}
                            for rep, c in r.scorecards.items()
                        ],
                    }
                    for r in rounds
                ],
            },
        )

    @staticmethod
    def _frozen_card(
        inputs: read.Inputs, scheme_row: dict[str, Any], rep: str, name: str | None, on: date, as_of: int
    ) -> dict[str, Any]:
        """The scorecard as it is frozen: read as of store position `as_of`, stamped with it."""
        card = read.scorecard(inputs, scheme_row, rep, name)
        return {**card, "finalized_on": on.isoformat(), "as_of_position": as_of}

    def verify(self, rep_id: str, period: object) -> dict[str, Any]:
        """Recompute each finalized scorecard of the rep from history as it had been recorded at
        the finalization (the store position frozen with it), under the scheme version it was
        assessed with, and compare digests; list what the read models say now where it differs
        from what was frozen (later facts are notes for the next period, never edits)."""
        label = _period(period)
        rep = str(self.load(Rep, rep_id).id)
        with self.reads.read() as tx:
            kept = read.frozen(tx, label.label, rep_id=rep)
            if not kept:
                raise InvalidInput(
                    f"{label.label} has no finalized scorecard for rep {rep}", field="period", period=label.label
                )
            results = []
            for row in kept:
                card = row["scorecard"]
                as_of = int(card["as_of_position"])
                scheme_row = self._scheme_version(row["scheme_id"], int(card["scheme_version"]))
                then = OrgHistory(tx, until_position=as_of)
                inputs = read.Inputs(tx, then, label, [rep], until_position=as_of)
                finalized_on = date.fromisoformat(card["finalized_on"])
                again = digest(self._frozen_card(inputs, scheme_row, rep, card.get("name"), finalized_on, as_of))
                results.append(
                    {
                        "scheme_id": row["scheme_id"],
                        "scheme_version": int(card["scheme_version"]),
                        "as_of_position": as_of,
                        "grade": row["grade"],
                        "score": row["score"],
                        "frozen_digest": row["digest"],
                        "recomputed_digest": again,
                        "verified": again == row["digest"],
                        **self._changes(tx, row, rep, label),
                    }
                )
        return {
            "rep_id": rep,
            "period": label.label,
            "verified": all(r["verified"] for r in results),
            "items": results,
        }

    def _scheme_version(self, scheme_id: str, version: int) -> dict[str, Any]:
        scheme = self.load(AssessmentScheme, scheme_id)
        found = next(v for v in scheme.versions if v["version"] == version)
        return {**found, "scheme_id": scheme_id}

    # -- improvement plans ------------------------------------------------------------------
    def record_improvement_plan(
        self,
        meta: Meta,
        rep_id: str,
        *,
        period: object,
        causes: object,
        actions: object,
        due_on: object,
        manager_id: str | None = None,
        id: UUID | None = None,
    ) -> Written:
        """改善对策 by a manager above the rep (on the period's last day, or today while it runs;
        by default the rep's own manager then): 409 `manager_not_allowed` naming `manager_id`
        otherwise."""
        rep = self.load(Rep, rep_id)
        today = clock.today()
        day = min(_period(period).end, today)
        chain = self._managers_above(rep, day)
        if manager_id is None:
            if not chain:
                raise InvalidInput("the rep has no manager: name manager_id", field="manager_id")
            manager_id = chain[0]
        try:
            manager = str(self.load(Rep, manager_id).id)
        except NotFound:
            raise NotFound(f"manager_id: no rep with id {manager_id}", field="manager_id", id=manager_id) from None
        plan = ImprovementPlan.record(
            id or uuid4(),
            rep_id=str(rep.id),
            period=period,
            causes=causes,
            actions=actions,
            due_on=due_on,
            manager_id=manager,
            manager_chain=chain,
            recorded_on=today,
        )
        return self._written(meta, plan, rep_id=plan.rep_id, period=plan.period, due_on=plan.due_on)

    def complete_improvement_plan(self, meta: Meta, plan_id: str, *, on: object, outcome: object = None) -> Written:
        return self._change(meta, ImprovementPlan, plan_id, None, lambda p: p.complete(on=on, outcome=outcome))

    def improvement_plan_rep(self, plan_id: str) -> str:
        return self.load(ImprovementPlan, plan_id).rep_id

    def improvement_plans(
        self, *, status: str | None = None, manager_id: str | None = None, visible: frozenset[str] | None = None
    ) -> dict[str, Any]:
        """Improvement plans by status; with `manager_id`, those of the reps below that manager
        today (overdue ones: what the manager must chase)."""
        if status is not None and status not in PLAN_STATUSES:
            raise InvalidInput(f"status must be one of: {', '.join(PLAN_STATUSES)}", field="status", value=status)
        today = clock.today()
        with self.reads.read() as tx:
            rep_ids: set[str] | None = None
            if manager_id is not None:
                org = OrgHistory.of(tx)
                if manager_id not in org.timelines:
                    raise NotFound(f"manager_id: no rep with id {manager_id}", field="manager_id", id=manager_id)
                rep_ids = {r for r in org.members(today) if manager_id in org.ancestors(r, today)}
            if visible is not None:
                rep_ids = set(visible) if rep_ids is None else rep_ids & visible
            items = read.plans_by_status(
                tx, status=status, today=today, rep_ids=None if rep_ids is None else sorted(rep_ids)
            )
        return {"status": status, "manager_id": manager_id, "as_of": today, "items": items}

    def _managers_above(self, rep: Rep, day: date) -> list[str]:
        chain: list[str] = []
        current = (rep.as_of(day) or {}).get("manager_id")
        while current and current not in chain and current != str(rep.id):
            chain.append(current)
            try:
                current = (self.load(Rep, current).as_of(day) or {}).get("manager_id")
            except NotFound:
                break
        return chain

    # -- training programmes ----------------------------------------------------------------
    def create_programme(
        self,
        meta: Meta,
        *,
        name: object,
        topic: object,
        required_hours: object,
        due_by: object,
        audience: object = None,
        id: UUID | None = None,
    ) -> Written:
        audience = self._with_partner({"audience": audience}, "audience")["audience"]
        programme = TrainingProgramme.create(
            id or uuid4(), name=name, topic=topic, required_hours=required_hours, due_by=due_by, audience=audience
        )
        return self._written(meta, programme, name=programme.name, due_by=programme.due_by)

    def programme_report(self, programme_id: str) -> dict[str, Any]:
        """Each rep of the audience (on the due date, or today before it) with the hours of the
        topic done by the due date, complete or short and by how many hours."""
        found = self.load(TrainingProgramme, programme_id)
        on = min(date.fromisoformat(found.due_by), clock.today())
        with self.reads.read() as tx:
            report = read.programme_report(tx, str(found.id), on=on)
        if report is None:  # recorded, not yet projected: the caller waits with min_position
            raise NotFound(f"no programme with id {programme_id}", kind="programme", id=programme_id)
        return report


def _text(value: object) -> object:
    return None if value is None else str(value)
