"""API keys: who may call, in which role and, for reps and managers, as which rep.

A key's secret is shown once when it is minted; the store keeps only its SHA-256 digest, and
the key's aggregate id is derived from that digest, so a presented secret is found directly
(no index, no table of secrets). Revoking is an event like any other.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity
from domain.errors import Conflict, InvalidInput
from domain.values import Role, optional_text, required_text

ROLES_FOR_A_REP = frozenset({Role.REP.value, Role.MANAGER.value})  # keys bound to a rep of the org tree
SECRET_PREFIX = "slk_"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_for(secret: str) -> UUID:
    """The id of the key holding `secret` (derived from its digest, never from the secret alone)."""
    return uuid5(NAMESPACE_URL, f"salesledger:access-key:{secret_digest(secret)}")


class AccessKey(Entity):
    @event("Minted")
    def __init__(self, id: UUID, role: str, rep_id: str | None, label: str, digest: str) -> None:
        self.role = role
        self.rep_id = rep_id
        self.label = label
        self.digest = digest
        self.revoked = False
        self.revoke_reason: str | None = None

    @classmethod
    def mint(cls, secret: str, *, role: object, rep_id: str | None, label: object) -> AccessKey:
        role = Role.parse(role, "role")
        if role in ROLES_FOR_A_REP and not rep_id:
            raise InvalidInput(f"a {role} key needs rep_id", field="rep_id")
        if role not in ROLES_FOR_A_REP and rep_id:
            raise InvalidInput(f"a {role} key is not bound to a rep: leave rep_id out", field="rep_id")
        if not secret.startswith(SECRET_PREFIX) or len(secret) < 36:
            raise InvalidInput("a key secret must be long and random", field="key")
        return cls(
            id=key_id_for(secret),
            role=role,
            rep_id=rep_id,
            label=optional_text(label, "label", max_length=200) or "",
            digest=secret_digest(secret),
        )

    def revoke(self, reason: object) -> None:
        if self.revoked:
            raise Conflict("this key is already revoked", code="already_revoked", key_id=str(self.id))
        self._revoked(reason=required_text(reason, "reason"))

    @event("Revoked")
    def _revoked(self, reason: str) -> None:
        self.revoked = True
        self.revoke_reason = reason

    def as_dict(self) -> dict[str, Any]:
        view = super().as_dict()
        view.pop("digest")
        return view
