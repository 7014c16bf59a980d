"""Personal data (names of people, phone numbers, email and WeChat ids, notes about them, and
free text written about a lead or a customer: contact, visit and qualification notes, feedback
comments).

Such values travel as `Personal`: the store encrypts each with its data subject's key, and
forgetting the subject destroys the key — history still replays, every total stays the same,
and the value reads back as "[erased]" everywhere.

Events recorded before a field counted as personal hold its text in clear; their upcasters turn
it into a `Personal` marked `in_clear`, which reads as erased once its subject is forgotten
(the text itself stays in those old stored events)."""

from __future__ import annotations

from dataclasses import dataclass, field

ERASED = "[erased]"


@dataclass(frozen=True)
class Personal:
    subject: str  # whose data this is: the lead or the customer record it belongs to
    text: str | None  # None once the subject has been forgotten
    in_clear: bool = field(default=False, compare=False)  # read from an event that stored it in clear

    def __str__(self) -> str:
        return ERASED if self.text is None else self.text


def personal(subject: str, value: object) -> Personal | None:
    """Wrap a (validated) text as the subject's personal data; None stays None."""
    if value is None:
        return None
    return Personal(subject, value.text if isinstance(value, Personal) else str(value))


def from_clear(subject: object, value: object) -> Personal | None:
    """Upcast a field an older event stored in clear: the same text, now the subject's personal
    data (an encrypted value is kept as it is); None stays None."""
    if value is None or isinstance(value, Personal):
        return value
    return Personal(str(subject), str(value), in_clear=True)


def plain(value: object) -> str | None:
    """The readable text, or None when it is absent or erased (for matching and indexing)."""
    if isinstance(value, Personal):
        return value.text
    return None if value is None else str(value)
