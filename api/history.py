"""`GET /<kind>/{id}?version=N|as_of=T`: an aggregate's state now or at any point in its history."""

from __future__ import annotations

from datetime import datetime, timezone

from api.encoding import Json
from api.runtime import Runtime
from domain.base import Entity
from domain.errors import InvalidInput
from projections.eventlog import describe


def aggregate_view(rt: Runtime, cls: type[Entity], agg_id: str, version: int | None,
                   as_of: datetime | None) -> Json:
    if version is not None and as_of is not None:
        raise InvalidInput("give version or as_of, not both", field="as_of")
    if as_of is not None:
        if as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=timezone.utc)
        agg = rt.ledger.load_as_of(cls, agg_id, as_of)
    else:
        agg = rt.ledger.load(cls, agg_id, version=version)
    return Json(agg.as_dict(), headers={"ETag": f'"{agg.version}"'})


def aggregate_history(rt: Runtime, cls: type[Entity], agg_id: str) -> Json:
    """Every event of one aggregate, in order, with its metadata."""
    agg = rt.ledger.load(cls, agg_id)
    records = rt.source.query(rt.db, after=0, limit=1_000_000, aggregate_id=str(agg.id))
    return Json({"id": str(agg.id), "version": agg.version, "events": [describe(r) for r in records]})
