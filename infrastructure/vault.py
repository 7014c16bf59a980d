"""The key vault for personal data: one AES-GCM key per data subject, kept apart from the
event store. Destroying a subject's key is how the system forgets them (crypto-shredding)."""

from __future__ import annotations

import base64
import os
import threading
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import Transcoding

from domain.personal import Personal
from infrastructure.database import Database, DatabaseURL

SCHEMA = """CREATE TABLE IF NOT EXISTS subject_keys (
    subject TEXT PRIMARY KEY,
    key_bytes BYTEA,
    forgotten INTEGER NOT NULL
)"""
CACHE_SECONDS = 1.0  # another process's forget takes effect here within this long


class Vault:
    def __init__(self, url: str | DatabaseURL) -> None:
        self.db = Database(url)  # its own connections: keys are read while other transactions are open
        with self.db.transaction() as tx:
            tx.execute(SCHEMA.replace("BYTEA", "BLOB") if tx.kind == "sqlite" else SCHEMA)
        self._cache: dict[str, tuple[float, bytes | None]] = {}
        self._lock = threading.Lock()

    def key(self, subject: str, *, create: bool) -> bytes | None:
        """The subject's key; a new one when asked to create; None once forgotten."""
        with self._lock:
            hit = self._cache.get(subject)
        if hit and time.monotonic() - hit[0] < CACHE_SECONDS and (hit[1] is not None or not create):
            return hit[1]
        with self.db.transaction(write=create) as tx:
            if create:
                tx.execute(
                    "INSERT INTO subject_keys (subject, key_bytes, forgotten) VALUES (?, ?, 0) "
                    "ON CONFLICT (subject) DO NOTHING",
                    (subject, AESGCM.generate_key(bit_length=256)),
                )
            row = tx.one("SELECT key_bytes FROM subject_keys WHERE subject = ?", (subject,))
        key = None if row is None or row[0] is None else bytes(row[0])
        with self._lock:
            self._cache[subject] = (time.monotonic(), key)
        return key

    def forget(self, subject: str) -> None:
        """Destroy the subject's key for good (a forgotten subject never gets a new one)."""
        with self.db.transaction() as tx:
            tx.execute(
                "INSERT INTO subject_keys (subject, key_bytes, forgotten) VALUES (?, NULL, 1) "
                "ON CONFLICT (subject) DO UPDATE SET key_bytes = NULL, forgotten = 1",
                (subject,),
            )
        with self._lock:
            self._cache[subject] = (time.monotonic(), None)

    def close(self) -> None:
        self.db.close()


class PersonalAsCiphertext(Transcoding):
    """Stores a Personal value as {subject, nonce, ciphertext}; reads it back as text, or as
    erased when the subject's key is gone."""

    type = Personal
    name = "personal_aesgcm"

    def __init__(self, vault: Vault) -> None:
        self.vault = vault

    def forget(self, subject: str) -> None:
        self.vault.forget(subject)

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

    def decode(self, data: dict) -> Personal:
        key = self.vault.key(data["subject"], create=False) if data.get("ciphertext") else None
        if key is None:
            return Personal(data["subject"], None)
        text = AESGCM(key).decrypt(
            base64.b64decode(data["nonce"]), base64.b64decode(data["ciphertext"]), data["subject"].encode("utf-8")
        )
        return Personal(data["subject"], text.decode("utf-8"))
