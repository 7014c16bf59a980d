"""No copy of a destroyed key stays behind in the database's own storage: on SQLite neither the
database file nor its write-ahead log holds it after the forget; on PostgreSQL the key table's
pages hold it (dead row versions) until `salesledger vacuum-keys`, and not after."""

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg

from domain.base import Meta
from domain.lead import Lead
from infrastructure.runtime import Runtime

META = Meta(actor="test", correlation_id="c-remnants", causation_id="r-remnants")


def sqlite_files(database_url) -> bytes:
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())


def postgres_key_pages(database_url) -> bytes:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        pages = conn.execute("SELECT pg_relation_size('subject_keys') / current_setting('block_size')::int").fetchone()
        return b"".join(
            bytes(conn.execute("SELECT get_raw_page('subject_keys', %s)", (n,)).fetchone()[0]) for n in range(pages[0])
        )


def stored(database_url) -> bytes:
    return sqlite_files(database_url) if database_url.startswith("sqlite") else postgres_key_pages(database_url)


def test_a_destroyed_key_leaves_no_copy_in_the_database_files(database_url):
    runtime = Runtime(database_url).start()
    try:
        leads = [
            runtime.ledger.leads.capture_lead(
                META,
                company=f"残留{i}",
                source="online",
                region="华东",
                industry="retail",
                captured_on=date(2026, 11, 1),
                phone=f"1390000000{i}",
            ).id
            for i in range(3)
        ]
        keys = {lead: runtime.vault.key(lead, create=False) for lead in leads}
        assert all(key in stored(database_url) for key in keys.values())  # the scan does see keys

        runtime.ledger.privacy.forget(META, Lead, leads[0], reason="remnants")
        kept = stored(database_url)
        if runtime.db.kind == "sqlite":  # zeroed in place, and the log checkpointed and truncated
            assert keys[leads[0]] not in kept
        else:  # the old row version is still in the table's pages until a VACUUM
            assert keys[leads[0]] in kept
    finally:
        runtime.close()

    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "vacuum-keys"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "vacuumed" in done.stdout
    after = stored(database_url)
    assert keys[leads[0]] not in after
    assert keys[leads[1]] in after and keys[leads[2]] in after  # the others' keys are untouched
