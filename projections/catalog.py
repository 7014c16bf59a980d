"""Every projection the engine runs. Add a new projection here to have it backfilled and kept live."""

from __future__ import annotations

from projections.accounts import ACCOUNTS
from projections.commissions import COMMISSIONS
from projections.kpi import KPI
from projections.leads import LEADS
from projections.org import ORG
from projections.pipeline import PIPELINE
from projections.projection import Projection

PROJECTIONS: tuple[Projection, ...] = (PIPELINE, ORG, KPI, LEADS, ACCOUNTS, COMMISSIONS)


def by_name(name: str) -> Projection:
    for projection in PROJECTIONS:
        if projection.name == name:
            return projection
    raise KeyError(name)
