"""The `salesledger` command line. Configuration comes from DATABASE_URL (see README)."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="salesledger: an event-sourced sales ledger.", no_args_is_help=True)
projections_app = typer.Typer(help="Inspect and rebuild read models.", no_args_is_help=True)
app.add_typer(projections_app, name="projections")
leads_app = typer.Typer(help="Lead operations.", no_args_is_help=True)
app.add_typer(leads_app, name="leads")
customers_app = typer.Typer(help="Customer operations.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")
events_app = typer.Typer(help="The event log.", no_args_is_help=True)
app.add_typer(events_app, name="events")
keys_app = typer.Typer(help="API keys (for bootstrapping without SALESLEDGER_ADMIN_TOKEN).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()


def _runtime(run_projectors: bool = False, scheduled_checks: bool = False):
    from application import clock
    from domain.values import set_base_currency
    from infrastructure.runtime import Runtime
    from infrastructure.settings import Settings

    settings = Settings.from_env()
    clock.configure(settings.timezone)  # the organisation's today, as in the API
    set_base_currency(settings.base_currency)  # read models convert into it
    return Runtime(  # with the database timeouts
        settings.database(),
        run_projectors=run_projectors,
        timetable=settings.timetable() if scheduled_checks else None,
    )


DEMO_TOKEN_FILE = ".salesledger-admin-token"


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    no_projectors: bool = typer.Option(False, "--no-projectors", help="API only; run `salesledger project` elsewhere"),
    demo_token: bool = typer.Option(
        False, "--demo-token", help=f"without SALESLEDGER_ADMIN_TOKEN, use (or create) {DEMO_TOKEN_FILE}"
    ),
    workers: int = typer.Option(
        1, "--workers", min=1, help="API processes; with more than one they run no projectors (`salesledger project`)"
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="log every request"),
):
    """Serve the HTTP API (with the projectors and the scheduled checks in-process unless
    --no-projectors or --workers N > 1)."""
    import uvicorn

    from api.app import create_app
    from infrastructure.settings import Settings

    # One process with its projectors runs the scheduled checks too, as `salesledger project` does.
    inside = {"run_projectors": not no_projectors, "run_scheduled_checks": not no_projectors and workers == 1}
    settings = Settings.from_env(**inside)
    if settings.admin_token is None and demo_token:
        settings = Settings.from_env(**inside, admin_token=_demo_token())
    if settings.admin_token:
        shown = "localhost" if host in ("0.0.0.0", "::") else host
        console.print(
            f"admin token: [bold]{settings.admin_token}[/bold]\ntry:\n  curl -H 'Authorization: Bearer "
            f"{settings.admin_token}' http://{shown}:{port}/pipeline",
            soft_wrap=True,
        )
    else:
        console.print(
            "[yellow]SALESLEDGER_ADMIN_TOKEN is not set: only keys minted with `salesledger keys mint` "
            "are accepted[/yellow]"
        )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, access_log=access_log)
        return
    from infrastructure.runtime import Runtime

    Runtime(settings.database_url).start().close()  # the schema once, before N workers start at once
    # N processes, each building its app from the environment: pass on what was decided here
    os.environ["SALESLEDGER_RUN_PROJECTORS"] = "false"
    if settings.admin_token:
        os.environ["SALESLEDGER_ADMIN_TOKEN"] = settings.admin_token
    if not no_projectors:
        console.print(f"{workers} API workers without projectors: run [bold]salesledger project[/bold] beside them")
    uvicorn.run("api.cli:worker_app", factory=True, host=host, port=port, workers=workers, access_log=access_log)


def worker_app():
    """The app of one `serve --workers N` process (uvicorn imports it by name in each worker)."""
    from api.app import create_app
    from infrastructure.settings import Settings

    return create_app(Settings.from_env())


def _demo_token() -> str:
    """The demo's admin token: kept in a file beside the database so it survives restarts."""
    import os
    import secrets

    if not os.path.exists(DEMO_TOKEN_FILE):
        fd = os.open(DEMO_TOKEN_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(24) + "\n")
    with open(DEMO_TOKEN_FILE) as f:
        return f.read().strip()


@keys_app.command("mint")
def keys_mint(
    role: str = typer.Option(..., help="rep, manager, finance, auditor or admin"),
    rep_id: str = typer.Option(None, "--rep-id", help="the rep a rep or manager key acts as"),
    label: str = typer.Option(None, help="who or what holds the key"),
):
    """Mint a key and print it (shown once; only its digest is stored)."""
    written = _scheduled(
        "keys-mint", "cli", lambda rt, meta: rt.ledger.access.mint_key(meta, role=role, rep_id=rep_id, label=label)
    )
    console.print(f"key {written.extra['key_id']} ({written.extra['role']}): {written.extra['key']}", soft_wrap=True)


@keys_app.command("revoke")
def keys_revoke(key_id: str, reason: str = typer.Option(..., help="why the key stops working")):
    """Revoke a key; it stops working at once."""
    _scheduled("keys-revoke", "cli", lambda rt, meta: rt.ledger.access.revoke_key(meta, key_id, reason=reason))
    console.print(f"key {key_id} revoked")


@app.command()
def project():
    """Run the projectors and the scheduled checks until interrupted (the separate projector
    service). The checks' timetable: SALESLEDGER_SLA_CHECK_EVERY, SALESLEDGER_DORMANCY_CHECK_AT,
    SALESLEDGER_REVISIT_CHECK_AT (one process runs them; the others stand by)."""
    rt = _runtime(run_projectors=True, scheduled_checks=True).start()
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    console.print(f"projectors running on {rt.db.url.kind}: {', '.join(p.name for p in rt.projections)}")
    jobs = [] if rt.scheduler is None else rt.scheduler.jobs
    console.print(
        "scheduled checks: " + (", ".join(f"{j.name} {j.schedule.describe()}" for j in jobs) or "none"),
        soft_wrap=True,
    )
    done.wait()
    rt.close()


@app.command("vacuum-keys")
def vacuum_keys():
    """Leave no copy of destroyed personal-data keys in the key table. PostgreSQL keeps the old
    row versions of a destroyed key (dead tuples) until a VACUUM: this rewrites the key table
    (VACUUM FULL; a brief exclusive lock on it). SQLite: a checkpoint and a VACUUM of the file.
    Run it after forgetting (e.g. nightly); see the README's "Personal data"."""
    rt = _runtime()
    try:
        rt.vault.vacuum()
    finally:
        rt.close()
    console.print("key table vacuumed: no destroyed key is left in it")


@app.command()
def demo(
    seed: int = 7,
    reps: int = 24,
    deals: int = 300,
    if_empty: bool = typer.Option(False, "--if-empty", help="do nothing when the store already has events"),
    close_months: bool = typer.Option(
        True, "--close-months/--no-close-months", help="close Nov 2025-Sep 2026, approve and pay Jun-Aug, a dispute"
    ),
):
    """Load a deterministic demo organisation with thirteen months of dated history (same seed and
    sizes -> same events; the month closes and approvals carry their recording time)."""
    from application.demo import load_demo

    rt = _runtime()
    try:
        if rt.source.head() > 0:
            if if_empty:
                console.print("store already has events; demo not loaded")
                return
            console.print("[red]the store is not empty; the demo loads into an empty store only[/red]")
            raise typer.Exit(1)
        if close_months:
            rt.start()  # closing a month reads the commission read models
        started = time.monotonic()
        stats = load_demo(rt.ledger, seed=seed, reps=reps, deals=deals, close_months=close_months)
        elapsed = time.monotonic() - started
        console.print(
            f"demo loaded: {stats.reps} reps, {stats.customers} customers, {stats.leads} leads "
            f"({stats.converted} converted), {stats.deals + stats.converted} deals, {stats.closed_months} closed months, "
            f"{stats.events} events in {elapsed:.1f}s ({stats.events / elapsed:,.0f} events/s; "
            f"head position {stats.last_position})"
        )
    finally:
        rt.close()


@app.command("import")
def import_history(
    folder: str = typer.Argument(
        ..., help="a folder of reps/customers/leads/deals/deal_stages/payments/refunds .csv or .xlsx"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="check every row and count, write nothing"),
):
    """Load history from another CRM's export (the contract's files). All or nothing: every bad row
    is listed as file:line: problem and nothing is written; rows already imported are counted."""
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from application import clock
    from application.imports import COLUMNS, ImportRejected
    from domain.base import Meta

    root = Path(folder)
    if not root.is_dir():
        console.print(f"[red]{folder} is not a folder[/red]")
        raise typer.Exit(2)
    files = {
        p.name: p.read_bytes()
        for p in sorted(root.iterdir())
        if p.is_file() and p.suffix.lower() in (".csv", ".xlsx") and p.stem in COLUMNS
    }
    rt = _runtime().start()  # the read models tell which external ids are already imported
    try:
        started = time.monotonic()
        columns = (
            TextColumn("checking rows"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("import", total=None, rate="")

            def progress(done: int, total: int) -> None:
                if done % 1000 == 0 or done == total:
                    elapsed = time.monotonic() - started
                    bar.update(
                        task, completed=done, total=total, rate=f"{done / elapsed:,.0f} rows/s" if elapsed else ""
                    )

            try:
                report = rt.ledger.imports.run(
                    Meta(actor="import"), files, dry_run=dry_run, today=clock.today(), progress=progress
                )
            except ImportRejected as rejected:
                bar.stop()
                for problem in rejected.problems:
                    console.print(problem, markup=False, highlight=False)
                console.print(f"[red]nothing imported: {len(rejected.problems)} problem(s)[/red]")
                raise typer.Exit(1) from None
        written = time.monotonic() - started
        table = Table("file", "rows", "events", "already present")
        for name, count in report.files.items():
            table.add_row(name, f"{count.rows:,}", f"{count.events:,}", f"{count.already_present:,}")
        console.print(table)
        rate = report.events / written if written else 0.0
        if dry_run:
            console.print(f"dry run: {report.events:,} events would be written; nothing was written")
            return
        console.print(
            f"wrote {report.events:,} events in {written:.2f}s ({rate:,.0f} events/s: checking "
            f"{report.seconds.get('check', 0.0):.2f}s, writing {report.seconds.get('write', 0.0):.2f}s)"
        )
        if report.events:
            # Catching up replays only the new events through the same handlers a rebuild would
            # run over the whole store: it is never the slower of the two, so the import catches up.
            caught = time.monotonic()
            rt.fresh(*(p.name for p in rt.projections))
            console.print(
                f"read models caught up in {time.monotonic() - caught:.2f}s (caught up, not rebuilt: catching up "
                f"replays the {report.events:,} new events, a rebuild all {report.position or 0:,} in the store)"
            )
    finally:
        rt.close()


@projections_app.command("list")
def list_projections():
    """Names, versions, failure policy and the events each projection consumes (built-in and plug-in)."""
    from projections.engine.catalog import discover

    table = Table("name", "version", "on error", "events")
    for p in discover():
        table.add_row(p.name, str(p.version), p.on_error, ", ".join(t.__qualname__.replace(".", "") for t in p.events))
    console.print(table)


@projections_app.command("status")
def projections_status():
    """Position, head, lag, state and last error of every projection."""
    from infrastructure.scheduler import ensure_schema
    from infrastructure.scheduler import status as scheduled_status
    from projections.engine.runner import prepare, status

    rt = _runtime()
    try:
        prepare(rt.db, rt.projections)
        ensure_schema(rt.db)
        table = Table("name", "position", "head", "lag", "state", "last error")
        for row in status(rt.db, rt.source, rt.projections):
            err = row["last_error"]
            table.add_row(
                row["name"],
                str(row["position"]),
                str(row["head"]),
                str(row["lag"]),
                row["state"],
                "" if not err else f"{err['event_type']} @ {err['position']}: {err['message']}",
            )
        console.print(table)
        checks = Table("scheduled check", "schedule", "last moment", "last run", "next run", "failures", "last error")
        for row in scheduled_status(rt.db):
            checks.add_row(
                row["job"],
                row["schedule"],
                row["last_moment"] or "",
                row["last_run_at"] or "",
                row["next_run_at"] or "",
                str(row["failures"]),
                row["last_error"] or "",
            )
        console.print(checks)
    finally:
        rt.close()


def _projection(name: str):
    from projections.engine.catalog import by_name

    try:
        return by_name(name)
    except KeyError:
        console.print(f"[red]no projection named {name!r}[/red]")
        raise typer.Exit(2) from None


def _progress_bar(title: str):
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]:,.0f} events/s"),
        TimeRemainingColumn(),
        console=console,
    )
    task = bar.add_task(title, total=None, rate=0.0)

    def progress(p):
        bar.update(
            task,
            completed=p.position,
            total=max(p.head, 1),
            rate=(p.position - p.start) / p.elapsed if p.elapsed else 0.0,
        )

    return bar, progress


@projections_app.command("rebuild")
def rebuild(
    name: str,
    batch: int | None = typer.Option(None, help="store positions per transaction [default: the replay batch, 20,000]"),
    keep: bool = typer.Option(False, "--keep", help="keep the old generation's tables after the switch"),
):
    """Replay one projection from position 0 into new tables, then switch to them (blue/green)."""
    from projections.engine.runner import REPLAY_BATCH_SIZE, Busy
    from projections.engine.runner import rebuild as run_rebuild

    projection = _projection(name)
    rt = _runtime()
    try:
        bar, progress = _progress_bar(f"rebuild {name}")
        with bar:
            try:
                done = run_rebuild(
                    rt.db, rt.source, projection, progress=progress, limit=batch or REPLAY_BATCH_SIZE, keep=keep
                )
            except Busy as busy:
                console.print(f"[red]{busy}[/red]")
                raise typer.Exit(1) from None
        rate = done.position / done.elapsed if done.elapsed else 0.0
        console.print(
            f"rebuilt {name}: replayed {done.position:,} store events ({done.events:,} consumed) "
            f"in {done.elapsed:.2f}s ({rate:,.0f} events/s)"
        )
    finally:
        rt.close()


@projections_app.command("backfill")
def backfill(
    name: str,
    batch: int | None = typer.Option(None, help="store positions per transaction [default: the replay batch, 20,000]"),
    follow: bool = typer.Option(False, "--follow", help="then keep it live until interrupted"),
):
    """Build a (new) projection over all history, resuming from its last committed position if an
    earlier backfill was interrupted; with --follow, keep it live afterwards."""
    from projections.engine.runner import REPLAY_BATCH_SIZE
    from projections.engine.runner import backfill as run_backfill

    projection = _projection(name)
    rt = _runtime()
    try:
        bar, progress = _progress_bar(f"backfill {name}")
        with bar:
            done = run_backfill(rt.db, rt.source, projection, progress=progress, limit=batch or REPLAY_BATCH_SIZE)
        console.print(
            f"backfilled {name} to position {done.position:,} ({done.events:,} events applied "
            f"in {done.elapsed:.2f}s); the projector service keeps it live from here"
        )
    finally:
        rt.close()
    if follow:
        project()


@projections_app.command("dead-letters")
def dead_letters(name: str):
    """Events a projection parked instead of stopping on them."""
    from projections.engine.tracking import dead_letters as parked

    rt = _runtime()
    try:
        rt.start()
        table = Table("position", "type", "status", "error")
        with rt.db.read() as tx:
            for row in parked(tx, name):
                table.add_row(str(row["position"]), row["event_type"], row["status"], row["error"])
        console.print(table)
    finally:
        rt.close()


@projections_app.command("retry")
def retry(name: str, position: int = typer.Option(None, help="one parked event (default: all)")):
    """Apply parked events again (after a fix); those that still fail stay parked."""
    from projections.engine.runner import retry_parked

    projection = _projection(name)
    rt = _runtime()
    try:
        rt.start()
        result = retry_parked(rt.db, rt.source, projection, position)
    finally:
        rt.close()
    console.print(
        f"retried {len(result['retried'])} parked events: {len(result['resolved'])} applied, "
        f"{len(result['still_failing'])} still failing"
    )


def _moment(text: str | None, parse, default, what: str):
    try:
        return parse(text) if text else default()
    except ValueError:
        console.print(f"[red]--as-of must be an ISO {what}, not {text!r}[/red]")
        raise typer.Exit(2) from None


def _scheduled(job: str, when: object, run):
    """Run a scheduled check once, as actor `job`, with a correlation id naming the moment (as
    the scheduler in `salesledger project` does); a refused check (e.g. --as-of in the future)
    prints why and exits with status 2."""
    from domain.errors import DomainError
    from infrastructure.scheduler import scheduled_meta

    rt = _runtime()
    try:
        rt.start()
        return run(rt, scheduled_meta(job, when))
    except DomainError as refused:
        console.print(f"[red]{refused.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        rt.close()


@leads_app.command("sla-check")
def sla_check(as_of: str = typer.Option(None, "--as-of", help="ISO date-time (default: now)")):
    """Record follow-up SLA breaches due at --as-of and apply the policy's action (idempotent)."""
    from datetime import datetime

    from application import clock
    from application.leads import CheckSla

    moment = _moment(as_of, datetime.fromisoformat, clock.now, "date-time")
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    result = _scheduled(
        "sla-check", moment.isoformat(), lambda rt, meta: rt.ledger.leads.check_sla(CheckSla(as_of=moment), meta)
    )
    console.print(
        f"checked {result.checked} assigned leads at {result.as_of.isoformat()}: {len(result.breaches)} new breaches"
    )
    for b in result.breaches:
        console.print(f"  {b.lead_id}  {b.kind} due {b.due_at.isoformat()}  -> {b.action}")


@customers_app.command("dormancy-check")
def dormancy_check(as_of: str = typer.Option(None, "--as-of", help="ISO date (default: today)")):
    """Active customers with no activity for the sales policy's days become dormant (idempotent)."""
    from datetime import date

    from application import clock
    from application.customers import CheckDormancy

    day = _moment(as_of, date.fromisoformat, clock.today, "date")
    result = _scheduled(
        "dormancy-check", day, lambda rt, meta: rt.ledger.customers.check_dormancy(CheckDormancy(as_of=day), meta)
    )
    console.print(f"checked {result.checked} quiet customers at {day}: {len(result.now_dormant)} now dormant")


@customers_app.command("revisit-check")
def revisit_check(as_of: str = typer.Option(None, "--as-of", help="ISO date (default: today)")):
    """Record each revisit the revisit plan had due before --as-of and that has not happened (idempotent)."""
    from datetime import date

    from application import clock
    from application.customers import CheckRevisits

    day = _moment(as_of, date.fromisoformat, clock.today, "date")
    result = _scheduled(
        "revisit-check", day, lambda rt, meta: rt.ledger.customers.check_revisits(CheckRevisits(as_of=day), meta)
    )
    console.print(f"checked {result.checked} customers at {day}: {len(result.now_overdue)} revisits now overdue")
    for o in result.now_overdue:
        console.print(f"  {o.customer_id}  grade {o.grade}  due {o.due_on}  owner {o.owner_id}")


@events_app.command("export")
def export_events(
    since: str = typer.Option(None, "--from", help="recorded at or after (ISO date or date-time)"),
    until: str = typer.Option(None, "--to", help="recorded before (ISO date or date-time)"),
    event_type: str = typer.Option(None, "--type", help="e.g. DealWon"),
    actor: str = typer.Option(None, "--actor"),
    aggregate_id: str = typer.Option(None, "--aggregate-id"),
    out: str = typer.Option("-", "--out", help="file to write (default: standard output)"),
):
    """Export events as JSON Lines (one event with its metadata per line), in store order."""
    import sys
    from datetime import datetime

    from api.encoding import dumps
    from api.routers.events import event_filter
    from domain.errors import InvalidInput
    from projections.eventlog import browse, describe

    moments = [_moment(t, datetime.fromisoformat, lambda: None, "date-time") for t in (since, until)]
    rt = _runtime()
    target = sys.stdout if out == "-" else open(out, "w", encoding="utf-8")  # noqa: SIM115 -- closed in finally
    count = 0
    try:
        wanted = event_filter(event_type, aggregate_id, actor, *moments)
        cursor: int | None = 0
        while cursor is not None:
            records, cursor = browse(rt.source, rt.db, after=cursor, limit=5000, wanted=wanted)
            for record in records:
                target.write(dumps(describe(record)) + "\n")
                count += 1
    except InvalidInput as error:
        console.print(f"[red]{error.message}[/red]")
        raise typer.Exit(2) from None
    finally:
        if target is not sys.stdout:
            target.close()
        rt.close()
    if out != "-":
        console.print(f"exported {count} events to {out}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
