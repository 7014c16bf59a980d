"""Forgetting a record's personal data by destroying its key (crypto-shredding)."""

from __future__ import annotations

from typing import TypeVar

from application.base import UseCases, Written
from domain.base import Meta
from domain.customer import Customer
from domain.errors import Conflict
from domain.lead import Lead

T = TypeVar("T", bound=Lead | Customer)  # the records holding personal data


class Privacy(UseCases):
    """Forgetting a record's personal data by destroying its key (crypto-shredding)."""

    def forget(self, meta: Meta, cls: type[T], agg_id: str, *, reason: str) -> Written:
        """Record that a lead or customer record's personal data is forgotten and destroy its key,
        in one transaction: the data is unreadable everywhere from then on, and history still
        replays. A crash leaves either both done or neither."""
        if self.store.personal_data is None:
            raise Conflict("this store keeps no personal-data keys", code="no_key_vault")
        agg = self.load(cls, agg_id)
        if getattr(agg, "forgotten", False):
            raise Conflict("already forgotten", code="already_forgotten")
        agg.forget(reason=reason)
        subject = str(agg.id)
        position = self.store.record(meta, agg, forget=[subject])
        self.store.personal_data.forgotten(subject)  # drop cached copies, scrub the files
        return Written(id=subject, version=agg.version, position=position)
