"""The organisation's "today": the one place the application reads the wall clock for dates.

Domain code never reads the clock; use cases ask here and pass explicit dates down. Tests pin
the date with `set_today(date(2026, 3, 31))` and release it with `set_today(None)`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"
_pinned: date | None = None
_zone: str = DEFAULT_TIMEZONE


def configure(timezone: str) -> None:
    """Set the organisation's time zone (from settings, at start-up)."""
    global _zone
    ZoneInfo(timezone)  # unknown zones fail here, at start-up
    _zone = timezone


def set_today(day: date | None) -> None:
    """Pin today's date (tests); None follows the clock again."""
    global _pinned
    _pinned = day


def now() -> datetime:
    """The current moment (UTC-aware); when today is pinned, noon of that day in the organisation's zone."""
    if _pinned is not None:
        return datetime.combine(_pinned, datetime.min.time().replace(hour=12), tzinfo=ZoneInfo(_zone)).astimezone(UTC)
    return datetime.now(UTC)


def today(tz: str | None = None) -> date:
    """Today's date in the organisation's time zone (or `tz`)."""
    if _pinned is not None:
        return _pinned
    return datetime.now(ZoneInfo(tz or _zone)).date()
