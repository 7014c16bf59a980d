"""L1, the commission ledger: statement reads at a small and a large history side by side (the
ratio large/small is what the read model promises to keep near 1), closing a month of many reps,
and rebuilding the ledger.

    .venv/bin/python bench/ledger.py --backend sqlite                      # 4,000 and 160,000 deals
    .venv/bin/python bench/ledger.py --backend postgres --small 4000 --large 40000

Each history is `salesledger demo --seed 1 --reps R --deals D --no-close-months` (about 6 events
a deal); then its months from November 2025 to September 2026 are closed one after another through
the use case, each timed (every rep's statement frozen, one event each: the first close should
cost what the last does). Only the ledger (`commissions`) is caught up before the reads; the API
then runs under uvicorn with no projectors. Measured on each history:
  - GET /commissions/statements/{rep}/{month}: an open month (October 2026) and a closed one
    (September 2026), for a rep with lines, by one connection (latency) and by 16 (throughput);
  - GET /commissions/periods/2026-10 (every rep's statement of the month);
and on the large history only:
  - `salesledger projections rebuild commissions` as a whole process: store events / wall time.
PostgreSQL runs use throwaway databases on SALESLEDGER_BENCH_POSTGRES (default: the local
server), dropped afterwards; SQLite runs use temporary files.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from queries import database, drive
from writes import ROOT, TOKEN, Server, code_version, prepare

OPEN, CLOSED = "2026-10", "2026-09"


def generate(url: str, reps: int, deals: int, lines: int) -> tuple[int, str, int, float, float]:
    """A demo history with its months closed, and the ledger caught up: (events, a rep with lines
    in both months, as close to `lines` lines in the open month as there is, and how many; seconds
    to write, seconds to catch the ledger up). The same statement size at both histories: what
    is compared is the length of history, not the size of the answer."""
    env = {**os.environ, "DATABASE_URL": url}
    began = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "demo",
            "--seed",
            "1",
            "--reps",
            str(reps),
            "--deals",
            str(deals),
            "--no-close-months",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    written = time.monotonic() - began
    sys.path.insert(0, ROOT)
    from infrastructure.runtime import Runtime
    from projections.commissions import Ledger

    rt = Runtime(url).start()
    try:
        began = time.monotonic()
        rt.fresh("commissions")
        projected = time.monotonic() - began
        closes = close_months(rt)
        with rt.db.read() as tx:
            ledger = Ledger(tx)
            open_rows, closed_rows = ledger.statements(OPEN), ledger.statements(CLOSED)
        chosen = min(
            (rep for rep in open_rows if open_rows[rep]["lines"] and rep in closed_rows),
            key=lambda rep: (abs(len(open_rows[rep]["lines"]) - lines), rep),
        )
        return rt.source.head(), chosen, len(open_rows[chosen]["lines"]), written, projected, closes
    finally:
        rt.close()


def close_months(rt: object) -> list[tuple[str, float, int]]:
    """Close November 2025 to September 2026 in order through the use case: (month, seconds, statements)."""
    from application import clock
    from application.commissions import ClosePeriod
    from domain.base import Meta

    meta = Meta(actor="bench", correlation_id="bench", causation_id="bench")
    clock.set_today(date(2026, 11, 30))
    out = []
    try:
        for label in [f"2025-{m:02d}" for m in (11, 12)] + [f"2026-{m:02d}" for m in range(1, 10)]:
            began = time.monotonic()
            written = rt.ledger.commissions.close_period(ClosePeriod(label), meta)  # type: ignore[attr-defined]
            out.append((label, time.monotonic() - began, int(written.extra.get("statements", 0))))
    finally:
        clock.set_today(None)
    return out


def rebuild(url: str, events: int) -> tuple[float, float]:
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "120"}
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "api.cli", "projections", "rebuild", "commissions"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    took = time.perf_counter() - began
    return took, events / took


def measure(url: str, args: argparse.Namespace, deals: int, logdir: str, large: bool) -> tuple[int, dict]:
    events, rep, lines, written, projected, closes = generate(url, args.reps, deals, args.lines)
    print(
        f"  history: {deals:,} deals, {events:,} events (written in {written:.0f} s, ledger caught up in "
        f"{projected:.1f} s -> {events / projected:,.0f} events/s); the statement read: {lines} lines in {OPEN}",
        flush=True,
    )
    print(
        "  closes: "
        + ", ".join(f"{label} {took:.2f} s" for label, took, _ in closes)
        + f" ({closes[-1][2]} statements each)",
        flush=True,
    )
    queries = {
        "statement open": f"/commissions/statements/{rep}/{OPEN}",
        "statement closed": f"/commissions/statements/{rep}/{CLOSED}",
        "period open": f"/commissions/periods/{OPEN}",
    }
    prepare(url)
    env = {"DATABASE_URL": url, "SALESLEDGER_ADMIN_TOKEN": TOKEN, "SALESLEDGER_RUN_PROJECTORS": "false"}
    server = Server(f"ledger-{deals}", "writes:salesledger_app", env, 1, logdir)
    results: dict = {}
    try:
        server.wait_healthy()
        for name, path in queries.items():
            results[name] = drive(server.port, path, 1, args.warmup, args.duration)
            results[name + " x16"] = drive(server.port, path, 16, args.warmup, args.duration)
    finally:
        server.stop()
    if large:
        results["rebuild"] = rebuild(url, events)
    return events, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="sqlite")
    parser.add_argument("--small", type=int, default=4000, help="deals in the small history (~25,000 events)")
    parser.add_argument("--large", type=int, default=160000, help="deals in the large history (~1,000,000 events)")
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--lines", type=int, default=8, help="lines of the open statement read")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=5.0)
    args = parser.parse_args()
    print(f"L1 on {args.backend}: {code_version()}, {args.reps} reps")
    print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, deals in (("small", args.small), ("large", args.large)):
            url, drop = database(args.backend, tmp, label)
            try:
                print(f"{label}:", flush=True)
                runs[label] = measure(url, args, deals, tmp, large=label == "large")
            finally:
                drop()
    (small_events, small), (large_events, large) = runs["small"], runs["large"]
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    head = f"{'query':20} {'small: ' + format(small_events, ',') + ' events':>32} {'large: ' + format(large_events, ',') + ' events':>32}"
    print(head + "  large/small")
    for name in [n for n in small if n != "rebuild"]:
        s, g = small[name], large[name]
        print(
            f"{name:20} {s['rps']:6,.0f} rps p50 {s['p50']:6.2f} p99 {s['p99']:6.2f}"
            f"  {g['rps']:6,.0f} rps p50 {g['p50']:6.2f} p99 {g['p99']:6.2f}  x{g['p50'] / s['p50']:.2f} p50"
        )
        for label, r in (("small", s), ("large", g)):
            if r["errors"]:
                print(f"    {label} ERRORS {r['errors']} e.g. {r['example']}")
    wall, rate = large["rebuild"]
    print(f"rebuild commissions on the large history: {wall:.1f} s whole process -> {rate:,.0f} events/s")


if __name__ == "__main__":
    main()
