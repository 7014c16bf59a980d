"""Q1 in-process: the time of one KPI card or team board, called directly on a read transaction
(no HTTP, no concurrency), on an existing, caught-up history. It isolates what a query costs
from the server around it; run it with each checkout's code on the same database, one after the
other, to compare two versions (PYTHONPATH=<checkout>).

    PYTHONPATH=. .venv/bin/python bench/read_calls.py postgresql://postgres@127.0.0.1:5432/q1_large
    PYTHONPATH=. .venv/bin/python bench/read_calls.py sqlite:///big.db --calls 20 --only kpis_team

The team is the one in the middle of the sorted list of teams, as `bench/queries.py` picks it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", help="the history's DATABASE_URL (read models caught up)")
    parser.add_argument("--calls", type=int, default=10, help="timed calls per query, after 3 untimed (default 10)")
    parser.add_argument("--only", nargs="+", help="these queries only")
    args = parser.parse_args()

    from domain.values import Period
    from infrastructure.database import Database
    from projections import performance, pipeline
    from projections.org import OrgHistory

    db = Database(args.url)
    with db.read() as tx:
        org = OrgHistory(tx)
        teams = sorted({c["team"] for tl in org.timelines.values() for c in tl if c.get("team")})
    team = teams[len(teams) // 2]
    queries: dict[str, Callable[[Any], Any]] = {
        "kpis_company": lambda tx: performance.kpis(tx, scope="company", period=Period.parse("2026-Q3")),
        "kpis_team": lambda tx: performance.kpis(tx, scope=f"team:{team}", period=Period.parse("2026")),
        "pipeline": lambda tx: pipeline.pipeline_board(tx, as_of=date(2026, 12, 7)),
        "pipeline_team": lambda tx: pipeline.pipeline_board(tx, team=team, as_of=date(2026, 12, 7)),
        "leaderboard": lambda tx: performance.leaderboard(
            tx, metric="revenue", period=Period.parse("2026-Q3"), scope="company", limit=50
        ),
    }
    print(f"{args.url}: team {team}, {args.calls} calls each (ms per call)")
    for name, query in queries.items():
        if args.only and name not in args.only:
            continue
        took = []
        for n in range(3 + args.calls):
            began = time.perf_counter()
            with db.read() as tx:
                query(tx)
            if n >= 3:
                took.append((time.perf_counter() - began) * 1000)
        print(f"  {name:15} median {statistics.median(took):7.1f}   min {min(took):7.1f}   max {max(took):7.1f}")
    db.close()


if __name__ == "__main__":
    main()
