"""API keys: minted by administrators for a role (and, for reps and managers, a rep), shown
once, listed and revoked."""

from __future__ import annotations

from fastapi import Query, Request

from api.access import EVERYONE, OPERATIONS, AccessDep, Allow
from api.deps import MetaDep, MinPosition, RuntimeDep, answer, await_position
from api.encoding import Json
from api.models import Body, OptionalText, Receipt, Text
from api.responses.access_keys import KeyList, Principal
from api.routing import Router
from projections.access_keys import ACCESS_KEYS, list_keys

router = Router(prefix="/auth", tags=["access"])


class MintKey(Body):
    role: str
    rep_id: OptionalText = None
    label: OptionalText = None


class Revoke(Body):
    reason: Text


@router.post("/keys", dependencies=[Allow(OPERATIONS)], status_code=201, response_model=Receipt)
def mint(body: MintKey, request: Request, rt: RuntimeDep, meta: MetaDep):
    """A new key for `role` (rep, manager, finance, auditor, admin); rep and manager keys name
    their `rep_id`. The answer's `key` is shown this once: only its SHA-256 digest is kept."""
    request.state.secret_fields = ("key",)  # never remembered for Idempotency-Key replays
    return answer(rt, rt.ledger.access.mint_key(meta, **body.model_dump()), 201)


@router.get("/keys", dependencies=[Allow(OPERATIONS)], response_model=KeyList)
def keys(request: Request, rt: RuntimeDep, include_revoked: bool = Query(False), min_position: MinPosition = None):
    """Every key (without secrets): role, rep, label, when and by whom it was minted or revoked."""
    await_position(request, ACCESS_KEYS.name, min_position)
    with rt.db.read() as tx:
        return Json({"items": list_keys(tx, include_revoked=include_revoked)})


@router.post("/keys/{key_id}/revoke", dependencies=[Allow(OPERATIONS)], response_model=Receipt)
def revoke(key_id: str, body: Revoke, rt: RuntimeDep, meta: MetaDep):
    """The key stops working at once, for every process."""
    return answer(rt, rt.ledger.access.revoke_key(meta, key_id, reason=body.reason))


@router.get("/whoami", dependencies=[Allow(EVERYONE)], response_model=Principal)
def whoami(access: AccessDep):
    """The calling key's principal: role, rep and the actor name its commands are recorded under."""
    return Json(access.principal.public())
