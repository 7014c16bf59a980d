"""The demo loader's determinism and the `salesledger` command line, as a user runs it."""

import os
import subprocess
import sys
from datetime import date

from application.demo import load_demo
from infrastructure.runtime import Runtime
from projections.engine.runner import status
from projections.engine.tracking import registration
from projections.pipeline import pipeline_board


def event_stream(source):
    """Everything about each event except its recording time."""
    return [
        (r.position, r.type, r.aggregate_id, {k: v for k, v in vars(r.event).items() if k != "timestamp"})
        for r in source.read(0, 10**6)
    ]


def cli(database_url, *args, check=True):
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args], env=env, capture_output=True, text=True, check=check, timeout=300
    )


def test_same_seed_and_sizes_give_the_same_events(runtime, tmp_path):
    stats = load_demo(runtime.ledger, seed=11, reps=8, deals=40)
    assert stats.events == runtime.source.head() == stats.last_position
    other = Runtime(f"sqlite:///{tmp_path / 'again.db'}")
    try:
        load_demo(other.ledger, seed=11, reps=8, deals=40)
        assert event_stream(runtime.source) == event_stream(other.source)
    finally:
        other.close()
    types = {t for _, t, _, _ in event_stream(runtime.source)}
    assert {
        "RepHired",
        "CustomerRegistered",
        "LeadCaptured",
        "DealOpened",
        "DealStageChanged",
        "DealWon",
        "DealLost",
        "DealPaymentReceived",
    } <= types


def test_cli_demo_then_rebuild_then_status(database_url):
    loaded = cli(database_url, "demo", "--seed", "3", "--reps", "6", "--deals", "60")
    assert "demo loaded" in loaded.stdout
    again = cli(database_url, "demo", check=False)
    assert again.returncode == 1  # refuses a non-empty store
    assert cli(database_url, "demo", "--if-empty").returncode == 0
    rebuilt = cli(database_url, "projections", "rebuild", "pipeline")
    assert "rebuilt pipeline" in rebuilt.stdout
    assert cli(database_url, "projections", "rebuild", "nope", check=False).returncode == 2
    listed = cli(database_url, "projections", "status").stdout
    assert "pipeline" in listed and "live" in listed

    from infrastructure.runtime import Runtime

    rt = Runtime(database_url).start()
    try:
        row = next(r for r in status(rt.db, rt.source, rt.projections) if r["name"] == "pipeline")
        assert row["lag"] == 0 and row["position"] == rt.source.head()
        with rt.db.read() as tx:
            board = pipeline_board(tx, as_of=date(2026, 12, 31))
            assert registration(tx, "pipeline").active_generation == 2
        opened = sum(1 for r in rt.source.read(0, 10**6) if r.type == "DealOpened")
        total = board["open"]["count"] + board["won"]["count"] + board["lost"]["count"]
        converted = sum(1 for r in rt.source.read(0, 10**6) if r.type == "LeadConverted")
        assert total == opened == 60 + converted
    finally:
        rt.close()


def test_cli_backfill_export_and_dead_letters(database_url, tmp_path):
    import json

    cli(database_url, "demo", "--seed", "4", "--reps", "5", "--deals", "30")
    filled = cli(database_url, "projections", "backfill", "first_contact_lag")
    assert "backfilled first_contact_lag" in filled.stdout
    again = cli(database_url, "projections", "backfill", "first_contact_lag")
    assert "(0 events applied" in again.stdout  # nothing left: it resumes where it stood
    out = tmp_path / "won.jsonl"
    cli(database_url, "events", "export", "--type", "DealWon", "--out", str(out))
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines and {x["type"] for x in lines} == {"DealWon"} and lines[0]["actor"] == "demo"
    assert [x["position"] for x in lines] == sorted(x["position"] for x in lines)
    assert cli(database_url, "events", "export", "--type", "Nope", check=False).returncode == 2
    assert "position" in cli(database_url, "projections", "dead-letters", "first_contact_lag").stdout
    assert "retried 0 parked events" in cli(database_url, "projections", "retry", "first_contact_lag").stdout
    listed = cli(database_url, "projections", "list").stdout
    assert "first_contact_lag" in listed and "park" in listed


def test_cli_mints_and_revokes_keys_that_the_api_accepts(database_url):
    """Bootstrapping without SALESLEDGER_ADMIN_TOKEN: a key minted on the command line opens the API."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from infrastructure.settings import Settings

    minted = cli(database_url, "keys", "mint", "--role", "admin", "--label", "运维")
    key_id, secret = minted.stdout.split()[1], minted.stdout.split()[-1]
    assert cli(database_url, "keys", "mint", "--role", "rep", check=False).returncode == 2  # a rep key needs a rep
    with TestClient(create_app(Settings(database_url=database_url, admin_token=None))) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/auth/whoami", headers=headers).json()["actor"] == f"admin:key:{key_id}"
        cli(database_url, "keys", "revoke", key_id, "--reason", "rotated")
        assert client.get("/auth/whoami", headers=headers).status_code == 401


def test_cli_import_dry_run_import_and_again(database_url, tmp_path):
    (tmp_path / "reps.csv").write_text(
        "\ufeffexternal_id,name,level,team,region,manager_external_id,hired_on\r\n"
        "M1,经理,manager,华东一组,华东,,2024-01-01\r\nR1,代表,mid,华东一组,华东,M1,2024-02-01\r\n",
        encoding="utf-8",
    )
    (tmp_path / "deals.csv").write_text(
        "external_id,customer_external_id,owner_external_id,product_line,amount,opened_on,status,signed_on,gross_margin\n"
        "X1,C1,R1,ERP,100.00,2024-03-01,won,2024-04-01,30.00\n",
        encoding="utf-8",
    )
    (tmp_path / "customers.csv").write_text(
        "external_id,name,region,industry,owner_external_id\nC1,客户,华东,制造,R1\n", encoding="utf-8"
    )
    dry = cli(database_url, "import", str(tmp_path), "--dry-run")
    assert "nothing was written" in dry.stdout
    done = cli(database_url, "import", str(tmp_path))
    assert "wrote 5 events" in done.stdout and "caught up" in done.stdout
    again = cli(database_url, "import", str(tmp_path))
    assert "wrote 0 events" in again.stdout
    (tmp_path / "payments.csv").write_text(
        "deal_external_id,amount,received_on\nX9,5.00,2024-02-30\n", encoding="utf-8"
    )
    bad = cli(database_url, "import", str(tmp_path), check=False)
    assert bad.returncode == 1 and "payments.csv:2: deal_external_id" in bad.stdout
