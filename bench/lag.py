"""Live lag: how soon a command's events are in the read models, at a steady rate of commands.

    .venv/bin/python bench/lag.py                          # PostgreSQL, 100 commands/s, 20 s
    .venv/bin/python bench/lag.py --rate 200 --duration 30 --backend sqlite

Deployed as in bench/writes.py: one API process without projectors (`salesledger serve
--no-projectors`) beside one `salesledger project` process, on a throwaway database. Commands
(`POST /customers`) are sent open-loop at `--rate` per second, each at its own moment whatever
the answers do. A watcher polls the read models' positions every millisecond on its own
connection. A command's lag is from the moment its answer (with its store position) arrived to
the moment the watched projection's position reached that position (0 when it already had):
what a client doing read-your-writes (`min_position`) waits at most. Reported: p50, p99 and max,
for the `accounts` projection (customers' read model) and for the slowest of the projections that
consume the command's event (the others have nothing to wait for).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
import writes  # noqa: E402 - the servers and the throwaway database, as W1 runs them

WATCHED = "accounts"
COMMAND_EVENT = ("domain.customer", "Customer", "Registered")  # what each POST /customers records


def consuming(event: tuple[str, str, str]) -> list[str]:
    """The projections that consume this event. The others' positions pass it in memory and are
    written later (with their next batch, after a fraction of a second or at a pause): no
    read-your-writes wait is for them (`wait_for` asks the store whether they have anything to do)."""
    import importlib

    from eventsourcing.utils import get_topic

    sys.path.insert(0, writes.ROOT)
    from projections.engine.catalog import discover

    module, aggregate, name = event
    topic = get_topic(getattr(getattr(importlib.import_module(module), aggregate), name))
    return [p.name for p in discover() if topic in p.topics]


class Watcher(threading.Thread):
    """Polls every projection's position; keeps (time, position) when it changes."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        sys.path.insert(0, writes.ROOT)
        from infrastructure.database import Database

        self.db = Database(url)
        self.seen: dict[str, tuple[list[float], list[int]]] = {}
        self.done = threading.Event()

    def run(self) -> None:
        sql = (
            "SELECT t.name, t.position FROM projection_tracking t JOIN projection_registry r "
            "ON r.name = t.name AND r.active_generation = t.generation"
        )
        while not self.done.is_set():
            with self.db.read() as tx:
                rows = tx.all(sql)
            now = time.perf_counter()
            for name, position in rows:
                times, positions = self.seen.setdefault(name, ([], []))
                if not positions or position > positions[-1]:
                    times.append(now)
                    positions.append(int(position))
            time.sleep(0.001)

    def reached(self, name: str, position: int) -> float | None:
        """When `name` was first seen at or past `position`."""
        times, positions = self.seen.get(name, ([], []))
        i = bisect.bisect_left(positions, position)
        return times[i] if i < len(positions) else None


async def send(port: int, rate: float, duration: float) -> list[tuple[float, int]]:
    import httpx

    answers: list[tuple[float, int]] = []
    tag = uuid.uuid4().hex[:6]
    headers = {"Authorization": f"Bearer {writes.TOKEN}"}
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits) as client:

        async def one(n: int) -> None:
            body = {"name": f"lag {tag}-{n}", "region": "华东", "industry": "manufacturing"}
            answer = await client.post("/customers", json=body, timeout=30)
            if answer.status_code == 201:
                answers.append((time.perf_counter(), int(answer.json()["position"])))

        tasks = []
        start = time.perf_counter()
        n = 0
        while (at := start + n / rate) < start + duration:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(one(n)))
            n += 1
        await asyncio.gather(*tasks)
    return answers


def percentiles(lags: list[float]) -> str:
    lags = sorted(lags)
    p99 = lags[max(0, -(-len(lags) * 99 // 100) - 1)]
    return f"p50 {statistics.median(lags) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  max {lags[-1] * 1000:6.1f} ms"


def measure(url: str, args: argparse.Namespace, logdir: str) -> None:
    writes.prepare(url)
    env = {"DATABASE_URL": url, "SALESLEDGER_ADMIN_TOKEN": writes.TOKEN}
    api = writes.Server("salesledger", "writes:salesledger_app", env, 1, logdir)
    projector = writes.Process(
        "projector",
        [sys.executable, "-c", "from api.cli import main; main()", "project"],
        {"DATABASE_URL": url},
        logdir,
    )
    watcher = Watcher(url)
    try:
        api.wait_healthy()
        time.sleep(3)  # the projector registers and goes live
        watcher.start()
        answers = asyncio.run(send(api.port, args.rate, args.duration))
        time.sleep(2)  # the last commands reach the read models
        watcher.done.set()
        watcher.join()
        consumers = sorted(set(watcher.seen) & set(consuming(COMMAND_EVENT)))
        watched, slowest = [], []
        for answered, position in answers:
            ats = [watcher.reached(name, position) for name in consumers]
            if any(at is None for at in ats):
                continue
            watched.append(max(0.0, (watcher.reached(WATCHED, position) or answered) - answered))
            slowest.append(max(0.0, max(ats) - answered))  # type: ignore[type-var]
        print(f"{len(answers)} commands answered 201 at {args.rate:g}/s over {args.duration:g} s", flush=True)
        print(f"  {WATCHED:10} {percentiles(watched)}")
        print(
            f"  {'slowest':10} {percentiles(slowest)}   (of the {len(consumers)} projections that consume the command's event)"
        )
    finally:
        watcher.done.set()
        api.stop()
        projector.stop()
        for process in (api, projector):
            if found := process.problems():
                print(f"  {process.name} log has {len(found)} error line(s), e.g. {found[0][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--rate", type=float, default=100.0, help="commands per second (default 100)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of commands (default 20)")
    args = parser.parse_args()
    print(
        f"live lag: {args.backend}, code {writes.ROOT} ({writes.code_version()}), "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            measure(f"sqlite:///{tmp}/salesledger.db", args, tmp)
            return
        import psycopg

        name = f"salesledger_lag_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(writes.ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                measure(f"{writes.ADMIN.rsplit('/', 1)[0]}/{name}", args, tmp)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
