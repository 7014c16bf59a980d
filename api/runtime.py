"""The pieces one process needs, wired from a DATABASE_URL: the application service, the
read-model database, the event source and (optionally) the projection engine."""

from __future__ import annotations

from domain.application import SalesLedger
from projections.catalog import PROJECTIONS
from projections.database import Database, DatabaseURL
from projections.engine import ProjectionEngine, prepare
from projections.source import EventSource


class Runtime:
    def __init__(self, database_url: str, *, run_projectors: bool = False) -> None:
        url = DatabaseURL.parse(database_url)
        self.ledger = SalesLedger(env=url.eventsourcing_env())
        self.db = Database(url)
        self.source = EventSource(self.ledger)
        self.projections = PROJECTIONS
        self.engine = ProjectionEngine(self.db, self.source, PROJECTIONS) if run_projectors else None

    def start(self) -> Runtime:
        prepare(self.db, self.projections)
        if self.engine is not None:
            self.engine.start()
        return self

    def written(self) -> None:
        """Called after each command: wake in-process projectors without waiting for a poll."""
        if self.engine is not None:
            self.engine.poke()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.db.close()
        self.ledger.close()
