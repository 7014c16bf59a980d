"""The development of a rep (channel staff and all): trainings, periodic reviews with feedback
and recognitions — recorded as the rep's events, read from the staff read model."""

from __future__ import annotations

from fastapi import Request
from pydantic import Field

from api.access import EVERYONE, MANAGEMENT, MANAGER, AccessDep, Allow, Record
from api.deps import MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.models import Amount, Body, Receipt, SaneDate, Text
from api.responses.development import RepDevelopment, RepRecognitions, RepReviews, RepTrainings
from api.routers.partners import PeriodParam
from api.routing import Router
from domain.partner import TrainingTopic
from domain.rep import Rep
from domain.values import Period
from projections.staff import development, recognitions, reviews, trainings

router = Router(prefix="/reps", tags=["channel staff"])


class Training(Body):
    course: Text
    topic: str = Field(examples=[t.value for t in TrainingTopic])
    completed_on: SaneDate
    hours: Amount = Field(examples=["8", "1.5"])
    score: Amount | None = Field(default=None, examples=["92.5"], description="exam score, 0-100")


class Review(Body):
    period: str = Field(examples=["2026-11", "2026-Q4", "2026"])
    rating: int = Field(examples=[4], description="a whole number, 1 (poor) to 5 (excellent)")
    strengths: Text
    improvements: Text
    reviewer_id: Text


class Recognition(Body):
    title: Text = Field(examples=["本月最佳销售"])
    awarded_on: SaneDate
    reason: Text


@router.post(
    "/{rep_id}/trainings", dependencies=[Allow(MANAGEMENT, scope=Record(Rep))], status_code=201, response_model=Receipt
)
def record_training(rep_id: str, body: Training, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """A training the rep completed: course, topic (product, sales_skills, service, compliance),
    date, hours and an optional score."""
    access.not_own(rep_id)
    return answer(rt, rt.ledger.partners.record_training(meta, rep_id, **body.model_dump()), 201)


@router.post(
    "/{rep_id}/reviews", dependencies=[Allow(MANAGEMENT, scope=Record(Rep))], status_code=201, response_model=Receipt
)
def review(rep_id: str, body: Review, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """A periodic review: rating 1-5, strengths and improvements, by a manager or director above
    the rep (409 `reviewer_not_allowed` otherwise; a manager reviews in their own name). One per
    rep and period (409 `review_exists`)."""
    access.not_own(rep_id)
    if access.role == MANAGER:
        access.myself(body.reviewer_id, "reviewer_id")
    return answer(rt, rt.ledger.partners.review_rep(meta, rep_id, **body.model_dump()), 201)


@router.post(
    "/{rep_id}/recognitions",
    dependencies=[Allow(MANAGEMENT, scope=Record(Rep))],
    status_code=201,
    response_model=Receipt,
)
def recognise(rep_id: str, body: Recognition, rt: RuntimeDep, meta: MetaDep, access: AccessDep):
    """Recognition (non-material incentive), e.g. best seller of the month."""
    access.not_own(rep_id)
    return answer(rt, rt.ledger.partners.recognise_rep(meta, rep_id, **body.model_dump()), 201)


@router.get("/{rep_id}/reviews", dependencies=[Allow(EVERYONE, scope=Record(Rep))], response_model=RepReviews)
def rep_reviews(
    rep_id: str, request: Request, rt: RuntimeDep, period: PeriodParam = None, min_position: MinPosition = None
):
    """The rep's reviews, by period (only those of `period` when given)."""
    label = None if period is None else Period.parse(period).label
    await_position(request, "staff", min_position)
    with rt.db.read() as tx:
        return Json({"rep_id": rep_id, "items": reviews(tx, _rep(rt, rep_id), label)})


@router.get("/{rep_id}/trainings", dependencies=[Allow(EVERYONE, scope=Record(Rep))], response_model=RepTrainings)
def rep_trainings(rep_id: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """The rep's trainings by completion date."""
    await_position(request, "staff", min_position)
    with rt.db.read() as tx:
        return Json({"rep_id": rep_id, "items": trainings(tx, [_rep(rt, rep_id)])})


@router.get("/{rep_id}/recognitions", dependencies=[Allow(EVERYONE, scope=Record(Rep))], response_model=RepRecognitions)
def rep_recognitions(rep_id: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """The rep's recognitions by date."""
    await_position(request, "staff", min_position)
    with rt.db.read() as tx:
        return Json({"rep_id": rep_id, "items": recognitions(tx, [_rep(rt, rep_id)])})


@router.get("/{rep_id}/development", dependencies=[Allow(EVERYONE, scope=Record(Rep))], response_model=RepDevelopment)
def rep_development(rep_id: str, request: Request, rt: RuntimeDep, min_position: MinPosition = None):
    """Trainings (with hours in total and by topic), reviews and recognitions of the rep."""
    await_position(request, "staff", min_position)
    with rt.db.read() as tx:
        return Json(development(tx, _rep(rt, rep_id)))


def _rep(rt, rep_id: str) -> str:
    """The rep's id as stored (404 for no such rep)."""
    return str(rt.ledger.store.load(Rep, rep_id).id)
