"""Authentication: who is calling. Every route but `/health`, `/health/ready` and the API documentation needs
`Authorization: Bearer <key>`; the key is either `SALESLEDGER_ADMIN_TOKEN` or one minted with
`POST /auth/keys`. The caller becomes a `Principal`, whose name is the actor on every event
their commands record."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from api.asgi import HttpMiddleware
from api.encoding import Json
from api.errors import error_body
from api.ui import paths as ui

PUBLIC_PATHS = frozenset({"/health", "/health/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})


@dataclass(frozen=True)
class Principal:
    role: str
    rep_id: str | None = None
    key_id: str | None = None  # None for the configured admin token
    label: str = ""

    @property
    def actor(self) -> str:
        """`rep:<rep id>` / `manager:<rep id>` for keys bound to a rep, `<role>:key:<key id>`
        for the others, `admin:token` for SALESLEDGER_ADMIN_TOKEN."""
        if self.rep_id:
            return f"{self.role}:{self.rep_id}"
        return f"{self.role}:key:{self.key_id}" if self.key_id else f"{self.role}:token"

    def public(self) -> dict:
        return {
            "role": self.role,
            "rep_id": self.rep_id,
            "key_id": self.key_id,
            "label": self.label,
            "actor": self.actor,
        }


ADMIN_TOKEN = Principal(role="admin", label="SALESLEDGER_ADMIN_TOKEN")


def _unauthorized(message: str) -> Json:
    return Json(
        error_body("unauthorized", message), status_code=401, headers={"WWW-Authenticate": 'Bearer realm="salesledger"'}
    )


def _admin(request: Request, secret: str) -> Principal | None:
    admin_token = request.app.state.settings.admin_token
    if admin_token and hmac.compare_digest(secret.encode(), admin_token.encode()):
        return ADMIN_TOKEN
    return None


def principal_for(request: Request, secret: str) -> Principal | None:
    if (admin := _admin(request, secret)) is not None:
        return admin
    key = request.app.state.runtime.ledger.access.key_for(secret)
    if key is None:
        return None
    return Principal(role=key.role, rep_id=key.rep_id, key_id=str(key.id), label=key.label)


class Authenticate(HttpMiddleware):
    """ASGI middleware: refuse, before anything else runs, any request without a valid key; the
    caller's Principal goes to `request.state.principal`. The configured admin token is checked
    in the event loop; a minted key is looked up in the thread pool (it reads the store)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        path = scope["path"]
        if path in PUBLIC_PATHS or scope["method"] == "OPTIONS" or ui.is_public(path):
            await self.app(scope, receive, send)
            return
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        secret = secret.strip()
        principal: Principal | None = None
        if scheme.lower() != "bearer" or not secret:
            refusal = "send Authorization: Bearer <key>"
        elif len(secret) > 200:
            refusal = "unknown or revoked key"
        else:
            refusal = "unknown or revoked key"
            principal = _admin(request, secret) or await run_in_threadpool(principal_for, request, secret)
        if principal is None:
            await _unauthorized(refusal)(scope, receive, send)
            return
        request.state.principal = principal
        await self.app(scope, receive, send)
