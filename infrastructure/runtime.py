"""The pieces one process needs, wired from a DATABASE_URL: the application service, the
read-model database, the event source and (optionally) the projection engine and the
scheduled checks."""

from __future__ import annotations

from application import SalesLedger
from application.directory import OrgDirectory
from application.reads import ReadModels
from infrastructure.database import Database, DatabaseURL, Tx, creating_schema
from infrastructure.eventsource import EventSource
from infrastructure.scheduler import Scheduler, Timetable, checks, ensure_schema
from infrastructure.store import EventStore
from infrastructure.vault import PersonalAsCiphertext, Vault
from projections.engine import tracking
from projections.engine.catalog import by_name, discover
from projections.engine.projection import Projection
from projections.engine.runner import ProjectionEngine, catch_up, prepare


class Runtime:
    def __init__(
        self,
        database_url: str,
        *,
        run_projectors: bool = False,
        projections: tuple[Projection, ...] | None = None,
        timetable: Timetable | None = None,
    ) -> None:
        """With a `timetable`, the scheduled checks run in this process while it holds the
        scheduler lock (`salesledger project`)."""
        url = DatabaseURL.parse(database_url)
        with creating_schema(url):
            self.vault = Vault(url)
            self.store = EventStore(env=url.eventsourcing_env(), personal_data=PersonalAsCiphertext(self.vault))
        self.db = Database(url)
        self.ledger = SalesLedger(self.store, ReadModels(self.db, self.fresh, self.behind, self.through))
        self.source = EventSource(self.store)
        self.directory = OrgDirectory(self.source)  # the org tree for access decisions, kept current
        self.projections = discover() if projections is None else projections
        self._topics: dict[str, list[str]] = {}
        self.engine = ProjectionEngine(self.db, self.source, self.projections) if run_projectors else None
        self.scheduler = (
            None if timetable is None else Scheduler(self.db, checks(self.ledger, timetable, written=self.written))
        )

    def start(self) -> Runtime:
        with creating_schema(self.db.url):
            prepare(self.db, self.projections)
            ensure_schema(self.db)  # the scheduled checks' state, shown wherever it runs
        if self.engine is not None:
            self.engine.start()
        if self.scheduler is not None:
            self.scheduler.start()
        return self

    def fresh(self, *names: str) -> None:
        """Make these read models current before a command relies on them (de-duplication,
        assignment, hand-overs): catch them up to the store head from this process."""
        for projection in self.projections:
            if projection.name in names:
                catch_up(self.db, self.source, projection)

    def behind(self, tx: Tx, names: tuple[str, ...]) -> bool:
        """Some of these read models has not processed every stored event of its topics yet
        (seen in `tx`)."""
        through, head = self._through(tx, names)
        return through < head

    def through(self, tx: Tx, names: tuple[str, ...]) -> int:
        """The store position through which every one of these read models has applied each
        event of its topics (seen in `tx`): the lowest of their positions, where a read model
        with no event of its topics between its position and the head counts as at the head (a
        live runner writes its position over such events later)."""
        return self._through(tx, names)[0]

    def _through(self, tx: Tx, names: tuple[str, ...]) -> tuple[int, int]:
        positions = tracking.active_positions(tx, names)
        head = self.source.head_in(tx)
        through = head
        for name in names:
            position = positions.get(name, -1)  # -1: not registered yet
            if position < head and (position < 0 or self.source.holds_any(tx, position, head, self.topics_of(name))):
                through = min(through, position)
        return through, head

    def topics_of(self, name: str) -> list[str]:
        """The event topics read model `name` consumes."""
        topics = self._topics.get(name)
        if topics is None:
            topics = self._topics[name] = by_name(name, self.projections).topics
        return topics

    def written(self) -> None:
        """Called after each command: wake in-process projectors without waiting for a poll."""
        if self.engine is not None:
            self.engine.poke()

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        if self.engine is not None:
            self.engine.stop()
        self.db.close()
        self.vault.close()
        self.ledger.close()
