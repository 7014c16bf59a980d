"""What the list routes (`GET /reps`, `/customers`, `/deals`, `/plans`) share: the cursor, the
page size and the team / region filters that name reps through the org timeline."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Query

from api.models import NO_CONTROL
from infrastructure.database import Tx
from projections.org import OrgHistory

Cursor = Annotated[str | None, Query(max_length=200, pattern=NO_CONTROL, description="the `next` of the previous page")]
Limit = Annotated[int, Query(ge=1, le=500, description="items per page")]


def reps_in(tx: Tx, day: date, team: str | None, region: str | None) -> list[str] | None:
    """The reps in `team` and `region` on `day` (whether active or not); None when neither is given."""
    if team is None and region is None:
        return None
    history = OrgHistory.of(tx)
    return [
        rep
        for rep in history.timelines
        if (team is None or history.in_scope(rep, day, f"team:{team}"))
        and (region is None or history.in_scope(rep, day, f"region:{region}"))
    ]
