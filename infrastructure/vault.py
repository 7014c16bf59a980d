"""The key vault for personal data: one AES-GCM key per data subject, kept apart from the
event store. Destroying a subject's key is how the system forgets them (crypto-shredding).

A key is destroyed in the same transaction as the event that records the forgetting (the
event store's recorder calls `destroy_key`; see infrastructure/persistence.py): first
overwritten with zeros, then dropped, its row kept as a tombstone so that the subject never
gets a new key. On SQLite the vault's connections use `secure_delete` and the write-ahead log is
checkpointed and truncated after a forget, so no copy of the key stays in the database files;
on PostgreSQL the old row versions stay in the table's dead tuples until a VACUUM
(`salesledger vacuum-keys`). See the README's "Personal data" section for what remains."""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from domain.personal import Personal
from infrastructure.database import VAULT_POOL_SIZE, Database, DatabaseURL

SCHEMA = """CREATE TABLE IF NOT EXISTS subject_keys (
    subject TEXT PRIMARY KEY,
    key_bytes BYTEA,
    forgotten INTEGER NOT NULL
)"""
CACHE_SECONDS = 1.0  # another process's forget takes effect here within this long
KEY_BYTES = 32

log = logging.getLogger("salesledger.vault")


def destroy_key(execute: Callable[[str, tuple], Any], kind: str, subject: str) -> None:
    """Destroy the subject's key for good, inside the caller's transaction (`execute` runs SQL on
    its cursor): overwrite the key bytes, then drop them, keeping the row as a tombstone."""
    mark = "?" if kind == "sqlite" else "%s"
    execute(
        f"UPDATE subject_keys SET key_bytes = {mark} WHERE subject = {mark} AND key_bytes IS NOT NULL",
        (bytes(KEY_BYTES), subject),
    )
    execute(
        f"INSERT INTO subject_keys (subject, key_bytes, forgotten) VALUES ({mark}, NULL, 1) "
        "ON CONFLICT (subject) DO UPDATE SET key_bytes = NULL, forgotten = 1",
        (subject,),
    )


class Vault:
    def __init__(self, url: str | DatabaseURL) -> None:
        # Its own connections (keys are read while other transactions are open); on SQLite they
        # zero what they delete or overwrite instead of leaving it in free pages.
        self.db = Database(url, secure_delete=True, pool_size=VAULT_POOL_SIZE)
        with self.db.transaction() as tx:
            tx.execute(SCHEMA.replace("BYTEA", "BLOB") if tx.kind == "sqlite" else SCHEMA)
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._forgotten: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def key(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key; a new one when asked to create; None once forgotten."""
        with self._lock:
            hit = self._cache.get(subject)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS and (hit[1] is not None or not create):
            return hit[1]
        with self.db.statements(write=create) as tx:  # PostgreSQL: the insert commits by itself
            row = None
            if create:  # a new subject's key comes back from the insert itself
                row = tx.one(
                    "INSERT INTO subject_keys (subject, key_bytes, forgotten) VALUES (?, ?, 0) "
                    "ON CONFLICT (subject) DO NOTHING RETURNING key_bytes",
                    (subject, AESGCM.generate_key(bit_length=256)),
                )
            if row is None:  # known (or forgotten) already
                row = tx.one("SELECT key_bytes FROM subject_keys WHERE subject = ?", (subject,))
        key = None if row is None or row[0] is None else bytes(row[0])
        with self._lock:
            self._cache[subject] = (time.monotonic(), key)
        return key

    def prefetch(self, subjects: Iterable[str]) -> None:
        """Read the keys of many subjects in a few queries into the cache (as `key` would one by
        one): a replay decodes thousands of events whose subjects each appear once or twice."""
        now = time.monotonic()
        with self._lock:
            wanted = sorted(
                {s for s in subjects if (hit := self._cache.get(s)) is None or now - hit[0] >= CACHE_SECONDS}
            )
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            with self.db.read() as tx:
                rows = tx.all(
                    f"SELECT subject, key_bytes FROM subject_keys WHERE subject IN ({', '.join('?' * len(part))})", part
                )
            found = {subject: None if key is None else bytes(key) for subject, key in rows}
            read_at = time.monotonic()  # as `key` stamps what it reads
            with self._lock:
                for subject in part:
                    self._cache[subject] = (read_at, found.get(subject))

    def is_forgotten(self, subject: str) -> bool:
        """Whether the subject was forgotten (its key destroyed), as of at most CACHE_SECONDS ago."""
        now = time.monotonic()
        with self._lock:
            hit = self._forgotten.get(subject)
        if hit and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self.db.read() as tx:
            forgotten = bool(tx.value("SELECT forgotten FROM subject_keys WHERE subject = ?", (subject,)))
        with self._lock:
            self._forgotten[subject] = (now, forgotten)
        return forgotten

    def forgotten(self, subject: str) -> None:
        """The subject's key was destroyed (by the transaction that recorded the forgetting): stop
        using any cached copy, and scrub what the database files may still hold of it."""
        with self._lock:
            self._cache[subject] = (time.monotonic(), None)
            self._forgotten[subject] = (time.monotonic(), True)
        try:
            self.scrub()
        except Exception:  # the key is gone already; what is left waits for the next checkpoint
            log.warning("could not checkpoint the database after forgetting %s", subject, exc_info=True)

    def scrub(self) -> bool:
        """SQLite: copy the write-ahead log into the database and truncate it, so the pages that
        held a destroyed key (overwritten and zeroed there) leave no older copy in the log.
        Answers whether the whole log was checkpointed (readers still on an old snapshot can
        hold part of it back; the next checkpoint completes it). PostgreSQL: nothing to do here
        (see `vacuum`)."""
        if self.db.kind != "sqlite":
            return True
        with self.db.outside_transaction() as conn:
            conn.execute("PRAGMA busy_timeout=2000")
            try:
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                conn.execute(f"PRAGMA busy_timeout={int(self.db.url.lock_timeout * 1000)}")
        if busy:
            log.warning("write-ahead log still in use: checkpoint after forgetting is partial")
        return not busy

    def vacuum(self) -> None:
        """PostgreSQL: rewrite the key table, leaving no dead row versions (which may hold
        destroyed keys) in it; takes an exclusive lock on the table for the rewrite. SQLite: the
        same effect as `scrub`, plus a VACUUM of the whole file."""
        with self.db.outside_transaction() as conn:
            conn.execute("VACUUM" if self.db.kind == "sqlite" else "VACUUM (FULL, ANALYZE) subject_keys")
        self.scrub()

    def close(self) -> None:
        self.db.close()


class PersonalAsCiphertext(Transcoding):
    """Stores a Personal value as {subject, nonce, ciphertext}; reads it back as text, or as
    erased when the subject's key is gone."""

    type = Personal
    name = "personal_aesgcm"

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def forgotten(self, subject: str) -> None:
        self.vault.forgotten(subject)

    def is_forgotten(self, subject: str) -> bool:
        return self.vault.is_forgotten(subject)

    def encode(self, obj: Personal) -> dict:
        key = self.vault.key(obj.subject, create=True)
        if key is None or obj.text is None:
            return {"subject": obj.subject, "nonce": None, "ciphertext": None}
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, obj.text.encode("utf-8"), obj.subject.encode("utf-8"))
        return {
            "subject": obj.subject,
            "nonce": base64.b64encode(nonce).decode(),
            "ciphertext": base64.b64encode(sealed).decode(),
        }

    # how an encoded value starts in a stored event: the subjects of a batch can be read off it
    SUBJECTS = re.compile(rb'"_type_":"personal_aesgcm","_data_":\{"subject":"([^"\\]*)"')

    def prefetch(self, states: Iterable[bytes]) -> None:
        """Fetch the keys of the subjects in these stored events' states, together."""
        self.vault.prefetch(m.decode() for state in states for m in self.SUBJECTS.findall(state))

    def decode(self, data: dict) -> Personal:
        key = self.vault.key(data["subject"], create=False) if data.get("ciphertext") else None
        if key is None:
            return Personal(data["subject"], None)
        text = AESGCM(key).decrypt(
            base64.b64decode(data["nonce"]), base64.b64decode(data["ciphertext"]), data["subject"].encode("utf-8")
        )
        return Personal(data["subject"], text.decode("utf-8"))
