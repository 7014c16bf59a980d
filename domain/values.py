"""Value objects and vocabularies shared by the aggregates."""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import cast

import pycountry

from domain.errors import InvalidInput

DEFAULT_CURRENCY = "CNY"  # the base currency unless SALESLEDGER_BASE_CURRENCY names another
EARLIEST, LATEST = date(1970, 1, 1), date(2100, 12, 31)  # business dates outside this range are typos
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1000000000000000")  # 10^15: far beyond any deal, well inside exact arithmetic
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Characters refused in every text field (as regex class ranges, shared with the API's field
# types): control characters (tabs and newlines are fine in notes), and invisible formatting
# that makes text display other than it reads: bidi embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), zero-width space, non-joiner and joiner (U+200B-U+200D) and
# the zero-width no-break space (U+FEFF).
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
INVISIBLE_CHARACTERS = r"\u200b-\u200d\u202a-\u202e\u2066-\u2069\ufeff"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
_INVISIBLE = re.compile(f"[{INVISIBLE_CHARACTERS}]")
# A decimal number as clients must write it: ASCII digits, an optional sign and fraction; no
# exponent, no digit separators, no other scripts' digits (Decimal() would take ٣ or ３).
DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"
_DECIMAL = re.compile(DECIMAL_PATTERN)


def decimal_number(value: object, field: str) -> Decimal:
    """The one parser of decimal input: a Decimal, an int, or text of ASCII digits with an
    optional sign and fraction. Floats (inexact), exponents and non-ASCII digits are refused."""
    if isinstance(value, (float, bool)):
        raise InvalidInput(f"{field} must be a decimal string, not a float", field=field)
    if isinstance(value, (Decimal, int)):
        number = Decimal(value)
    else:
        text = str(value).strip()
        if not _DECIMAL.match(text):
            raise InvalidInput(
                f'{field} must be a decimal number in ASCII digits, e.g. "1100.00"', field=field, value=str(value)
            )
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError):  # pragma: no cover -- the pattern admits only valid numbers
            raise InvalidInput(f"{field} is not a decimal number", field=field, value=str(value)) from None
    if not number.is_finite():
        raise InvalidInput(f"{field} must be a finite number", field=field, value=str(value))
    return number


def money(value: object, *, field: str = "amount", allow_zero: bool = False, allow_negative: bool = False) -> Decimal:
    """Parse an amount into a Decimal with exactly two places; refuse floats and sub-cent input."""
    amount = decimal_number(value, field)
    if abs(amount) >= MAX_AMOUNT:
        raise InvalidInput(f"{field} must be a finite amount below {MAX_AMOUNT:,}", field=field, value=str(value))
    if amount != amount.quantize(CENT):
        raise InvalidInput(f"{field} has more than two decimal places", field=field, value=str(value))
    if amount < 0 and not allow_negative:
        raise InvalidInput(f"{field} must not be negative", field=field, value=str(value))
    if amount == 0 and not allow_zero:
        raise InvalidInput(f"{field} must be greater than zero", field=field, value=str(value))
    return amount.quantize(CENT)


def sane_date(day: date, field: str) -> date:
    """Business dates must fall between 1970 and 2100."""
    if not EARLIEST <= day <= LATEST:
        raise InvalidInput(f"{field} must be between {EARLIEST} and {LATEST}", field=field, value=day.isoformat())
    return day


def round_money(value: Decimal) -> Decimal:
    """ROUND_HALF_UP to the cent: the one rounding rule for computed amounts."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


_BASE = [DEFAULT_CURRENCY]


def base_currency() -> str:
    """The currency pipeline, KPIs, leaderboards and receivables are reported in."""
    return _BASE[0]


def set_base_currency(code: str) -> None:
    """Set once at start-up from the settings (`SALESLEDGER_BASE_CURRENCY`); read models convert
    into it, so changing it later means rebuilding them."""
    _BASE[0] = currency(code, "base_currency")


def currency(value: str | None, field: str = "currency") -> str:
    """An ISO 4217 currency code (the base currency when absent); unknown codes are refused."""
    code = (value or base_currency()).strip().upper()
    if not _CURRENCY.match(code) or code not in _iso_4217():
        raise InvalidInput(f"{field} must be an ISO 4217 currency code", field=field, value=value)
    return code


@cache
def _iso_4217() -> frozenset[str]:
    return frozenset(c.alpha_3 for c in pycountry.currencies)


def required_text(value: object, field: str, *, max_length: int = 500) -> str:
    """A non-blank string, stripped; Chinese and other scripts are kept exactly."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field} is required", field=field)
    text = unicodedata.normalize("NFC", value.strip())  # one spelling for the same characters
    if _CONTROL.search(text):
        raise InvalidInput(f"{field} contains control characters", field=field)
    if _INVISIBLE.search(text):
        raise InvalidInput(f"{field} contains bidi-control or zero-width characters", field=field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return text


def optional_text(value: object, field: str, *, max_length: int = 2000) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return required_text(value, field, max_length=max_length)


class Choice(StrEnum):
    """A closed vocabulary whose parse errors are clear InvalidInput errors."""

    @classmethod
    def parse(cls, value: object, field: str) -> str:
        try:
            return cls(cast(str, value)).value  # any other value is not a member: ValueError below
        except ValueError:
            raise InvalidInput(
                f"{field} must be one of: {', '.join(m.value for m in cls)}",
                field=field,
                value=value,
            ) from None


class Level(Choice):
    """The levels of the sales organisation, lowest first: the one definition of level, their
    order (promotion goes up it) and their duties (层级销售)."""

    JUNIOR = "junior"
    MID = "mid"
    SENIOR = "senior"
    MANAGER = "manager"
    DIRECTOR = "director"

    @property
    def rank(self) -> int:
        """0 for junior up to 4 for director."""
        return list(Level).index(self)

    @property
    def duties(self) -> str:
        return LEVEL_DUTIES[self]


LEVEL_DUTIES: dict[str, str] = {
    Level.JUNIOR: "first contact and information gathering",
    Level.MID: "in-depth conversations and needs analysis",
    Level.SENIOR: "contract signing and key-account relationships",
    Level.MANAGER: "runs a team: coaching, approvals, team targets",
    Level.DIRECTOR: "runs the sales organisation and its regional centres",
}


def can_manage(level: str | None) -> bool:
    """Managers and directors lead others: only a rep at one of these levels may be someone's
    manager, hold a manager's key or approve for their reports."""
    return level in (Level.MANAGER, Level.DIRECTOR)


class Role(Choice):
    """What an API key may do: a rep or manager (bound to a rep of the org tree), finance, an
    auditor or an administrator."""

    REP = "rep"
    MANAGER = "manager"
    FINANCE = "finance"
    AUDITOR = "auditor"
    ADMIN = "admin"


SELLING_LEVELS = (Level.JUNIOR.value, Level.MID.value, Level.SENIOR.value)  # ranked on leaderboards by default


class Grade(Choice):
    A = "A"
    B = "B"
    C = "C"


class VisitKind(Choice):
    VISIT = "visit"
    REVISIT = "revisit"
    CALL = "call"


class Metric(Choice):
    """What targets, KPIs and leaderboards measure."""

    REVENUE = "revenue"
    GROSS_MARGIN = "gross_margin"
    CONTRACTS_SIGNED = "contracts_signed"
    LEADS_CONTACTED = "leads_contacted"
    VISITS = "visits"
    COLLECTIONS = "collections"
    NEW_CUSTOMERS = "new_customers"


MONEY_METRICS = frozenset({"revenue", "gross_margin", "collections"})


class LeadSource(Choice):
    TRADE_SHOW = "trade_show"
    ONLINE = "online"
    REFERRAL = "referral"
    PARTNER = "partner"
    COLD_CALL = "cold_call"
    OTHER = "other"


class Stage(Choice):
    """Open stages of a deal, in funnel order; won and lost are outcomes, not stages."""

    INITIAL_CONTACT = "initial_contact"
    NEEDS_ANALYSIS = "needs_analysis"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"


OPEN_STAGES: tuple[str, ...] = tuple(s.value for s in Stage)

DEFAULT_STAGE_PROBABILITIES: dict[str, Decimal] = {
    Stage.INITIAL_CONTACT: Decimal("0.10"),
    Stage.NEEDS_ANALYSIS: Decimal("0.25"),
    Stage.PROPOSAL: Decimal("0.50"),
    Stage.NEGOTIATION: Decimal("0.75"),
}


_PERIOD = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


@dataclass(frozen=True, order=True)
class Period:
    """A business period: a month (2026-11), a quarter (2026-Q4) or a year (2026)."""

    start: date
    end: date  # inclusive
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        match = _PERIOD.match(text or "")
        if not match:
            raise InvalidInput("period must look like YYYY-MM, YYYY-Qn or YYYY", field="period", value=text)
        year = int(match.group(1))
        if not EARLIEST.year <= year <= LATEST.year:
            raise InvalidInput(f"period must be between {EARLIEST.year} and {LATEST.year}", field="period", value=text)
        if match.group(2):
            month = int(match.group(2))
            return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), text)
        if match.group(3):
            quarter = int(match.group(3))
            first, last = 3 * quarter - 2, 3 * quarter
            return cls(date(year, first, 1), date(year, last, calendar.monthrange(year, last)[1]), text)
        return cls(date(year, 1, 1), date(year, 12, 31), text)

    @classmethod
    def month_of(cls, day: date) -> Period:
        return cls.parse(f"{day.year:04d}-{day.month:02d}")

    @staticmethod
    def labels_of(day: date) -> tuple[str, str, str]:
        """The labels of the month, the quarter and the year `day` falls in."""
        return f"{day.year:04d}-{day.month:02d}", f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}", f"{day.year:04d}"

    @property
    def kind(self) -> str:
        return "quarter" if "Q" in self.label else ("month" if "-" in self.label else "year")

    def previous(self) -> Period:
        if self.kind == "year":
            return Period.parse(f"{self.start.year - 1}")
        if self.kind == "quarter":
            q = (self.start.month - 1) // 3 + 1
            return Period.parse(f"{self.start.year - 1}-Q4" if q == 1 else f"{self.start.year}-Q{q - 1}")
        day = self.start - timedelta(days=1)
        return Period.month_of(day)

    def enclosing(self) -> list[Period]:
        """The larger periods this one sits in, nearest first (a month: its quarter, then its year)."""
        quarter = Period.parse(f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}")
        year = Period.parse(f"{self.start.year}")
        return {"month": [quarter, year], "quarter": [year], "year": []}[self.kind]

    def months(self) -> int:
        return {"month": 1, "quarter": 3, "year": 12}[self.kind]

    def working_days(self) -> int:
        """Monday to Friday in the period (no holiday calendar)."""
        days = (self.end - self.start).days + 1
        return sum(1 for i in range(days) if (self.start + timedelta(days=i)).weekday() < 5)

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    def __str__(self) -> str:
        return self.label
