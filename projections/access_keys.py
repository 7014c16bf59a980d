"""The list of API keys for administrators: who holds which role, since when, minted and
revoked by whom. Secrets are never here (the events hold only digests, and not even those are
copied)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.access import AccessKey
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables
from projections.kpi import utc_text

COLUMNS = (
    "key_id",
    "position",
    "role",
    "rep_id",
    "label",
    "minted_at",
    "minted_by",
    "revoked_at",
    "revoked_by",
    "revoke_reason",
)


class AccessKeys(Projection):
    name = "access_keys"
    version = 1
    tables = {
        "keys": [
            """CREATE TABLE IF NOT EXISTS {keys} (key_id TEXT PRIMARY KEY, position BIGINT NOT NULL,
                          role TEXT NOT NULL, rep_id TEXT, label TEXT NOT NULL, minted_at TEXT NOT NULL,
                          minted_by TEXT, revoked_at TEXT, revoked_by TEXT, revoke_reason TEXT)"""
        ]
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> Rows:
        rows = Rows(tx, tables["keys"], "key_id", COLUMNS)
        rows.load(r.aggregate_id for r in batch)
        return rows

    @handles(AccessKey.Minted)
    def access_key_minted(self, rows: Rows, r: Recorded) -> None:
        e = r.event
        rows.put(
            {
                "key_id": r.aggregate_id,
                "position": r.position,
                "role": e.role,
                "rep_id": e.rep_id,
                "label": e.label,
                "minted_at": utc_text(e.timestamp),
                "minted_by": _actor(e),
                "revoked_at": None,
                "revoked_by": None,
                "revoke_reason": None,
            }
        )

    @handles(AccessKey.Revoked)
    def access_key_revoked(self, rows: Rows, r: Recorded) -> None:
        e = r.event
        rows.update(r.aggregate_id, revoked_at=utc_text(e.timestamp), revoked_by=_actor(e), revoke_reason=e.reason)


def _actor(event: Any) -> str | None:
    return (getattr(event, "meta", None) or {}).get("actor")


ACCESS_KEYS = AccessKeys()


def list_keys(tx: Tx, *, include_revoked: bool = False) -> list[dict[str, Any]]:
    t = active_tables(tx, ACCESS_KEYS)
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = tx.all(f"SELECT {', '.join(COLUMNS)} FROM {t['keys']}{where} ORDER BY position", ())
    keys = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    return [
        {k: v for k, v in key.items() if k != "position"} | {"revoked": key["revoked_at"] is not None} for key in keys
    ]
