"""Q1, the read side: p50/p99 latency and throughput of the board and performance queries at a
small and a large generated history, served the same way and driven by the same closed-loop load
generator as W1 (bench/writes.py), printed side by side with the ratio large/small. What the
read models promise is that a query reads rows bounded by reps, stages and months, so the ratio
should stay near 1 however long the history grows.

    .venv/bin/python bench/queries.py                                # PostgreSQL, 4,000 and 40,000 deals
    .venv/bin/python bench/queries.py --backend sqlite --small 1000 --large 20000 --duration 5
    .venv/bin/python bench/queries.py --small-url postgresql://.../q1_small --large-url postgresql://.../q1_large

Each history is `salesledger demo --seed 1 --reps R --deals D` (deals, customers, leads, visits,
payments, transfers), every read model caught up before the load starts; the API runs as
`salesledger serve --no-projectors` builds it, under uvicorn with `--workers N`. PostgreSQL runs
use throwaway databases on SALESLEDGER_BENCH_POSTGRES (default: the local server), dropped
afterwards; SQLite runs use temporary files. Every answer but 200 is an error and is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from writes import ADMIN, ROOT, TOKEN, Server, code_version, prepare

QUERIES = {
    "pipeline": "/pipeline",
    "pipeline team": "/pipeline?team={team}",
    "pipeline period": "/pipeline?period=2026-Q2",
    "leaderboard revenue": "/leaderboards/revenue?period=2026-Q3",
    "kpis company": "/kpis?scope=company&period=2026-Q3",
    "kpis team": "/kpis?scope=team:{team}&period=2026",
    "lead queue": "/leads/queue/{rep}",
    "customer 360": "/customers/{customer}",
    "statement": "/commissions/statements/{rep}/2026-10",
}


async def _connection(port: int, path: bytes, start: float, stop: float, out: dict) -> None:
    clock = time.perf_counter
    request = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\n\r\n"
    reader = writer = None
    while clock() < stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            sent = clock()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            length = int(lower[at + 17 : lower.find(b"\r\n", at + 2)])
            body = await reader.readexactly(length)
            done = clock()
            if sent >= start:
                out["latencies"].append(done - sent)
                status = int(head[9:12])
                if status != 200:
                    out["errors"][status] = out["errors"].get(status, 0) + 1
                    out.setdefault("example", body[:300].decode(errors="replace"))
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            out["errors"][type(e).__name__] = out["errors"].get(type(e).__name__, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


def drive(port: int, path: str, connections: int, warmup: float, duration: float) -> dict:
    async def run() -> dict:
        out: dict = {"latencies": [], "errors": {}}
        start = time.perf_counter() + warmup
        await asyncio.gather(
            *(_connection(port, path.encode(), start, start + duration, out) for _ in range(connections))
        )
        return out

    out = asyncio.run(run())
    latencies = sorted(out["latencies"])
    n = len(latencies)
    return {
        "rps": n / duration,
        "p50": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99": latencies[max(0, -(-n * 99 // 100) - 1)] * 1000 if n else float("nan"),
        "errors": out["errors"],
        "example": out.get("example"),
    }


def generate(url: str, reps: int, deals: int, write: bool = True) -> tuple[int, str, float]:
    """Write a demo history (unless `write` is false: an existing one) and catch every read
    model up: (events, a team name, seconds)."""
    env = {**os.environ, "DATABASE_URL": url}
    began = time.monotonic()
    if write:
        subprocess.run(
            [sys.executable, "-m", "api.cli", "demo", "--seed", "1", "--reps", str(reps), "--deals", str(deals)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    sys.path.insert(0, ROOT)
    from infrastructure.runtime import Runtime
    from projections.org import OrgHistory

    rt = Runtime(url).start()
    try:
        rt.fresh(*(p.name for p in rt.projections))
        with rt.db.read() as tx:
            org = OrgHistory(tx)
            teams = sorted({c["team"] for tl in org.timelines.values() for c in tl if c.get("team")})
        return rt.source.head(), teams[len(teams) // 2], time.monotonic() - began
    finally:
        rt.close()


def _get(port: int, path: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def subjects(port: int) -> dict[str, str]:
    """A rep in the middle of the list and a customer with deals, the same way at every size."""
    reps = _get(port, "/reps?limit=500")["items"]
    customers = _get(port, "/customers?limit=200")["items"]
    return {"rep": reps[len(reps) // 2]["rep_id"], "customer": customers[len(customers) // 2]["customer_id"]}


def measure(
    url: str, args: argparse.Namespace, deals: int, logdir: str, write: bool = True
) -> tuple[int, dict[str, dict]]:
    events, team, took = generate(url, args.reps, deals, write)
    print(f"  history: {deals:,} deals, {events:,} events (generated and projected in {took:.0f} s)", flush=True)
    prepare(url)
    env = {"DATABASE_URL": url, "SALESLEDGER_ADMIN_TOKEN": TOKEN, "SALESLEDGER_RUN_PROJECTORS": "false"}
    server = Server(f"queries-{deals}", "writes:salesledger_app", env, args.workers, logdir)
    results = {}
    try:
        server.wait_healthy()
        names = {"team": quote(team, safe=""), **subjects(server.port)}
        for name, path in QUERIES.items():
            if args.only and name not in args.only:
                continue
            results[name] = drive(server.port, path.format(**names), args.connections, args.warmup, args.duration)
    finally:
        server.stop()
    return events, results


def database(backend: str, tmp: str, label: str) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{os.path.join(tmp, label)}.db", lambda: None
    import psycopg

    name = f"sl_bench_q_{label}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return f"{ADMIN.rsplit('/', 1)[0]}/{name}", drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--small", type=int, default=4000, help="deals in the small history")
    parser.add_argument("--large", type=int, default=40000, help="deals in the large history")
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--only", nargs="+", choices=list(QUERIES), help="measure only these queries")
    parser.add_argument("--small-url", help="an existing history to use as the small one (nothing is written)")
    parser.add_argument("--large-url", help="an existing history to use as the large one (nothing is written)")
    args = parser.parse_args()
    print(f"Q1 on {args.backend}: {code_version()}, {args.workers} worker(s), {args.connections} connections")
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, deals, given in (("small", args.small, args.small_url), ("large", args.large, args.large_url)):
            url, drop = (given, lambda: None) if given else database(args.backend, tmp, label)
            try:
                print(f"{label}:", flush=True)
                runs[label] = measure(url, args, deals, tmp, write=not given)
            finally:
                drop()
    (small_events, small), (large_events, large) = runs["small"], runs["large"]
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    print(
        f"{'query':22} {'small: ' + format(small_events, ',') + ' events':>34} {'large: ' + format(large_events, ',') + ' events':>34}  large/small"
    )
    for name in [q for q in QUERIES if q in small]:
        s, g = small[name], large[name]
        print(
            f"{name:22} {s['rps']:7,.0f} rps p50 {s['p50']:6.1f} p99 {s['p99']:6.1f}"
            f"  {g['rps']:7,.0f} rps p50 {g['p50']:6.1f} p99 {g['p99']:6.1f}"
            f"  x{g['p50'] / s['p50']:.2f} p50 x{g['p99'] / s['p99']:.2f} p99"
        )
        for label, r in (("small", s), ("large", g)):
            if r["errors"]:
                print(f"    {label} ERRORS {r['errors']} e.g. {r['example']}")


if __name__ == "__main__":
    main()
