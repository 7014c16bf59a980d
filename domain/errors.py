"""Errors raised by the domain; the API maps each kind to one HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class: a machine-readable code, a human message and structured details."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class InvalidInput(DomainError):
    """The command is malformed (maps to 422)."""

    code = "invalid_input"


class NotFound(DomainError):
    """An id does not name an existing aggregate of the expected kind (maps to 404)."""

    code = "not_found"


class Conflict(DomainError):
    """A business rule refuses the command in the current state (maps to 409)."""

    code = "conflict"


class VersionConflict(Conflict):
    """The aggregate moved on since the version the caller expected (maps to 409)."""

    code = "version_conflict"
