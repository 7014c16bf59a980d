"""The pieces one process needs, wired from a DATABASE_URL: the application service, the
read-model database, the event source and (optionally) the projection engine."""

from __future__ import annotations

from application import SalesLedger
from application.directory import OrgDirectory
from application.reads import ReadModels
from infrastructure.database import Database, DatabaseURL
from infrastructure.eventsource import EventSource
from infrastructure.store import EventStore
from infrastructure.vault import PersonalAsCiphertext, Vault
from projections.engine.catalog import discover
from projections.engine.projection import Projection
from projections.engine.runner import ProjectionEngine, catch_up, prepare


class Runtime:
    def __init__(
        self, database_url: str, *, run_projectors: bool = False, projections: tuple[Projection, ...] | None = None
    ) -> None:
        url = DatabaseURL.parse(database_url)
        self.vault = Vault(url)
        self.store = EventStore(env=url.eventsourcing_env(), personal_data=PersonalAsCiphertext(self.vault))
        self.db = Database(url)
        self.ledger = SalesLedger(self.store, ReadModels(self.db, self.fresh))
        self.source = EventSource(self.store)
        self.directory = OrgDirectory(self.source)  # the org tree for access decisions, kept current
        self.projections = discover() if projections is None else projections
        self.engine = ProjectionEngine(self.db, self.source, self.projections) if run_projectors else None

    def start(self) -> Runtime:
        prepare(self.db, self.projections)
        if self.engine is not None:
            self.engine.start()
        return self

    def fresh(self, *names: str) -> None:
        """Make these read models current before a command relies on them (de-duplication,
        assignment, hand-overs): catch them up to the store head from this process."""
        for projection in self.projections:
            if projection.name in names:
                catch_up(self.db, self.source, projection)

    def written(self) -> None:
        """Called after each command: wake in-process projectors without waiting for a poll."""
        if self.engine is not None:
            self.engine.poke()

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()
        self.db.close()
        self.vault.close()
        self.ledger.close()
