"""Import throughput: a generated CRM export of about `--events` events (reps, customers, deals
with dated stages, wins and payments) imported by `Imports.run` into an empty store, on SQLite
and on PostgreSQL; events/s for the whole import, and the seconds spent checking and building
(reading the files; new deals' events built from their rows, the other records through their
aggregates' commands) and writing (encoding, and the store's bulk insert).

    .venv/bin/python bench/import.py [--events 1000000] [--backend sqlite|postgres|both] [--repeat 1]

`--repeat N` imports the same export N times per backend, each into an empty store. The code
measured is the checkout this script sits in (its root comes first on sys.path; the first line
printed names it and its git state), so an export of another commit can be measured with its own
copy of this script.

PostgreSQL: DATABASE_URL_POSTGRES (default postgresql://postgres@127.0.0.1:5432/postgres); the
bench creates and drops its own database.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from domain.base import Meta
from infrastructure.runtime import Runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EVENTS_PER_DEAL = 6  # opened, 2 stage changes, won, 2 payments (on average, with the odd refund)


def _csv(header: str, rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows([header.split(","), *rows])
    return out.getvalue().encode()


def export(events: int, seed: int = 1) -> dict[str, bytes]:
    rnd = random.Random(seed)
    deals = max(events // EVENTS_PER_DEAL, 1)
    reps = max(deals // 500, 2)
    customers = max(deals // 5, 1)
    rep_rows = [["M0", "经理", "manager", "华东一组", "华东", "", "2020-01-01"]]
    rep_rows += [[f"R{i}", f"代表{i}", "mid", "华东一组", "华东", "M0", "2021-01-01"] for i in range(reps)]
    customer_rows = [[f"C{i}", f"客户{i}", "华东", "制造", f"R{i % reps}", ""] for i in range(customers)]
    deal_rows, stages, payments = [], [], []
    start = date(2023, 1, 1)
    for i in range(deals):
        opened = start + timedelta(days=rnd.randrange(700))
        amount = rnd.randrange(10_000, 500_000)
        c = rnd.randrange(customers)
        deal_rows.append(
            [
                f"X{i}",
                f"C{c}",
                f"R{c % reps}",
                f"项目{i}",
                "ERP",
                f"{amount}.00",
                "CNY",
                opened.isoformat(),
                "proposal",
                "won",
                (opened + timedelta(days=40)).isoformat(),
                f"{amount // 3}.00",
                "",
            ]
        )
        stages.append([f"X{i}", "needs_analysis", (opened + timedelta(days=10)).isoformat()])
        stages.append([f"X{i}", "proposal", (opened + timedelta(days=20)).isoformat()])
        half = amount // 2
        payments.append([f"X{i}", f"{half}.00", (opened + timedelta(days=60)).isoformat()])
        payments.append([f"X{i}", f"{amount - half}.00", (opened + timedelta(days=90)).isoformat()])
    return {
        "reps.csv": _csv("external_id,name,level,team,region,manager_external_id,hired_on", rep_rows),
        "customers.csv": _csv("external_id,name,region,industry,owner_external_id,grade", customer_rows),
        "deals.csv": _csv(
            "external_id,customer_external_id,owner_external_id,title,product_line,amount,currency,opened_on,"
            "stage,status,signed_on,gross_margin,lost_reason",
            deal_rows,
        ),
        "deal_stages.csv": _csv("deal_external_id,stage,changed_on", stages),
        "payments.csv": _csv("deal_external_id,amount,received_on", payments),
    }


def run(url: str, files: dict[str, bytes]) -> dict[str, float]:
    rt = Runtime(url).start()
    try:
        started = time.perf_counter()
        report = rt.ledger.imports.run(Meta(actor="bench"), files, today=date(2026, 11, 30))
        total = time.perf_counter() - started
    finally:
        rt.close()
    return {
        "events": report.events,
        "seconds": total,
        "events_per_s": report.events / total,
        "check": report.seconds.get("check", 0.0),
        "write": report.seconds.get("write", 0.0),
    }


def show(backend: str, r: dict[str, float]) -> None:
    load = os.getloadavg()[0]
    phases = ""
    if r["write"]:
        phases = (
            f" (check {r['check']:.1f}s = {r['events'] / r['check']:,.0f}/s, "
            f"write {r['write']:.1f}s = {r['events'] / r['write']:,.0f}/s)"
        )
    print(
        f"{backend + ':':9} {r['events']:,} events in {r['seconds']:.1f}s = {r['events_per_s']:,.0f} events/s"
        f"{phases}; load average {load:.1f}"
    )


def postgres_url() -> tuple[str, callable]:
    import psycopg

    admin = os.environ.get("DATABASE_URL_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"bench_import_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.rsplit("/", 1)[0] + "/" + name, drop


def code_version() -> str:
    git = ["git", "-C", ROOT]
    try:
        commit = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout"
    return f"git {commit.stdout.strip()}{' + uncommitted changes' if dirty.stdout.strip() else ''}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    import application.imports

    print(f"code: {ROOT} ({code_version()}; {application.imports.__file__}); {time.strftime('%Y-%m-%d %H:%M %Z')}")
    files = export(args.events)
    print(f"export: {sum(len(v) for v in files.values()) / 1e6:.1f} MB, about {args.events:,} events")
    for _ in range(args.repeat):
        if args.backend in ("sqlite", "both"):
            with tempfile.TemporaryDirectory() as tmp:
                r = run(f"sqlite:///{tmp}/bench.db", files)
                show("sqlite", r)
        if args.backend in ("postgres", "both"):
            url, drop = postgres_url()
            try:
                r = run(url, files)
                show("postgres", r)
            finally:
                drop()


if __name__ == "__main__":
    main()
