"""Rebuild throughput: load a demo history (>= 200,000 events by default) and time the whole
`salesledger projections rebuild pipeline` process on SQLite and on PostgreSQL.

    .venv/bin/python bench/rebuild.py                  # both backends
    .venv/bin/python bench/rebuild.py --backend sqlite --deals 45000

The PostgreSQL run uses a throwaway database on SALESLEDGER_BENCH_POSTGRES (default: the
local server) and drops it afterwards. events/s = store events replayed / process wall time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = os.environ.get("SALESLEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


def salesledger(url: str, *args: str) -> tuple[float, str]:
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "120"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return time.perf_counter() - started, done.stdout


def head(url: str) -> int:
    sys.path.insert(0, ROOT)
    from infrastructure.runtime import Runtime

    rt = Runtime(url)
    try:
        return rt.source.head()
    finally:
        rt.close()


def run(backend: str, url: str, deals: int, reps: int, repeat: int) -> None:
    load_time, out = salesledger(url, "demo", "--seed", "1", "--reps", str(reps), "--deals", str(deals))
    events = head(url)
    print(f"[{backend}] loaded {events:,} events in {load_time:.1f}s ({events / load_time:,.0f} events/s written)")
    for i in range(repeat):
        wall, out = salesledger(url, "projections", "rebuild", "pipeline")
        print(f"[{backend}] rebuild pipeline #{i + 1}: {wall:.2f}s whole process -> {events / wall:,.0f} events/s")
        print("          " + out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--deals", type=int, default=47000, help="demo deals (47,000 -> about 287k events)")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            run("sqlite", f"sqlite:///{tmp}/bench.db", args.deals, args.reps, args.repeat)
    if args.backend in ("postgres", "both"):
        import psycopg

        name = f"salesledger_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                run("postgres", f"{ADMIN.rsplit('/', 1)[0]}/{name}", args.deals, args.reps, args.repeat)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
