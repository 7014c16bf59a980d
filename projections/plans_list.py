"""`GET /plans`: every commission plan with its newest version, read from the commissions read
model's plan versions (kept there by the commissions projection)."""

from __future__ import annotations

import json
from typing import Any

from infrastructure.database import Tx
from projections.commissions import COMMISSIONS
from projections.engine.tracking import active_tables


def list_plans(tx: Tx, *, after: str | None = None, limit: int = 50, name: str | None = None) -> dict[str, Any]:
    """Plans by id with keyset paging (`next` is the id to pass as `after`): the newest version's
    body, its number and when it takes effect. `name` filters on the plan's name."""
    t = active_tables(tx, COMMISSIONS)
    newest: dict[str, tuple[int, dict[str, Any]]] = {}
    for plan_id, version, body in tx.all(f"SELECT plan_id, version, body FROM {t['plans']} ORDER BY plan_id, version"):
        newest[plan_id] = (version, json.loads(body))
    items: list[dict[str, Any]] = []
    more = False
    for plan_id in sorted(newest):
        if after is not None and plan_id <= after:
            continue
        version, body = newest[plan_id]
        if name is not None and body.get("name") != name:
            continue
        if len(items) == limit:
            more = True
            break
        items.append({"id": plan_id, "version": version, "name": body.get("name"), "body": body})
    return {"items": items, "next": items[-1]["id"] if more else None}
