"""Which projections run: the built-in ones, those registered by other packages under the
`salesledger.projections` entry point, and any named by dotted path in SALESLEDGER_PROJECTIONS
(comma-separated `package.module:Name`)."""

from __future__ import annotations

import os
from importlib import import_module
from importlib.metadata import entry_points

from projections.access_keys import ACCESS_KEYS
from projections.accounts import ACCOUNTS
from projections.assessments import ASSESSMENTS
from projections.commissions import COMMISSIONS
from projections.deal_analytics import DEAL_ANALYTICS
from projections.deliveries import DELIVERIES
from projections.engine.projection import Projection
from projections.fx import FX
from projections.kpi import KPI
from projections.leads import LEADS
from projections.org import ORG
from projections.pipeline import PIPELINE
from projections.revisits import REVISITS
from projections.staff import STAFF
from projections.targets import TARGETS

BUILT_IN: tuple[Projection, ...] = (
    PIPELINE,
    ORG,
    KPI,
    LEADS,
    ACCOUNTS,
    COMMISSIONS,
    ACCESS_KEYS,
    TARGETS,
    STAFF,
    DELIVERIES,
    DEAL_ANALYTICS,
    REVISITS,
    ASSESSMENTS,
    FX,
)
ENTRY_POINT_GROUP = "salesledger.projections"


class ProjectionConfigError(ValueError):
    pass


def _instance(obj: object, where: str) -> Projection:
    projection = obj() if isinstance(obj, type) else obj
    if not isinstance(projection, Projection):
        raise ProjectionConfigError(f"{where} is not a salesledger Projection")
    return projection


def discover(config: str | None = None) -> tuple[Projection, ...]:
    """Built-ins, then entry points, then `config` (default: $SALESLEDGER_PROJECTIONS)."""
    found: dict[str, Projection] = {p.name: p for p in BUILT_IN}
    plugins = [(f"entry point {ep.name}", ep.load) for ep in entry_points(group=ENTRY_POINT_GROUP)]
    config = os.environ.get("SALESLEDGER_PROJECTIONS", "") if config is None else config
    for path in filter(None, (p.strip() for p in config.split(","))):
        module, _, attr = path.partition(":")
        if not attr:
            raise ProjectionConfigError(f"{path!r}: use package.module:Name")
        plugins.append((path, lambda m=module, a=attr: getattr(import_module(m), a)))
    for where, load in plugins:
        projection = _instance(load(), where)
        known = found.get(projection.name)
        if known is not None and type(known) is not type(projection):
            raise ProjectionConfigError(f"{where}: a different projection is already named {projection.name!r}")
        found[projection.name] = projection
    return tuple(found.values())


def by_name(name: str, projections: tuple[Projection, ...] | None = None) -> Projection:
    for projection in projections or discover():
        if projection.name == name:
            return projection
    raise KeyError(name)
