"""`Idempotency-Key` on POST, PUT and PATCH: the same key and request within 24 hours answers the
original response (with `Idempotent-Replayed: true`) and writes nothing; the same key with a
different request is 422; a retry racing the first waits for its answer. Keys are per caller
(the API key that authenticated the request), and secrets in an answer (a minted API key) are
not kept for replays.

The first request holds its claim as a lease (`SALESLEDGER_IDEMPOTENCY_LEASE` seconds, renewed
while it runs): when its process dies mid-request, a retry takes the claim over once the lease
has run out and runs the command, instead of being told "in progress" for a day; if the dead
request had already committed its command, the retry answers the receipt of that commit
(`{id, version, position}`) instead of running it twice."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from datetime import UTC, datetime

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.encoding import Json
from api.errors import error_body
from infrastructure import idempotency

log = logging.getLogger("salesledger.api")

METHODS = ("POST", "PUT", "PATCH")
WAIT_SECONDS = 10.0


def _principal(request: Request) -> str:
    """Keys are scoped to the caller as authentication resolved it: the API key's id (however its
    header was written, and never shared by two keys), the configured admin token, or anonymous."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return "anonymous"
    return f"key:{principal.key_id}" if principal.key_id else f"token:{principal.role}"


async def _keep_leased(db, principal: str, key: str, owner: str, lease: float) -> None:
    """Renew the claim while the request runs (a third of the lease apart)."""
    while True:
        await asyncio.sleep(lease / 3)
        try:
            held = await run_in_threadpool(
                idempotency.renew, db, principal, key, owner=owner, lease_until=time.time() + lease
            )
        except Exception:  # the database is away: the next beat tries again
            log.warning("could not renew the lease of Idempotency-Key %r", key, exc_info=True)
            continue
        if not held:
            log.warning("the claim of Idempotency-Key %r was taken over while its request ran", key)
            return


def _without_secrets(payload: bytes, fields: tuple[str, ...]) -> bytes:
    """A replay must never hand out a secret again (a minted key is shown once): keep the answer
    without those fields' values."""
    if not fields:
        return payload
    body = json.loads(payload)
    if isinstance(body, dict):
        body.update({f: "[shown once]" for f in fields if f in body})
    return json.dumps(body).encode()


async def _answer_for_the_dead(request: Request, principal: str, key: str, owner: str, committed: dict) -> Response:
    """A request died after its command committed and before it could answer: answer the
    receipt of what was committed (the record, its version, the store position), 201 when it
    created the record, and keep that as the answer for later retries."""
    runtime = request.app.state.runtime
    aggregate_id, version = committed["last_event"]
    position = await run_in_threadpool(runtime.source.position_of, runtime.db, aggregate_id, version)
    body = {"id": committed["id"], "version": committed["version"], "position": position}
    status = 201 if committed["created"] else 200
    payload = json.dumps(body).encode()
    await run_in_threadpool(idempotency.remember, runtime.db, principal, key, status, payload, owner=owner)
    return Response(payload, status_code=status, media_type="application/json", headers={"Idempotent-Replayed": "true"})


async def middleware(request: Request, call_next):
    key = request.headers.get("idempotency-key")
    if request.method not in METHODS or not key:
        return await call_next(request)
    if len(key) > 200:
        return Json(
            error_body("invalid_input", "Idempotency-Key is longer than 200 characters", {"field": "Idempotency-Key"}),
            status_code=422,
        )
    db = request.app.state.runtime.db
    body = await request.body()
    digest = hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\n" + body).hexdigest()
    principal = _principal(request)
    lease = request.app.state.settings.idempotency_lease
    owner = uuid.uuid4().hex
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while True:
        clock = time.time()
        seen = await run_in_threadpool(
            idempotency.claim,
            db,
            principal,
            key,
            digest,
            datetime.now(UTC),
            owner=owner,
            lease_until=clock + lease,
            clock=clock,
        )
        if seen is None:
            break  # ours to answer
        if seen.committed is not None:  # ours now; the request that died had committed its command
            return await _answer_for_the_dead(request, principal, key, owner, seen.committed)
        if seen.request_hash != digest:
            return Json(
                error_body(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used for a different request",
                    {"field": "Idempotency-Key"},
                ),
                status_code=422,
            )
        if seen.status is not None:
            return Response(
                seen.body,
                status_code=seen.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        if asyncio.get_running_loop().time() > deadline:
            return Json(
                error_body("idempotency_in_progress", "a request with this Idempotency-Key is still running"),
                status_code=409,
                headers={"Retry-After": "1"},
            )
        await asyncio.sleep(0.05)
    heartbeat = asyncio.create_task(_keep_leased(db, principal, key, owner, lease))
    claimed = idempotency.current.set(idempotency.Claim(principal, key, owner))  # for the command's commit
    try:
        response = await call_next(request)
        payload = b"".join([chunk async for chunk in response.body_iterator])
    except BaseException:
        await run_in_threadpool(idempotency.release, db, principal, key, owner=owner)
        raise
    finally:
        idempotency.current.reset(claimed)
        heartbeat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heartbeat
    if response.status_code >= 500:
        await run_in_threadpool(idempotency.release, db, principal, key, owner=owner)
    else:
        kept = _without_secrets(payload, getattr(request.state, "secret_fields", ()))
        await run_in_threadpool(idempotency.remember, db, principal, key, response.status_code, kept, owner=owner)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(payload, status_code=response.status_code, headers=headers, media_type=response.media_type)


class Idempotency:
    """ASGI middleware: a command sent with an Idempotency-Key goes through `middleware`; every
    other request passes straight on, paying nothing for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.keyed = BaseHTTPMiddleware(app, dispatch=middleware)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] in METHODS
            and any(name == b"idempotency-key" for name, _ in scope["headers"])
        ):
            await self.keyed(scope, receive, send)
        else:
            await self.app(scope, receive, send)
