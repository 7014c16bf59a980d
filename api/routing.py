"""Routers that turn a request away at once when none of their paths can match it.

FastAPI tries an app's included routers in turn, and each tries every one of its routes: a
request to `/leads` is matched against every route of the routers included before it (each
match a regular expression and some bookkeeping). `Router` knows the first path segments of its
routes and answers "no match" for any other in one set lookup, so reaching a route costs about
the same wherever its router is included. Matching, its order and the OpenAPI document are
FastAPI's own; only routers that cannot match are skipped."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Match, get_route_path
from starlette.types import Scope


def _head(path: str) -> str:
    """The first segment of a path: "leads" for "/leads/{lead_id}/score"."""
    return path.split("/", 2)[1] if path.startswith("/") else path


class Router(APIRouter):
    """An `APIRouter` that rejects paths whose first segment none of its routes begins with."""

    _heads: frozenset[str] | None = None
    _heads_of: int = -1  # the number of routes `_heads` was worked out for

    def _first_segments(self) -> frozenset[str] | None:
        """The first segments its routes' paths begin with; None when one begins with a path
        parameter (it may match anything)."""
        if self._heads_of != len(self.routes):
            heads = set()
            for route in self.routes:
                path = getattr(route, "path", None)
                head = _head(path) if isinstance(path, str) else "{"
                heads.add(head)
            self._heads = None if any("{" in head for head in heads) else frozenset(heads)
            self._heads_of = len(self.routes)
        return self._heads

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        heads = self._first_segments()
        if heads is not None and scope.get("type") == "http" and _head(get_route_path(scope)) not in heads:
            return Match.NONE, {}
        return super().matches(scope)
