"""Every error leaves as {"error": {"code", "message", "details"}}; bad input never becomes a 500."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from typing import Any

import psycopg
from eventsourcing import persistence as store_errors
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg import DataError
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message, Receive, Scope, Send

from api.asgi import HttpMiddleware
from api.encoding import Json
from domain.errors import Conflict, DomainError, InvalidInput, NotFound
from domain.values import DECIMAL_PATTERN
from projections.engine.runner import ProjectionFailed

log = logging.getLogger("salesledger.api")


class Forbidden(DomainError):
    """The caller's role may not do this (maps to 403)."""

    code = "forbidden"


STATUS = {InvalidInput: 422, NotFound: 404, Conflict: 409, Forbidden: 403}


class NotCaughtUp(Exception):
    """A query asked for min_position and the read model did not reach it in time."""

    def __init__(self, projection: str, wanted: int, current: int) -> None:
        super().__init__(projection)
        self.projection, self.wanted, self.current = projection, wanted, current


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    """Every error: a machine-readable code, a message for people and structured details."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "no key, or an unknown or revoked one"),
        (403, "the caller's role may not do this"),
        (404, "no such record, or not one the caller may see"),
        (409, "refused by a business rule or a conflict"),
        (413, "the request body is too large"),
        (422, "invalid input"),
        (503, "a read model has not caught up or has failed, or the database is unavailable (see Retry-After)"),
    )
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


# -- the database is away, stuck or busy: 503 with Retry-After, never a 500 or a hang ------------
RETRY_AFTER_SECONDS = 2
SQLITE_AWAY = ("database is locked", "database table is locked", "unable to open database", "disk i/o error")
DATABASE_ERRORS = (
    psycopg.OperationalError,  # connection refused or lost, pool timeout, statement or lock timeout
    psycopg.InterfaceError,  # a connection already closed
    sqlite3.OperationalError,
    store_errors.OperationalError,  # the event store's wrappers of the two above
    store_errors.InterfaceError,
)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    todo, seen = [exc], set()
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo += [c for c in (e.__cause__, e.__context__) if c is not None]
        todo += list(getattr(e, "exceptions", ()))  # exception groups from task groups


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database cannot be reached or used right now (worth retrying),
    as opposed to a bug or bad input."""
    for e in _causes(exc):
        if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)):
            return True
        if isinstance(e, sqlite3.OperationalError) and any(m in str(e).lower() for m in SQLITE_AWAY):
            return True
    return False


def unavailable_body() -> dict[str, Any]:
    return error_body(
        "database_unavailable",
        "the database is unavailable or busy; nothing was written; retry shortly",
        {"retry_after": RETRY_AFTER_SECONDS},
    )


class DatabaseGuard(HttpMiddleware):
    """Outermost ASGI middleware: a database failure raised outside the routes (authentication,
    idempotency) answers 503 with Retry-After too."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:
            if started or not database_unavailable(exc):
                raise
            log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            response = Json(unavailable_body(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
            await response(scope, receive, send)


def _pattern_message(error: dict[str, Any]) -> str:
    """Say which rule a field broke instead of echoing a regular expression."""
    if (error.get("ctx") or {}).get("pattern") == DECIMAL_PATTERN:
        return 'must be a decimal number in ASCII digits, e.g. "1100.00"'
    return "must not contain control, bidi-control or zero-width characters"


def install(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> Json:
        status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 409)
        return Json(error_body(exc.code, exc.message, exc.details), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> Json:
        problems = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())[1:]) or "body",
                "message": _pattern_message(e)
                if e.get("type") == "string_pattern_mismatch"
                else e.get("msg", "invalid"),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "body", "message": "invalid"}
        return Json(
            error_body("invalid_input", f"{first['field']}: {first['message']}", {"errors": problems}), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Json:
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            exc.status_code, "http_error"
        )
        return Json(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(NotCaughtUp)
    async def not_caught_up(_: Request, exc: NotCaughtUp) -> Json:
        return Json(
            error_body(
                "not_caught_up",
                f"read model {exc.projection} has not reached position {exc.wanted} yet",
                {"projection": exc.projection, "min_position": exc.wanted, "position": exc.current},
            ),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(ProjectionFailed)
    async def projection_failed(_: Request, exc: ProjectionFailed) -> Json:
        record = exc.failure.record
        return Json(
            error_body(
                "projection_failed",
                str(exc),
                {"projection": exc.name, "position": record.position, "event_type": record.type},
            ),
            status_code=503,
        )

    @app.exception_handler(DataError)
    async def database_refused(_: Request, exc: DataError) -> Json:
        """The database refused a value (e.g. a NUL character): bad input, not a server fault."""
        return Json(
            error_body("invalid_input", "a value was refused by the database: " + str(exc).splitlines()[0]),
            status_code=422,
        )

    async def database_error(_: Request, exc: Exception) -> Json:
        if database_unavailable(exc):
            log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            return Json(unavailable_body(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        log.error("database error", exc_info=exc)
        return Json(error_body("internal_error", "an unexpected error occurred; nothing was written"), status_code=500)

    for error_class in DATABASE_ERRORS:
        app.add_exception_handler(error_class, database_error)
    app.add_middleware(DatabaseGuard)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Json:
        log.exception("unhandled error")
        return Json(error_body("internal_error", "an unexpected error occurred; nothing was written"), status_code=500)
