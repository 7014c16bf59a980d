"""API keys: minted (only their digest recorded), revoked, and looked up by secret."""

from __future__ import annotations

import secrets
from typing import TypeVar

from eventsourcing.application import AggregateNotFoundError

from application import clock
from application.base import UseCases, Written
from domain.access import SECRET_PREFIX, AccessKey, key_id_for
from domain.base import Entity, Meta
from domain.errors import Conflict
from domain.rep import Rep
from domain.values import Role, can_manage

T = TypeVar("T", bound=Entity)


class AccessKeys(UseCases):
    """API keys: minted (only their digest recorded), revoked, and looked up by secret."""

    def mint_key(self, meta: Meta, *, role: str, label: str | None = None, rep_id: str | None = None) -> Written:
        """A new API key. The answer carries the secret (`key`): it is shown this once and only
        its digest is recorded."""
        if rep_id is not None:
            rep = self._active_rep(rep_id, "rep_id")
            rep_id = str(rep.id)
            if Role.parse(role, "role") == Role.MANAGER and not can_manage(rep.level):
                raise Conflict(
                    "a manager key belongs to a manager or director",
                    code="not_a_manager",
                    rep_id=rep_id,
                    level=rep.level,
                )
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = AccessKey.mint(secret, role=role, rep_id=rep_id, label=label)
        return self._written(
            meta, key, key=secret, key_id=str(key.id), role=key.role, rep_id=key.rep_id, label=key.label
        )

    def revoke_key(self, meta: Meta, key_id: str, *, reason: str) -> Written:
        return self._change(meta, AccessKey, key_id, None, lambda k: k.revoke(reason))

    def key_for(self, secret: str) -> AccessKey | None:
        """The live key holding this secret, or None: unknown, revoked, or its rep has left by the
        organisation's today (a leave recorded ahead of its date stops the key on that date)."""
        try:
            key: object = self.store.repository.get(key_id_for(secret))
        except AggregateNotFoundError:
            return None
        if not isinstance(key, AccessKey) or key.revoked:
            return None
        if key.rep_id and self.load(Rep, key.rep_id).has_left(clock.today()):
            return None
        return key
