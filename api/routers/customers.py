"""Customers: records, grading, classification, credit, stakeholders, visits, feedback and the
lifecycle; Customer 360, the distribution and the dormancy check."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import Query, Request
from pydantic import Field, StrictInt

from api.access import EVERYONE, FIELD_WORK, MANAGEMENT, MONEY, OPERATIONS, AccessDep, Allow, Record
from api.deps import IfMatch, MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.history import aggregate_view, record_routes
from api.listing import Cursor, Limit, reps_in
from api.models import (
    Amount,
    AsOfParam,
    Body,
    FilterText,
    OptionalText,
    Receipt,
    SaneDate,
    SaneMoment,
    Text,
    Today,
    VersionParam,
)
from api.responses.customers import Customer360, CustomerDistribution, RevisitList, RevisitPolicy
from api.routing import Router
from api.schemas import CustomerPage
from application import clock
from application.customers import CheckDormancy, CheckRevisits
from domain.customer import Customer
from projections.accounts import distribution, list_customers
from projections.revisits import revisit_list

router = Router(prefix="/customers", tags=["customers"])


class RegisterCustomer(Body):
    name: Text
    region: Text
    industry: Text
    owner_id: str | None = None
    size_band: OptionalText = None
    registered_on: Today


class GradeCustomer(Body):
    grade: str
    reason: Text


class Classify(Body):
    classification: str = Field(examples=["key", "general", "potential"])
    reason: Text


class Credit(Body):
    rating: str = Field(examples=["AAA", "AA", "A", "BBB", "BB", "B", "C"])
    limit: Amount
    evidence: Text
    rated_on: Today


class TransferOwner(Body):
    owner_id: Text
    reason: Text
    effective_on: Today


class LogVisit(Body):
    rep_id: Text
    kind: str
    occurred_at: SaneMoment
    notes: OptionalText = None
    next_step: OptionalText = None


class Stakeholder(Body):
    name: Text
    role: str = Field(examples=["decision_maker", "influencer", "user", "finance", "procurement"])
    title: OptionalText = None
    phone: OptionalText = None
    email: OptionalText = None
    notes: OptionalText = None


class StakeholderChange(Body):
    name: OptionalText = None
    role: OptionalText = None
    title: OptionalText = None
    phone: OptionalText = None
    email: OptionalText = None
    notes: OptionalText = None


class Removal(Body):
    reason: Text


class Feedback(Body):
    score: Annotated[int, Field(ge=1, le=5)]
    comment: OptionalText = None
    given_on: Today
    rep_id: OptionalText = None


class Lifecycle(Body):
    reason: Text
    on: Today


class DormancyCheck(Body):
    as_of: SaneDate | None = Field(default=None, description="YYYY-MM-DD, not after today; defaults to today")


RevisitDays = Annotated[StrictInt | None, Field(ge=1, le=3650, description="days between revisits")]


class RevisitPolicyBody(Body):
    A: RevisitDays = None
    B: RevisitDays = None
    C: RevisitDays = None
    reason: Text = "revisit plan"


class RevisitCheck(Body):
    as_of: SaneDate | None = Field(default=None, description="YYYY-MM-DD, not after today; defaults to today")


@router.post("", dependencies=[Allow(FIELD_WORK)], status_code=201, response_model=Receipt)
def register_customer(body: RegisterCustomer, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """A new customer. Reps and managers register customers they (or someone below them) own;
    without `owner_id` the customer is theirs."""
    if not access.sees_everything:
        body.owner_id = body.owner_id or access.principal.rep_id
    access.rep(body.owner_id, "owner_id")
    return answer(rt, rt.ledger.customers.register_customer(meta, **body.model_dump()), 201)


@router.get("", dependencies=[Allow(EVERYONE)], response_model=CustomerPage)
def customers(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    region: FilterText = None,
    industry: FilterText = None,
    owner_id: FilterText = None,
    team: FilterText = None,
    grade: FilterText = None,
    classification: FilterText = None,
    status: FilterText = None,
    external_id: FilterText = None,
    after: Cursor = None,
    limit: Limit = 50,
    min_position: MinPosition = None,
):
    """Customers by id; `next` is the cursor (pass it as `after`). `status` is the lifecycle state
    (prospect, active, dormant, lost); `team` means owned by a rep of that team today. Managers
    and reps see the customers they and the reps below them own."""
    await_position(request, "accounts", min_position)
    with rt.db.read() as tx:
        page = list_customers(
            tx,
            after=after,
            limit=limit,
            visible_to=access.reps,
            owners=reps_in(tx, clock.today(), team, None),
            region=region,
            industry=industry,
            owner_id=owner_id,
            grade=grade,
            classification=classification,
            lifecycle=status,
            external_id=external_id,
        )
    return Json(page)


@router.get("/distribution", dependencies=[Allow(EVERYONE)], response_model=CustomerDistribution)
def customer_distribution(request: Request, rt: RuntimeDep, access: AccessDep, min_position: MinPosition = None):
    """Customers by grade, lifecycle state, region and classification (those the caller may see)."""
    await_position(request, "accounts", min_position)
    with rt.db.read() as tx:
        return Json(distribution(tx, owners=access.reps))


@router.post("/dormancy-check", dependencies=[Allow(OPERATIONS)])
def dormancy_check(body: DormancyCheck, rt: RuntimeDep, meta: MetaDep):
    """Active customers with no activity for the sales policy's `dormant_after_days` become
    dormant. Idempotent; also `salesledger customers dormancy-check`."""
    result = rt.ledger.customers.check_dormancy(CheckDormancy(as_of=body.as_of), meta)
    rt.written()
    return Json(asdict(result))


@router.get("/revisit-policy", dependencies=[Allow(EVERYONE)], response_model=RevisitPolicy)
def get_revisit_policy(rt: RuntimeDep):
    """Days between revisits by customer grade (回访计划): `{"A": 30, "B": 60, "C": 90}` by default."""
    policy = rt.ledger.customers.revisit_policy()
    return Json({**policy.days, "version": policy.version})


@router.put("/revisit-policy", dependencies=[Allow(MANAGEMENT)], response_model=Receipt)
def put_revisit_policy(body: RevisitPolicyBody, rt: RuntimeDep, meta: MetaDep):
    """Set the days between revisits for some or all grades (the others keep theirs)."""
    days = {grade: n for grade, n in body.model_dump(exclude={"reason"}).items() if n is not None}
    return answer(rt, rt.ledger.customers.configure_revisit_policy(meta, days=days, reason=body.reason))


@router.get("/revisits", dependencies=[Allow(EVERYONE)], response_model=RevisitList)
def revisits(
    request: Request,
    rt: RuntimeDep,
    access: AccessDep,
    status: str | None = Query(
        None, max_length=20, description="overdue (due before as_of) or due (from as_of to within_days on)"
    ),
    owner_id: FilterText = None,
    as_of: SaneDate | None = Query(None, description="default today in the organisation's time zone"),
    within_days: int = Query(7, ge=0, le=366, description="how far ahead `due` looks"),
    min_position: MinPosition = None,
):
    """A rep's revisit list: customers whose next revisit (last visit or revisit + the policy's
    days for their grade) is overdue or coming due, soonest first. Ungraded and churned customers
    have no revisit plan. Managers and reps see the customers they and the reps below them own."""
    await_position(request, "revisits", min_position)
    with rt.db.read() as tx:
        found = revisit_list(
            tx,
            as_of=as_of or clock.today(),
            status=status,
            within_days=within_days,
            owner_id=owner_id,
            visible_to=access.reps,
        )
    return Json(found)


@router.post("/revisit-check", dependencies=[Allow(OPERATIONS)])
def revisit_check(body: RevisitCheck, rt: RuntimeDep, meta: MetaDep):
    """Record every revisit overdue as of `as_of` as a `CustomerRevisitOverdue` event (idempotent;
    also `salesledger customers revisit-check`)."""
    result = rt.ledger.customers.check_revisits(CheckRevisits(as_of=body.as_of), meta)
    rt.written()
    return Json(asdict(result))


@router.post("/{customer_id}/grade", dependencies=[Allow(MANAGEMENT, scope=Record(Customer))], response_model=Receipt)
def grade(customer_id: str, body: GradeCustomer, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Grade A, B or C by value and potential, with the reason."""
    return answer(
        rt, rt.ledger.customers.grade_customer(meta, customer_id, **body.model_dump(), expected_version=version)
    )


@router.post(
    "/{customer_id}/classification", dependencies=[Allow(MANAGEMENT, scope=Record(Customer))], response_model=Receipt
)
def classify(customer_id: str, body: Classify, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Key, general or potential account."""
    return answer(
        rt, rt.ledger.customers.classify_customer(meta, customer_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{customer_id}/credit", dependencies=[Allow(MONEY, scope=Record(Customer))], response_model=Receipt)
def credit(customer_id: str, body: Credit, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """A credit rating (信用等级) with its limit and the evidence; new deals beyond the limit are refused."""
    return answer(
        rt, rt.ledger.customers.rate_customer_credit(meta, customer_id, **body.model_dump(), expected_version=version)
    )


@router.post("/{customer_id}/owner", dependencies=[Allow(MANAGEMENT, scope=Record(Customer))], response_model=Receipt)
def transfer_owner(
    customer_id: str, body: TransferOwner, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep
):
    """Hand the customer to another rep; commission credit already earned stays where it was."""
    access.rep(body.owner_id, "owner_id")
    return answer(
        rt, rt.ledger.customers.transfer_customer(meta, customer_id, **body.model_dump(), expected_version=version)
    )


@router.post(
    "/{customer_id}/visits",
    dependencies=[Allow(FIELD_WORK, scope=Record(Customer))],
    status_code=201,
    response_model=Receipt,
)
def log_visit(customer_id: str, body: LogVisit, rt: RuntimeDep, meta: MetaDep, version: IfMatch, access: AccessDep):
    """A visit, revisit or call by a rep (拜访/回访)."""
    access.rep(body.rep_id)
    return answer(
        rt, rt.ledger.customers.log_visit(meta, customer_id, **body.model_dump(), expected_version=version), 201
    )


@router.post(
    "/{customer_id}/stakeholders",
    dependencies=[Allow(FIELD_WORK, scope=Record(Customer))],
    status_code=201,
    response_model=Receipt,
)
def add_stakeholder(customer_id: str, body: Stakeholder, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """A stakeholder (干系人) with a role; answers its `stakeholder_id`."""
    return answer(
        rt, rt.ledger.customers.add_stakeholder(meta, customer_id, **body.model_dump(), expected_version=version), 201
    )


@router.patch(
    "/{customer_id}/stakeholders/{stakeholder_id}",
    dependencies=[Allow(FIELD_WORK, scope=Record(Customer))],
    response_model=Receipt,
)
def update_stakeholder(
    customer_id: str, stakeholder_id: str, body: StakeholderChange, rt: RuntimeDep, meta: MetaDep, version: IfMatch
):
    """Change some details; the event records each change from and to."""
    return answer(
        rt,
        rt.ledger.customers.update_stakeholder(
            meta, customer_id, stakeholder_id, **body.model_dump(), expected_version=version
        ),
    )


@router.post(
    "/{customer_id}/stakeholders/{stakeholder_id}/remove",
    dependencies=[Allow(FIELD_WORK, scope=Record(Customer))],
    response_model=Receipt,
)
def remove_stakeholder(
    customer_id: str, stakeholder_id: str, body: Removal, rt: RuntimeDep, meta: MetaDep, version: IfMatch
):
    return answer(
        rt,
        rt.ledger.customers.remove_stakeholder(
            meta, customer_id, stakeholder_id, reason=body.reason, expected_version=version
        ),
    )


@router.post(
    "/{customer_id}/feedback",
    dependencies=[Allow(FIELD_WORK, scope=Record(Customer))],
    status_code=201,
    response_model=Receipt,
)
def feedback(customer_id: str, body: Feedback, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """Satisfaction feedback: 1–5 and a comment."""
    return answer(
        rt, rt.ledger.customers.give_feedback(meta, customer_id, **body.model_dump(), expected_version=version), 201
    )


@router.post("/{customer_id}/churn", dependencies=[Allow(MANAGEMENT, scope=Record(Customer))], response_model=Receipt)
def churn(customer_id: str, body: Lifecycle, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    return answer(
        rt, rt.ledger.customers.churn_customer(meta, customer_id, **body.model_dump(), expected_version=version)
    )


@router.post(
    "/{customer_id}/reactivate", dependencies=[Allow(MANAGEMENT, scope=Record(Customer))], response_model=Receipt
)
def reactivate(customer_id: str, body: Lifecycle, rt: RuntimeDep, meta: MetaDep, version: IfMatch):
    """A dormant or churned customer becomes active again (a won deal does this by itself)."""
    return answer(
        rt, rt.ledger.customers.reactivate_customer(meta, customer_id, **body.model_dump(), expected_version=version)
    )


record_routes(
    router,
    Customer,
    read=Allow(EVERYONE, scope=Record(Customer, "record_id")),
    forget=Allow(OPERATIONS, scope=Record(Customer, "record_id")),
    view=False,
)


@router.get("/{customer_id}", dependencies=[Allow(EVERYONE, scope=Record(Customer))], response_model=Customer360)
def get_customer(
    customer_id: str,
    request: Request,
    rt: RuntimeDep,
    version: VersionParam = None,
    as_of: AsOfParam = None,
    min_position: MinPosition = None,
):
    """Customer 360: profile, grade, classification and credit history, stakeholders, visits,
    feedback, lifecycle, deals and payments — one call. With `version` or `as_of`: the customer
    record as it was then (without deals and payments)."""
    if version is not None or as_of is not None:
        return aggregate_view(rt, Customer, customer_id, version, as_of)
    await_position(request, ("accounts", "deliveries", "revisits", "fx"), min_position)  # every read model it shows
    customer = rt.ledger.customers.customer_360(customer_id)
    return Json(customer.view, headers={"ETag": f'"{customer.version}"'})
