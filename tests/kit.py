"""Test kits in the style of event-sourcing test kits, on a real store (SQLite and PostgreSQL).

For aggregates and use cases — given steps, when a command, then the events it recorded (or the
error it raised):

    kit.given(hired("amy", "senior"), opened("d1", owner="amy", on="2026-02-01"))
    kit.when(won("d1", "50000.00", on="2026-01-15"))
    kit.then_error(InvalidInput, field="signed_on")

For read models — given steps, then rows or a query's answer once the projection has caught up:

    kit.given(hired("amy", "senior", team="East"), transferred("amy", team="South", on="2026-03-01"))
    kit.then_query("org", lambda tx: org_as_of(tx, date(2026, 3, 2)))

A step is a function of (ledger, ids) that runs one use case; `ids` maps the test's symbolic names
("amy", "d1") to the ids the store gave them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from application import SalesLedger
from domain.base import Meta
from infrastructure.runtime import Runtime
from projections.engine.projection import Recorded
from projections.engine.runner import catch_up

META = Meta(actor="test:kit", correlation_id="kit", causation_id="kit")
Step = Callable[[SalesLedger, dict[str, str]], Any]


@dataclass
class Kit:
    runtime: Runtime
    ids: dict[str, str] = field(default_factory=dict)
    _since: int = 0
    _error: Exception | None = None
    _result: Any = None

    @property
    def ledger(self) -> SalesLedger:
        return self.runtime.ledger

    def given(self, *steps: Step) -> Kit:
        for step in steps:
            step(self.ledger, self.ids)
        return self

    def when(self, step: Step) -> Kit:
        self._since, self._error = self.runtime.source.head(), None
        try:
            self._result = step(self.ledger, self.ids)
        except Exception as error:  # kept for then_error; anything else fails then_events
            self._error = error
        return self

    def recorded(self) -> list[Recorded]:
        return self.runtime.source.read(self._since, 10_000)

    def then_events(self, *types: str) -> list[Recorded]:
        """The command recorded exactly these event types, in this order."""
        if self._error is not None:
            raise AssertionError(f"the command failed: {self._error!r}") from self._error
        records = self.recorded()
        assert [r.type for r in records] == list(types)
        return records

    def then_error(self, kind: type[Exception], **details: Any) -> Exception:
        """The command raised `kind` (with these details) and recorded nothing."""
        assert isinstance(self._error, kind), f"expected {kind.__name__}, got {self._error!r}"
        for key, value in details.items():
            assert getattr(self._error, "details", {}).get(key) == value, (key, self._error)
        assert self.recorded() == [], "a refused command must write nothing"
        return self._error

    def then_query(self, projection: str, query: Callable[[Any], Any]) -> Any:
        """Catch `projection` (and the org timeline) up, then answer `query(tx)`."""
        for p in self.runtime.projections:
            if p.name in (projection, "org"):
                catch_up(self.runtime.db, self.runtime.source, p)
        with self.runtime.db.read() as tx:
            return query(tx)


@pytest.fixture
def kit(runtime: Runtime) -> Kit:
    return Kit(runtime)


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


# -- steps ---------------------------------------------------------------------------------------
def hired(
    name: str,
    level: str,
    *,
    team: str = "East",
    region: str = "华东",
    manager: str | None = None,
    on: str = "2025-01-01",
) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> Any:
        written = ledger.org.hire_rep(
            META,
            name=name,
            level=level,
            team=team,
            region=region,
            manager_id=ids.get(manager) if manager else None,
            hired_on=_day(on),
        )
        ids[name] = written.id
        return written

    return step


def transferred(
    name: str,
    *,
    on: str,
    team: str | None = None,
    region: str | None = None,
    manager: str | None = None,
    reason: str = "reorganisation",
) -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> Any:
        return ledger.org.transfer_rep(
            META,
            ids[name],
            effective_from=_day(on),
            reason=reason,
            team=team,
            region=region,
            manager_id=ids[manager] if manager else None,
        )

    return step


def customer(name: str, *, owner: str, on: str = "2026-01-05") -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> Any:
        written = ledger.customers.register_customer(
            META, name=name, region="华东", industry="manufacturing", registered_on=_day(on), owner_id=ids[owner]
        )
        ids[name] = written.id
        return written

    return step


def opened(deal: str, *, owner: str, customer_name: str, amount: str = "100000.00", on: str = "2026-02-01") -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> Any:
        written = ledger.deals.open_deal(
            META,
            customer_id=ids[customer_name],
            owner_id=ids[owner],
            amount=amount,
            product_line="ERP",
            opened_on=_day(on),
        )
        ids[deal] = written.id
        return written

    return step


def won(deal: str, amount: str, *, on: str, margin: str = "10000.00") -> Step:
    def step(ledger: SalesLedger, ids: dict[str, str]) -> Any:
        return ledger.deals.win_deal(META, ids[deal], amount=amount, gross_margin=margin, signed_on=_day(on))

    return step
