"""Reading recorded events back from the store, in global position order."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from infrastructure.database import Database, Tx
from projections.engine.projection import Recorded, type_name

_type_name = lru_cache(maxsize=None)(type_name)
PREFETCH_EVENTS = 2000  # events whose personal-data keys are fetched together, then decoded


class EventSource:
    def __init__(self, app: Application) -> None:
        self.recorder = app.recorder
        self.mapper = app.mapper
        # the personal-data transcoding, whose keys a batch fetches together before decoding
        self._personal = getattr(app, "personal_data", None)

    def head(self) -> int:
        """Position of the newest event (0 for an empty store).

        Safe as a high-water mark: the store serialises inserts, so every event at or
        below the head is committed and visible once the head is."""
        return self.recorder.max_notification_id() or 0

    def read(self, after: int, limit: int, stop: int | None = None, topics: Sequence[str] = ()) -> list[Recorded]:
        notifications = self.recorder.select_notifications(after + 1, limit, stop=stop, topics=list(topics))
        to_event = self.mapper.to_domain_event
        recorded: list[Recorded] = []
        # Keys are fetched together for a part of the batch just before it is decoded: a cached
        # key is trusted for a second (another process's forgetting), and a replay batch of
        # 20,000 events takes longer than that to decode. A batch of one reads its key as it goes.
        for i in range(0, len(notifications), PREFETCH_EVENTS):
            part = notifications[i : i + PREFETCH_EVENTS]
            if self._personal is not None and len(notifications) > 1:
                self._personal.prefetch(n.state for n in part)
            recorded += [Recorded(n.id, _type_name(n.topic), to_event(n), str(n.originator_id)) for n in part]
        return recorded

    def head_in(self, tx: Tx) -> int:
        """The head as seen by a transaction on the same database (one query, no connection of its own)."""
        return int(tx.value(self.head_sql(tx.kind)) or 0)

    def holds_any(self, tx: Tx, after: int, upto: int, topics: Sequence[str]) -> bool:
        """Whether an event of `topics` lies in positions (after, upto] (read on `tx`)."""
        position = "rowid" if tx.kind == "sqlite" else "notification_id"
        among, params = tx.among("topic", list(topics))
        sql = f"SELECT 1 FROM {self.recorder.events_table_name} WHERE {position} > ? AND {position} <= ? AND {among} LIMIT 1"
        return tx.value(sql, (after, upto, *params)) is not None

    def head_sql(self, kind: str) -> str:
        """The query of `head_in`, to be used as a subquery."""
        position = "rowid" if kind == "sqlite" else "notification_id"
        return f"SELECT MAX({position}) FROM {self.recorder.events_table_name}"

    def position_of(self, db: Database, aggregate_id: str, version: int) -> int | None:
        """The store position of one aggregate's event at `version` (None when there is none)."""
        uid = UUID(aggregate_id)
        table = self.recorder.events_table_name
        position = "rowid" if db.kind == "sqlite" else "notification_id"
        with db.read() as tx:
            return tx.value(
                f"SELECT {position} FROM {table} WHERE originator_id = ? AND originator_version = ?",
                (uid.hex if db.kind == "sqlite" else uid, version),
            )

    def query(
        self, db: Database, *, after: int, limit: int, topics: Sequence[str] = (), aggregate_id: str | None = None
    ) -> list[Recorded]:
        """Like `read`, optionally for one aggregate only (an unknown id answers nothing)."""
        if aggregate_id is None:
            return self.read(after, limit, topics=topics)
        try:
            uid = UUID(aggregate_id)
        except ValueError:
            return []
        table = self.recorder.events_table_name
        position = "rowid" if db.kind == "sqlite" else "notification_id"
        where = [f"{position} > ?", "originator_id = ?"]
        params: list = [after, uid.hex if db.kind == "sqlite" else uid]
        if topics:
            where.append(f"topic IN ({', '.join('?' * len(topics))})")
            params += list(topics)
        with db.read() as tx:
            rows = tx.all(
                f"SELECT {position}, originator_version, topic, state FROM {table} "
                f"WHERE {' AND '.join(where)} ORDER BY {position} LIMIT ?",
                [*params, limit],
            )
        to_event = self.mapper.to_domain_event
        return [
            Recorded(
                pos,
                _type_name(topic),
                to_event(
                    Notification(id=pos, originator_id=uid, originator_version=version, topic=topic, state=bytes(state))
                ),
                str(uid),
            )
            for pos, version, topic, state in rows
        ]
