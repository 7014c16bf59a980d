from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from pydantic import Field

from api.access import EVERYONE, FIELD_WORK, MANAGEMENT, MONEY, OPERATIONS, AccessDep, Allow, Record
from api.deps import IfMatch, MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.history import record_routes
from api.listing import Cursor, Limit, reps_in
from api.models import Amount, Body, DateField, FilterText, OptionalText, Receipt, SaneDate, Text
from api.responses.deals import NegotiationPicture, SalesPolicy
from api.routing import Router
from api.schemas import DealPage
from application import clock
from domain.customer import Customer
from domain.deal import Deal
from projections.accounts import list_deals

router = Router(prefix="/deals", tags=["deals"])
OrTodayDate = Annotated[
    SaneDate | None,
    Field(default=None, description="business date, YYYY-MM-DD; default today in the organisation's time zone"),
]


class CreditOverride(Body):
    manager_id: Text
    reason: Text


class OpenDeal(Body):
    customer_id: Text
    owner_id: Text
    amount: Amount
    product_line: Text
    currency: str | None = Field(default=None, max_length=3, examples=["CNY"])
    title: OptionalText = None
    expected_close: DateField = None
    opened_on: OrTodayDate = None
    credit_override: CreditOverride | None = None


class ChangeStage(Body):
    stage: str
    changed_on: OrTodayDate = None


class Revise(Body):
    reason: Text
    amount: Amount | None = None
    expected_close: DateField = None


class LineItem(Body):
    product_line: Text
    amount: Amount
    gross_margin: Amount = "0"


class LineItems(Body):
    items: Annotated[list[LineItem], Field(min_length=1, max_length=100)]


class Split(Body):
    rep_id: Text
    share: Amount


class Overlay(Body):
    party: Text
    kind: str = Field(examples=["presales", "channel_partner"])
    share: Amount


class SetSplits(Body):
    splits: Annotated[list[Split], Field(min_length=1, max_length=50)]
    overlays: Annotated[list[Overlay], Field(max_length=20)] = []


class WinDeal(Body):
    amount: Amount
    gross_margin: Amount
    signed_on: SaneDate
    contract_no: OptionalText = None
    payment_due_on: DateField = None


class LoseDeal(Body):
    reason: Text
    competitor: OptionalText = None
    notes: OptionalText = None
    lost_on: OrTodayDate = None


class Payment(Body):
    amount: Amount
    received_on: SaneDate


class Refund(Body):
    amount: Amount
    refunded_on: SaneDate
    reason: Text
    kind: str | None = Field(
        default=None,
        examples=["refund", "cancellation"],
        description="default: a refund of collected money if there is enough, else a cancellation",
    )


class Policy(Body):
    settings: dict[str, Any]
    reason: Text


class SendProposal(Body):
    title: Text
    amount: Amount
    sent_on: SaneDate
    valid_until: DateField = None
    line_items: Annotated[list[LineItem], Field(max_length=100)] = []


class ProposalOutcome(Body):
    outcome: str = Field(examples=["accepted", "rejected", "revised"])
    on: SaneDate
    reason: OptionalText = None


class Negotiation(Body):
    budget: Amount | None = None
    decision_process: OptionalText = None
    decision_makers: Annotated[list[Text], Field(max_length=50)] | None = None
    competitors: Annotated[list[Text], Field(max_length=50)] | None = None
    on: SaneDate


class Milestone(Body):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    planned_on: SaneDate


class Delivery(Body):
    milestones: Annotated[list[Milestone], Field(min_length=1, max_length=100)]


class MilestoneDone(Body):
    on: SaneDate


@router.post("", dependencies=[Allow(FIELD_WORK)], status_code=201, response_model=Receipt)
def open_deal(body: OpenDeal, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Open a deal. If the customer has a credit limit and the deal would take its exposure (open
    deals plus receivables) over it, 409 — unless `credit_override` names a manager in the owner's
    line of management (or a director above them) on the opening date, and a reason.
    Reps and managers open deals for customers and owners in their part of the tree; a manager
    overrides credit in their own name."""
    access.record(Customer, body.customer_id)
    access.rep(body.owner_id, "owner_id")
    if body.credit_override and not access.sees_everything:
        access.myself(body.credit_override.manager_id, "credit_override.manager_id")
    return answer(rt, rt.ledger.deals.open_deal(meta, **body.model_dump()), 201)


@router.get("", dependencies=[Allow(EVERYONE)], response_model=DealPage)
def deals(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    status: FilterText = None,
    stage: FilterText = None,
    owner_id: FilterText = None,
    customer_id: FilterText = None,
    product_line: FilterText = None,
    currency: FilterText = None,
    team: FilterText = None,
    region: FilterText = None,
    external_id: FilterText = None,
    as_of: SaneDate | None = Query(None, description="team and region membership on this day; defaults to today"),
    after: Cursor = None,
    limit: Limit = 50,
    min_position: MinPosition = None,
):
    """Deals by id with their money (amount, signed, collected, refunded, receivable); `next` is
    the cursor (pass it as `after`). `team` / `region`: deals owned by the reps there on `as_of`.
    Managers and reps see the deals they and the reps below them own."""
    await_position(request, ("accounts", "org"), min_position)
    with rt.db.read() as tx:
        page = list_deals(
            tx,
            after=after,
            limit=limit,
            visible_to=access.reps,
            owners=reps_in(tx, as_of or clock.today(), team, region),
            status=status,
            stage=stage,
            owner_id=owner_id,
            customer_id=customer_id,
            product_line=product_line,
            currency=currency,
            external_id=external_id,
        )
    return Json(page)


@router.get("/policy", dependencies=[Allow(EVERYONE)], response_model=SalesPolicy)
def get_policy(rt: RuntimeDep):
    """The sales policy in force: stage probabilities, loss reasons, payment terms, dormancy."""
    policy = rt.ledger.deals.sales_policy()
    return Json({"version": policy.version, "settings": policy.settings})


@router.put("/policy", dependencies=[Allow(OPERATIONS)], response_model=Receipt)
def put_policy(body: Policy, rt: RuntimeDep, meta: MetaDep):
    """A new version of the sales policy (partial settings are laid over the one in force)."""
    return answer(rt, rt.ledger.deals.configure_sales_policy(meta, settings=body.settings, reason=body.reason))


@router.post("/{deal_id}/stage", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def change_stage(deal_id: str, body: ChangeStage, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Move between initial_contact, needs_analysis, proposal and negotiation (back too)."""
    return answer(
        rt,
        rt.ledger.deals.change_deal_stage(
            meta, deal_id, body.stage, changed_on=body.changed_on, expected_version=version
        ),
    )


@router.post("/{deal_id}/revise", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def revise(deal_id: str, body: Revise, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Revise the amount and/or expected close date, with a reason."""
    return answer(rt, rt.ledger.deals.revise_deal(meta, deal_id, **body.model_dump(), expected_version=version))


@router.post("/{deal_id}/line-items", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def line_items(deal_id: str, body: LineItems, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Product lines with amount and gross margin (replaces the list)."""
    items = [i.model_dump() for i in body.items]
    return answer(rt, rt.ledger.deals.set_deal_line_items(meta, deal_id, items, expected_version=version))


@router.post("/{deal_id}/splits", dependencies=[Allow(MANAGEMENT, scope=Record(Deal))], response_model=Receipt)
def set_splits(deal_id: str, body: SetSplits, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Revenue credit shares between reps (must total exactly 1) and overlay credit for presales
    or a channel partner (recorded separately, not part of the 1)."""
    splits = [s.model_dump() for s in body.splits]
    overlays = [o.model_dump() for o in body.overlays]
    return answer(
        rt, rt.ledger.deals.set_deal_splits(meta, deal_id, splits, overlays=overlays, expected_version=version)
    )


@router.post("/{deal_id}/win", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def win(deal_id: str, body: WinDeal, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.deals.win_deal(meta, deal_id, **body.model_dump(), expected_version=version))


@router.post("/{deal_id}/lose", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def lose(deal_id: str, body: LoseDeal, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.deals.lose_deal(meta, deal_id, **body.model_dump(), expected_version=version))


@router.post("/{deal_id}/payments", dependencies=[Allow(MONEY, scope=Record(Deal))], response_model=Receipt)
def receive_payment(deal_id: str, body: Payment, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.deals.receive_payment(meta, deal_id, **body.model_dump(), expected_version=version))


@router.post("/{deal_id}/refunds", dependencies=[Allow(MONEY, scope=Record(Deal))], response_model=Receipt)
def refund(deal_id: str, body: Refund, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(rt, rt.ledger.deals.refund_deal(meta, deal_id, **body.model_dump(), expected_version=version))


@router.post(
    "/{deal_id}/proposals",
    dependencies=[Allow(FIELD_WORK, scope=Record(Deal))],
    status_code=201,
    response_model=Receipt,
)
def send_proposal(deal_id: str, body: SendProposal, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """A tailored proposal (方案) sent to the customer: the deal's next proposal version. Answers
    `proposal_id` and `proposal_version`."""
    fields = body.model_dump()
    return answer(rt, rt.ledger.deals.send_proposal(meta, deal_id, **fields, expected_version=version), 201)


@router.post(
    "/{deal_id}/proposals/{proposal_id}/outcome",
    dependencies=[Allow(FIELD_WORK, scope=Record(Deal))],
    response_model=Receipt,
)
def proposal_outcome(
    deal_id: str, proposal_id: str, body: ProposalOutcome, rt: RuntimeDep, meta: MetaDep, version: IfMatch
):
    """accepted, rejected or revised (a new version follows), on a day no earlier than it was sent."""
    return answer(
        rt,
        rt.ledger.deals.record_proposal_outcome(
            meta, deal_id, proposal_id, **body.model_dump(), expected_version=version
        ),
    )


@router.post("/{deal_id}/negotiation", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def negotiation(deal_id: str, body: Negotiation, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """The negotiation picture as of `on`: budget, decision process, decision makers (stakeholder
    ids of the customer) and competitors in play. Only the fields given change; every change is
    kept, in order, in `negotiation_history`."""
    return answer(rt, rt.ledger.deals.update_negotiation(meta, deal_id, **body.model_dump(), expected_version=version))


@router.get(
    "/{deal_id}/negotiation", dependencies=[Allow(EVERYONE, scope=Record(Deal))], response_model=NegotiationPicture
)
def negotiation_on(
    deal_id: str,
    rt: RuntimeDep,
    on: SaneDate | None = Query(None, description="business date; default today in the organisation's time zone"),
):
    """The negotiation picture as it stood on `on`, with the changes that made it, in order."""
    return Json(rt.ledger.deals.negotiation_picture(deal_id, on))


@router.post("/{deal_id}/delivery", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt)
def plan_delivery(deal_id: str, body: Delivery, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Delivery milestones (交付) of a won deal, planned no earlier than the signing date; naming a
    milestone not yet done plans it again."""
    milestones = [m.model_dump() for m in body.milestones]
    return answer(rt, rt.ledger.deals.plan_delivery(meta, deal_id, milestones, expected_version=version))


@router.post(
    "/{deal_id}/delivery/{name}/done", dependencies=[Allow(FIELD_WORK, scope=Record(Deal))], response_model=Receipt
)
def milestone_done(deal_id: str, name: str, body: MilestoneDone, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """The milestone was delivered on `on`."""
    return answer(rt, rt.ledger.deals.complete_milestone(meta, deal_id, name, on=body.on, expected_version=version))


record_routes(router, Deal, read=Allow(EVERYONE, scope=Record(Deal, "record_id")))
