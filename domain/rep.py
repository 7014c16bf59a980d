"""The Rep aggregate: a member of the sales organisation, from junior rep to director."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from eventsourcing.domain import event

from domain.base import Entity, business_date
from domain.values import Level, optional_text, required_text


class Rep(Entity):
    @event("Hired")
    def __init__(self, id: UUID, name: str, level: str, team: str, region: str,
                 manager_id: str | None, hired_on: date | None) -> None:
        self.name = name
        self.level = level
        self.team = team
        self.region = region
        self.manager_id = manager_id
        self.hired_on = hired_on
        self.status = "active"

    @classmethod
    def hire(cls, id: UUID, *, name: str, level: str, team: str, region: str,
             manager_id: str | None = None, hired_on: date | None = None) -> Rep:
        return cls(
            id=id,
            name=required_text(name, "name", max_length=200),
            level=Level.parse(level, "level"),
            team=required_text(team, "team", max_length=200),
            region=required_text(region, "region", max_length=200),
            manager_id=optional_text(manager_id, "manager_id"),
            hired_on=None if hired_on is None else business_date(hired_on, "hired_on"),
        )
