"""Route matching: what reaching a route costs in the real app, with the routers turning away
paths none of their routes begins with (`api.routing.Router`) and without (FastAPI's own
`APIRouter.matches`), side by side in one process.

    .venv/bin/python bench/routing.py

Times the loop the app's router runs for each request (every included router's `matches` until
one matches fully); the router's second pass over the winning router's routes is the same in
both. Medians of 5 repeats of 2,000 matches per route.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import timeit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ROUTES = [
    ("GET", "/health"),
    ("POST", "/leads"),
    ("POST", "/customers"),
    ("GET", "/pipeline"),
    ("GET", "/kpis"),
    ("GET", "/leaderboards/revenue"),
    ("GET", "/commissions/statements/2026-01/r1"),
    ("GET", "/projections"),
]


def main() -> None:
    os.environ.setdefault("SALESLEDGER_ADMIN_TOKEN", "bench-admin-token-0123456789")
    os.environ["DATABASE_URL"] = f"sqlite:///{tempfile.mkdtemp()}/routing.db"  # never opened
    from fastapi import APIRouter
    from starlette.routing import Match

    from api.app import create_app
    from api.routing import Router

    app = create_app()

    def scope(method: str, path: str) -> dict:
        return {"type": "http", "method": method, "path": path, "root_path": "", "query_string": b"", "headers": []}

    def reach(request: dict) -> None:
        for route in app.router.routes:
            if route.matches(dict(request))[0] == Match.FULL:
                return
        raise LookupError(request["path"])

    def cost(request: dict) -> float:
        return statistics.median(timeit.repeat(lambda: reach(request), number=2000, repeat=5)) / 2000 * 1e6

    own = Router.matches
    print(f"{'route':44} {'APIRouter':>10} {'Router':>8}  ratio")
    for method, path in ROUTES:
        request = scope(method, path)
        fast = cost(request)
        Router.matches = APIRouter.matches  # type: ignore[method-assign]
        slow = cost(request)
        Router.matches = own  # type: ignore[method-assign]
        print(f"{method + ' ' + path:44} {slow:8.1f}µs {fast:6.1f}µs  x{fast / slow:.2f}")


if __name__ == "__main__":
    main()
