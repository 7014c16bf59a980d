"""Personal data (names of people, phone numbers, email and WeChat ids, notes about them).

Such values travel as `Personal`: the store encrypts each with its data subject's key, and
forgetting the subject destroys the key — history still replays, every total stays the same,
and the value reads back as "[erased]" everywhere."""

from __future__ import annotations

from dataclasses import dataclass

ERASED = "[erased]"


@dataclass(frozen=True)
class Personal:
    subject: str  # whose data this is: the lead or the customer record it belongs to
    text: str | None  # None once the subject has been forgotten

    def __str__(self) -> str:
        return ERASED if self.text is None else self.text


def personal(subject: str, value: object) -> Personal | None:
    """Wrap a (validated) text as the subject's personal data; None stays None."""
    if value is None:
        return None
    return Personal(subject, value.text if isinstance(value, Personal) else str(value))


def plain(value: object) -> str | None:
    """The readable text, or None when it is absent or erased (for matching and indexing)."""
    if isinstance(value, Personal):
        return value.text
    return None if value is None else str(value)
