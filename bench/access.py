"""What access control costs per request: the same reads as the admin token (no key lookup,
no filtering), a minted admin key (one key lookup), a manager key (key lookup + the subtree from
the cached org directory, kept current from the Rep events) and a rep key, over the demo
organisation on SQLite.

    .venv/bin/python bench/access.py [--requests 300] [--reps 200] [--deals 3000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastapi.testclient import TestClient

from api.app import create_app
from application.demo import load_demo
from infrastructure.settings import Settings

TOKEN = "bench-admin-token-0123456789"
ROUTES = ("/pipeline", "/leads?limit=50", "/customers/distribution")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--deals", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/bench.db", admin_token=TOKEN)
        with TestClient(create_app(settings), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
            load_demo(client.app.state.runtime.ledger, seed=7, reps=args.reps, deals=args.deals)
            nodes = client.get("/org", params={"min_position": client.app.state.runtime.source.head()}).json()["nodes"]
            manager = next(n["rep_id"] for n in nodes if n["level"] == "manager")
            rep = next(n["rep_id"] for n in nodes if n["level"] == "mid")
            callers = {"admin token": TOKEN}
            for role, rep_id in (("admin", None), ("manager", manager), ("rep", rep)):
                callers[f"{role} key"] = client.post("/auth/keys", json={"role": role, "rep_id": rep_id}).json()["key"]
            print(
                f"{len(nodes)} reps, {args.deals} deals; {args.requests} requests per caller over {', '.join(ROUTES)}"
            )
            for name, secret in callers.items():
                headers = {"Authorization": f"Bearer {secret}"}
                timings = []
                for i in range(args.requests):
                    started = time.perf_counter()
                    answer = client.get(ROUTES[i % len(ROUTES)], headers=headers)
                    timings.append((time.perf_counter() - started) * 1000)
                    assert answer.status_code == 200, answer.text
                timings.sort()
                print(
                    f"  {name:12} median {statistics.median(timings):6.2f} ms   "
                    f"p95 {timings[int(len(timings) * 0.95) - 1]:6.2f} ms"
                )


if __name__ == "__main__":
    main()
