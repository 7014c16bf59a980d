"""Forgetting is one transaction: the Forgotten event and the destruction of the subject's key
commit together. A process killed right after the commit leaves the key destroyed; a failure
inside the transaction leaves neither the event nor the destruction."""

import os
import subprocess
import sys
import textwrap
from datetime import date

import pytest

from domain.base import Meta
from domain.lead import Lead
from domain.personal import ERASED
from infrastructure import vault as vault_module
from infrastructure.runtime import Runtime

pytestmark = pytest.mark.faults

META = Meta(actor="test", correlation_id="c-forget", causation_id="r-forget")
PHONE = "13912345678"


def capture(runtime) -> str:
    return runtime.ledger.leads.capture_lead(
        META,
        company="遗忘科技",
        source="trade_show",
        region="华东",
        industry="retail",
        captured_on=date(2026, 11, 1),
        phone=PHONE,
    ).id


def forgotten_events(runtime, lead_id):
    return [r.type for r in runtime.source.read(0, 10**6) if r.aggregate_id == lead_id and r.type == "LeadForgotten"]


def key_row(runtime, lead_id):
    with runtime.vault.db.read() as tx:
        return tx.one("SELECT key_bytes, forgotten FROM subject_keys WHERE subject = ?", (lead_id,))


def test_a_process_killed_right_after_the_forget_commits_leaves_the_key_destroyed(database_url):
    """The worst moment for a two-step forget: the event is recorded and the process dies before
    anything else runs. A real process, killed with os._exit."""
    runtime = Runtime(database_url).start()
    try:
        lead_id = capture(runtime)
        assert runtime.vault.key(lead_id, create=False) is not None
    finally:
        runtime.close()
    script = textwrap.dedent(
        f"""
        import os
        from domain.base import Meta
        from domain.lead import Lead
        from infrastructure.runtime import Runtime
        from infrastructure.vault import Vault

        Vault.forgotten = lambda self, subject: os._exit(17)  # die the moment the forget is recorded
        rt = Runtime({database_url!r}).start()
        rt.ledger.privacy.forget(Meta("test", "c", "r"), Lead, {lead_id!r}, reason="crash test")
        os._exit(0)  # not reached
        """
    )
    died = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd(), timeout=120, capture_output=True)
    assert died.returncode == 17, died.stderr.decode()[-2000:]

    restarted = Runtime(database_url).start()
    try:
        assert forgotten_events(restarted, lead_id) == ["LeadForgotten"]
        assert restarted.vault.key(lead_id, create=False) is None
        assert key_row(restarted, lead_id) == (None, 1)
        lead = restarted.ledger.store.load(Lead, lead_id)
        assert str(lead.contact["phone"]) == ERASED
    finally:
        restarted.close()


def test_a_failure_inside_the_forget_transaction_leaves_neither_the_event_nor_the_destruction(
    database_url, monkeypatch
):
    runtime = Runtime(database_url).start()
    try:
        lead_id = capture(runtime)
        key = runtime.vault.key(lead_id, create=False)

        def broken(execute, kind, subject):
            raise RuntimeError("the vault failed mid-transaction")

        monkeypatch.setattr(vault_module, "destroy_key", broken)
        with pytest.raises(RuntimeError):
            runtime.ledger.privacy.forget(META, Lead, lead_id, reason="will fail")
        assert forgotten_events(runtime, lead_id) == []
        assert bytes(key_row(runtime, lead_id)[0]) == key
        assert str(runtime.ledger.store.load(Lead, lead_id).contact["phone"]) == PHONE

        monkeypatch.undo()
        runtime.ledger.privacy.forget(META, Lead, lead_id, reason="now it works")
        assert forgotten_events(runtime, lead_id) == ["LeadForgotten"]
        assert key_row(runtime, lead_id) == (None, 1)
        assert str(runtime.ledger.store.load(Lead, lead_id).contact["phone"]) == ERASED
    finally:
        runtime.close()
