"""W1, the write path: requests per second and latency of salesledger's command endpoints
`POST /leads` and `POST /customers` against a plain-CRUD baseline (bench/crud_baseline.py,
`POST /items`: one validated JSON body inserted as one row), served the same way on the same
machine and driven by the same load generator. The machine is shared and noisy, so the figures
that matter are the ratios salesledger/baseline measured side by side in each round.

    .venv/bin/python bench/writes.py                        # PostgreSQL, 1 worker, 32 connections, 10 s
    .venv/bin/python bench/writes.py --backend sqlite --workers 2 --rounds 1

Both servers run as subprocesses under uvicorn with the same `--workers N`; salesledger as
`salesledger serve --no-projectors` builds it (the API without in-process projectors), beside one
`salesledger project` process that keeps the read models live as deployed (`--no-projector`
leaves it out: commands then find the read models they consult lagging), with
SALESLEDGER_ADMIN_TOKEN set and every request sending it as a bearer token. PostgreSQL runs use
a throwaway database on SALESLEDGER_BENCH_POSTGRES (default: the local server), dropped
afterwards; SQLite runs use temporary files. The load generator is a lean asyncio HTTP/1.1
client in this process: N keep-alive connections, each sending its next request as soon as the
last answer arrived (closed loop), for a warm-up and then a fixed measured window. Latency is
from sending the request to having read the whole answer; rps counts the requests sent within
the window; any answer but the expected 201 is an error and is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
ADMIN = os.environ.get("SALESLEDGER_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TOKEN = "bench-admin-token-0123456789"
TARGETS = ("baseline", "leads", "customers")
PATHS = {"baseline": "/items", "leads": "/leads", "customers": "/customers"}


# -- what the servers import -------------------------------------------------------------------
def _first(*candidates: tuple[str, str]):
    """The first `module.attribute` whose package is in this checkout (the code is being
    reorganised; follow it, and never pick up another checkout's package from an editable install)."""
    import importlib

    for module, attribute in candidates:
        if os.path.isdir(os.path.join(ROOT, module.split(".")[0])):
            return getattr(importlib.import_module(module), attribute)
    raise ImportError(f"none of {candidates} in {ROOT}")


def salesledger_app():
    """uvicorn factory: what `salesledger serve --no-projectors` serves, but usable with --workers."""
    sys.path.insert(0, ROOT)
    from api.app import create_app

    settings = _first(("infrastructure.settings", "Settings"), ("api.settings", "Settings"))
    return create_app(settings.from_env(run_projectors=False))


def _runtime(url: str):
    sys.path.insert(0, ROOT)
    return _first(("infrastructure.runtime", "Runtime"), ("api.runtime", "Runtime"))(url)


def prepare(url: str) -> None:
    """Create the store's and read models' tables once, before several workers start at once."""
    _runtime(url).start().close()


# -- servers -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    """A subprocess of this tree, logging to `logdir`, in its own process group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logdir: str) -> None:
        self.name = name
        self.log_path = os.path.join(logdir, f"{name}.log")
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": ROOT, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends the workers too
        )

    def tail(self, lines: int = 30) -> str:
        self.log.flush()
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")

    def problems(self) -> list[str]:
        with open(self.log_path, "rb") as f:
            text = f.read().decode(errors="replace").splitlines()
        return [line for line in text if "Traceback" in line or line.startswith("ERROR")]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass
        self.log.close()


class Server(Process):
    """An ASGI app under uvicorn with `workers` workers on a free port."""

    def __init__(self, name: str, factory: str, env: dict[str, str], workers: int, logdir: str) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", factory, "--app-dir", BENCH]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        super().__init__(name, command, env, logdir)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not healthy after {timeout:.0f}s:\n{self.tail()}")


# -- load generator ----------------------------------------------------------------------------
class Requests:
    """Pre-encoded request heads; each request gets a unique company / customer name."""

    def __init__(self, target: str, port: int, tag: str) -> None:
        self.target = target
        self.numbers = itertools.count(1)
        self.tag = tag
        auth = "" if target == "baseline" else f"Authorization: Bearer {TOKEN}\r\n"
        self.head = (
            f"POST {PATHS[target]} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\n{auth}Content-Length: "
        ).encode()

    def next(self) -> bytes:
        n = next(self.numbers)
        if self.target == "customers":
            body = {"name": f"W1 customer {self.tag}-{n}", "region": "华东", "industry": "manufacturing"}
        else:
            body = {"company": f"W1 company {self.tag}-{n}", "source": "trade_show", "region": "华东"}
            body["industry"] = "manufacturing"
        data = json.dumps(body, ensure_ascii=False).encode()
        return self.head + str(len(data)).encode() + b"\r\n\r\n" + data


async def _connection(port: int, requests: Requests, start: float, stop: float, out: dict) -> None:
    clock = time.perf_counter
    reader = writer = None
    while clock() < stop:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            sent = clock()
            writer.write(requests.next())
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError(f"answer without Content-Length: {head[:200]!r}")
            length = int(lower[at + 17 : lower.find(b"\r\n", at + 2)])
            body = await reader.readexactly(length)
            done = clock()
            status = int(head[9:12])
            out["answered"] += 1
            if sent >= start:
                out["latencies"].append(done - sent)
                if status != 201:
                    out["errors"][status] = out["errors"].get(status, 0) + 1
                    out.setdefault("example", body[:300].decode(errors="replace"))
            if b"\r\nconnection: close" in lower:
                writer.close()
                reader = writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError) as e:
            out["errors"][type(e).__name__] = out["errors"].get(type(e).__name__, 0) + 1
            out.setdefault("example", repr(e))
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


async def _drive(port: int, requests: Requests, connections: int, warmup: float, duration: float) -> dict:
    out: dict = {"latencies": [], "errors": {}, "answered": 0}
    start = time.perf_counter() + warmup
    stop = start + duration
    await asyncio.gather(*(_connection(port, requests, start, stop, out) for _ in range(connections)))
    return out


def drive(port: int, requests: Requests, connections: int, warmup: float, duration: float) -> dict:
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    out = runner(_drive(port, requests, connections, warmup, duration))
    latencies = sorted(out["latencies"])
    n = len(latencies)
    return {
        "requests": n,
        "answered": out["answered"],  # warm-up and the last requests in flight included
        "rps": n / duration,
        "p50": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99": latencies[max(0, -(-n * 99 // 100) - 1)] * 1000 if n else float("nan"),
        "errors": out["errors"],
        "example": out.get("example"),
    }


# -- the benchmark -----------------------------------------------------------------------------
def code_version() -> str:
    try:
        commit = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
        ).stdout.strip()
        return f"git {commit}{' + uncommitted changes' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"


def line(name: str, r: dict, base: dict | None, events: int | None) -> str:
    text = f"  {name:28} {r['rps']:8,.0f} rps  p50 {r['p50']:7.1f} ms  p99 {r['p99']:7.1f} ms"
    if base:
        text += f"   x{r['rps'] / base['rps']:.3f} rps  x{r['p50'] / base['p50']:.2f} p50  x{r['p99'] / base['p99']:.2f} p99"
    if events is not None and r["answered"]:
        text += f"   {events / r['answered']:.2f} events/request"
    if r["errors"]:
        text += f"\n      ERRORS {r['errors']} e.g. {r['example']}"
    return text


def bench(backend: str, url: str, baseline_url: str, args: argparse.Namespace, logdir: str) -> None:
    subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {BENCH!r}); import writes; writes.prepare({url!r})"],
        cwd=ROOT,
        check=True,
    )
    servers = {}
    try:
        servers["salesledger"] = Server(
            "salesledger",
            "writes:salesledger_app",
            {"DATABASE_URL": url, "SALESLEDGER_ADMIN_TOKEN": TOKEN},
            args.workers,
            logdir,
        )
        if args.projector:  # the deployment: API workers run no projectors, `salesledger project` does
            servers["projector"] = Process(
                "projector",
                [sys.executable, "-c", "from api.cli import main; main()", "project"],
                {"DATABASE_URL": url},
                logdir,
            )
        servers["baseline"] = Server(
            "baseline", "crud_baseline:create_app", {"CRUD_BASELINE_URL": baseline_url}, args.workers, logdir
        )
        for server in servers.values():
            if isinstance(server, Server):
                server.wait_healthy()
        store = _runtime(url)
        tag = uuid.uuid4().hex[:6]
        requests = {
            t: Requests(t, servers["baseline" if t == "baseline" else "salesledger"].port, tag) for t in args.targets
        }
        rounds: list[dict] = []
        for i in range(args.rounds):
            order = list(args.targets) if i % 2 == 0 else list(reversed(args.targets))
            results, events = {}, {}
            print(f"round {i + 1} ({', '.join(order)})", flush=True)
            for target in order:
                server = servers["baseline" if target == "baseline" else "salesledger"]
                before = store.source.head()
                results[target] = drive(server.port, requests[target], args.connections, args.warmup, args.duration)
                events[target] = None if target == "baseline" else store.source.head() - before
            base = results.get("baseline")
            for target in args.targets:
                name = f"{'baseline' if target == 'baseline' else 'salesledger'} POST {PATHS[target]}"
                print(line(name, results[target], None if target == "baseline" else base, events[target]), flush=True)
            rounds.append(results)
        store.close()
        print(
            f"summary over {args.rounds} round(s): medians; ratios are salesledger/baseline, the median of "
            "the per-round ratios"
        )
        for target in args.targets:
            med = {k: statistics.median(r[target][k] for r in rounds) for k in ("rps", "p50", "p99")}
            text = f"  {target:10} {med['rps']:8,.0f} rps  p50 {med['p50']:7.1f} ms  p99 {med['p99']:7.1f} ms"
            if target != "baseline" and "baseline" in args.targets:
                ratio = {
                    k: statistics.median(r[target][k] / r["baseline"][k] for r in rounds) for k in ("rps", "p50", "p99")
                }
                text += f"   x{ratio['rps']:.3f} rps  x{ratio['p50']:.2f} p50  x{ratio['p99']:.2f} p99"
            print(text)
        errors = sum(sum(r[t]["errors"].values()) for r in rounds for t in args.targets)
        print(f"  errors: {errors}")
    finally:
        for server in servers.values():
            server.stop()
        for server in servers.values():
            if found := server.problems():
                print(f"  {server.name} log has {len(found)} error line(s), e.g. {found[0][:200]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers, for each server (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections (default 32)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each run (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every target, alternating order (default 3)")
    parser.add_argument("--targets", nargs="+", choices=TARGETS, default=list(TARGETS))
    parser.add_argument(
        "--projector",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run `salesledger project` beside salesledger's API, as deployed (default on)",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up servers and database on kill
    print(
        f"W1 writes: {args.backend}, {args.workers} uvicorn worker(s) per server"
        f"{' and a projector process' if args.projector else ''}, {args.connections} connections, "
        f"{args.duration:g} s measured (+{args.warmup:g} s warm-up) per run, {args.rounds} round(s)\n"
        f"code: {ROOT} ({code_version()}); {time.strftime('%Y-%m-%d %H:%M %Z')}; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        if args.backend == "sqlite":
            bench("sqlite", f"sqlite:///{tmp}/salesledger.db", f"sqlite:///{tmp}/baseline.db", args, tmp)
            return
        import psycopg

        name = f"salesledger_w1_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"{ADMIN.rsplit('/', 1)[0]}/{name}"
                bench("postgres", url, url, args, tmp)
            finally:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
