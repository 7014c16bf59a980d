"""Routes every record kind shares: its state now or at any point (`?version=N|as_of=T`), its
history with metadata, and (for records holding personal data) forgetting."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, params

from api.deps import MetaDep, RuntimeDep, answer
from api.encoding import Json
from api.models import AsOfParam, Body, Receipt, Text, VersionParam
from api.responses.events import AggregateHistory, RecordState
from domain.base import Entity
from domain.errors import InvalidInput
from infrastructure.runtime import Runtime
from projections.eventlog import describe


def aggregate_view(rt: Runtime, cls: type[Entity], agg_id: str, version: int | None, as_of: datetime | None) -> Json:
    if version is not None and as_of is not None:
        raise InvalidInput("give version or as_of, not both", field="as_of")
    if as_of is not None:
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        agg = rt.ledger.store.load_as_of(cls, agg_id, as_of)
    else:
        agg = rt.ledger.store.load(cls, agg_id, version=version)
    return Json(agg.as_dict(), headers={"ETag": f'"{agg.version}"'})


def aggregate_history(rt: Runtime, cls: type[Entity], agg_id: str) -> Json:
    """Every event of one aggregate, in order, with its metadata."""
    agg = rt.ledger.store.load(cls, agg_id)
    records = rt.source.query(rt.db, after=0, limit=1_000_000, aggregate_id=str(agg.id))
    return Json({"id": str(agg.id), "version": agg.version, "events": [describe(r) for r in records]})


def record_routes(
    router: APIRouter,
    cls: type[Entity],
    *,
    read: params.Depends,
    forget: params.Depends | None = None,
    view: bool = True,
) -> None:
    """Register `GET /{id}/history`, `GET /{id}` (unless not `view`) under the access policy
    `read` and, for records holding personal data, `POST /{id}/forget` under `forget`.
    Call it after the router's other `/{id}/…` routes and before any own `GET /{id}`."""
    kind = cls.__name__.lower()

    def history(record_id: str, rt: RuntimeDep) -> Json:
        return aggregate_history(rt, cls, record_id)

    history.__doc__ = f"Every event of this {kind}, in order, with actor, correlation and causation ids."
    router.add_api_route(
        "/{record_id}/history",
        history,
        methods=["GET"],
        name=f"{kind}_history",
        dependencies=[read],
        response_model=AggregateHistory,
    )

    if forget is not None:

        def forget_record(record_id: str, body: Forget, rt: RuntimeDep, meta: MetaDep) -> Json:
            return answer(rt, rt.ledger.privacy.forget(meta, cls, record_id, reason=body.reason))

        forget_record.__doc__ = (
            f"Forget the personal data of this {kind} record (PIPL / GDPR): its key is destroyed, "
            'names, phones, emails and WeChat ids read back as "[erased]" everywhere, history still '
            "replays and every total stays the same."
        )
        router.add_api_route(
            "/{record_id}/forget",
            forget_record,
            methods=["POST"],
            name=f"forget_{kind}",
            response_model=Receipt,
            dependencies=[forget],
        )

    if view:

        def get(record_id: str, rt: RuntimeDep, version: VersionParam = None, as_of: AsOfParam = None) -> Json:
            return aggregate_view(rt, cls, record_id, version, as_of)

        get.__doc__ = f"The {kind} now, or at `version` / `as_of` (recording time)."
        router.add_api_route(
            "/{record_id}", get, methods=["GET"], name=f"get_{kind}", dependencies=[read], response_model=RecordState
        )


class Forget(Body):
    reason: Text
