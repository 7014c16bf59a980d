"""How use cases consult read models: a read transaction on the read-model database, after
catching the named read models up to the store head, so that a use case relies on every event
written before it (a customer's credit exposure, the statements a close freezes).

Use cases read through the narrow query functions of each read-model module
(`projections.accounts.exposure(tx, ...)`, `projections.commissions.Ledger(tx).statement(...)`);
they never write read-model tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from infrastructure.database import Database, Tx


class ReadModels:
    """The read-model database as the use cases see it."""

    def __init__(
        self,
        db: Database,
        catch_up: Callable[..., None],
        behind: Callable[[Tx, tuple[str, ...]], bool],
        through: Callable[[Tx, tuple[str, ...]], int],
    ) -> None:
        self.db = db
        self._catch_up = catch_up
        self._behind = behind
        self._through = through

    def caught_up_to(self, tx: Tx, *names: str) -> int:
        """The store position through which the named read models have applied every event
        they consume: a consistent cut to read them as of (their own positions may lag over
        events they do not consume)."""
        return self._through(tx, names)

    @contextmanager
    def current(self, *names: str) -> Iterator[Tx]:
        """A read transaction in which the named read models have processed every stored event:
        when they already have (as seen in the transaction itself), that one transaction is all
        it takes; otherwise they are caught up first."""
        with self.db.read() as tx:
            if not self._behind(tx, names):
                yield tx
                return
        self._catch_up(*names)
        with self.db.read() as tx:
            yield tx

    @contextmanager
    def read(self, *, snapshot: bool = False) -> Iterator[Tx]:
        """A read transaction on the read models as they are (possibly behind the store); with
        `snapshot`, one snapshot for all its statements on either backend."""
        with self.db.read(snapshot=snapshot) as tx:
            yield tx
