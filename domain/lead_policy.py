"""How leads are scored, graded, assigned and followed up: versioned configuration, plus the
pure calculations that use it. Every lead event records the policy version it applied."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from domain.base import Entity
from domain.errors import InvalidInput
from domain.settings import overlay
from domain.values import Grade, LeadSource, Level, required_text

POLICY_ID: UUID = uuid5(NAMESPACE_URL, "salesledger:lead-policy")
FACTORS = ("need_match", "purchasing_power", "decision_complexity")
BREACH_ACTIONS = ("record", "pool", "reassign")

DEFAULT_POLICY: dict[str, Any] = {
    "scoring": {
        "weights": {"need_match": "0.40", "purchasing_power": "0.35", "decision_complexity": "0.25"},
        "source_weights": {
            "referral": "1.20",
            "partner": "1.10",
            "trade_show": "1.00",
            "online": "0.90",
            "cold_call": "0.80",
            "other": "0.80",
        },
        "cutoffs": {"A": "75", "B": "50"},
    },
    "grade_levels": {"A": "senior", "B": "mid", "C": "junior"},
    "rules": [],
    "capacity": {"junior": 30, "mid": 25, "senior": 20, "manager": 10, "director": 5},
    "sla": {"first_response_hours": {"A": 4, "B": 24, "C": 48}, "follow_up_days": 7, "on_breach": "pool"},
    "pool": {"cooldown_days": 14},
    "disqualify_reasons": [
        "no_budget",
        "no_need",
        "unreachable",
        "competitor_locked",
        "not_decision_maker",
        "invalid_contact",
    ],
}


def _decimal(value: Any, field: str, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"{field} must be a decimal", field=field) from None
    if isinstance(value, float) or not number.is_finite() or not low <= number <= high:
        raise InvalidInput(f"{field} must be a decimal string between {low} and {high}", field=field)
    return number


def _whole(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{field} must be a whole number between {low} and {high}", field=field)
    return value


def validate_policy(settings: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Lay `settings` over `base` (default: the built-in policy), check everything and answer
    the whole policy normalised (decimals as strings)."""
    try:
        return _validate(overlay(base or DEFAULT_POLICY, settings))
    except (KeyError, TypeError, AttributeError) as e:
        raise InvalidInput(f"malformed policy: {e}", field="policy") from None


def _validate(merged: dict[str, Any]) -> dict[str, Any]:
    scoring = merged["scoring"]
    weights = {f: str(_decimal(scoring["weights"][f], f"scoring.weights.{f}", Decimal(0), Decimal(1))) for f in FACTORS}
    if sum(Decimal(w) for w in weights.values()) != 1:
        raise InvalidInput("scoring weights must total exactly 1", field="scoring.weights")
    source_weights = {
        s.value: str(
            _decimal(
                scoring["source_weights"].get(s.value, "1"), f"scoring.source_weights.{s.value}", Decimal(0), Decimal(5)
            )
        )
        for s in LeadSource
    }
    cut_a = _decimal(scoring["cutoffs"]["A"], "scoring.cutoffs.A", Decimal(0), Decimal(100))
    cut_b = _decimal(scoring["cutoffs"]["B"], "scoring.cutoffs.B", Decimal(0), Decimal(100))
    if cut_b >= cut_a:
        raise InvalidInput("cutoff B must be below cutoff A", field="scoring.cutoffs")
    grade_levels = {g.value: Level.parse(merged["grade_levels"].get(g.value), f"grade_levels.{g.value}") for g in Grade}
    rules = []
    for i, rule in enumerate(merged["rules"] or []):
        if not isinstance(rule, dict):
            raise InvalidInput("each rule must be an object", field=f"rules[{i}]")
        known = {"name", "region", "industry", "size_band", "product_line", "team", "rep_region"}
        if set(rule) - known:
            raise InvalidInput(f"unknown rule fields: {sorted(set(rule) - known)}", field=f"rules[{i}]")
        rules.append(
            {
                "name": required_text(rule.get("name"), f"rules[{i}].name", max_length=100),
                **{
                    k: (str(rule[k]).strip() or None) if rule.get(k) is not None else None
                    for k in sorted(known - {"name"})
                },
            }
        )
    capacity = {
        lv.value: _whole(merged["capacity"].get(lv.value, 0), f"capacity.{lv.value}", 0, 100000) for lv in Level
    }
    sla = merged["sla"]
    first = {
        g.value: _whole(sla["first_response_hours"].get(g.value), f"sla.first_response_hours.{g.value}", 1, 24 * 90)
        for g in Grade
    }
    on_breach = sla.get("on_breach", "pool")
    if on_breach not in BREACH_ACTIONS:
        raise InvalidInput(f"sla.on_breach must be one of {', '.join(BREACH_ACTIONS)}", field="sla.on_breach")
    reasons = merged["disqualify_reasons"]
    if not isinstance(reasons, list) or not reasons:
        raise InvalidInput("disqualify_reasons must be a non-empty list", field="disqualify_reasons")
    return {
        "scoring": {
            "weights": weights,
            "source_weights": source_weights,
            "cutoffs": {"A": str(cut_a), "B": str(cut_b)},
        },
        "grade_levels": grade_levels,
        "rules": rules,
        "capacity": capacity,
        "sla": {
            "first_response_hours": first,
            "follow_up_days": _whole(sla.get("follow_up_days"), "sla.follow_up_days", 1, 365),
            "on_breach": on_breach,
        },
        "pool": {"cooldown_days": _whole(merged["pool"].get("cooldown_days"), "pool.cooldown_days", 0, 365)},
        "disqualify_reasons": [required_text(r, "disqualify_reasons", max_length=100) for r in reasons],
    }


class LeadPolicy(Entity):
    """The single, versioned lead policy. Version 0 (never configured) is DEFAULT_POLICY."""

    @event("Configured")
    def __init__(self, id: UUID, settings: dict[str, Any], scoring_version: int, reason: str) -> None:
        self.settings = settings
        self.scoring_version = scoring_version
        self.reason = reason

    @classmethod
    def configure_first(cls, settings: Any, reason: str) -> LeadPolicy:
        """The first configuration: `settings` laid over the built-in defaults."""
        settings = validate_policy(settings)
        default = validate_policy(DEFAULT_POLICY)
        return cls(
            id=POLICY_ID,
            settings=settings,
            scoring_version=1 if settings["scoring"] == default["scoring"] else 2,
            reason=required_text(reason, "reason"),
        )

    def configure(self, settings: Any, reason: str) -> None:
        """A new version: `settings` laid over the policy in force."""
        settings = validate_policy(settings, base=self.settings)
        scoring_version = self.scoring_version + (settings["scoring"] != self.settings["scoring"])
        self._reconfigured(settings=settings, scoring_version=scoring_version, reason=required_text(reason, "reason"))

    @event("Reconfigured")
    def _reconfigured(self, settings: dict[str, Any], scoring_version: int, reason: str) -> None:
        self.settings = settings
        self.scoring_version = scoring_version
        self.reason = reason

    def view(self) -> PolicyView:
        return PolicyView(self.version, self.scoring_version, self.settings)


@dataclass(frozen=True)
class PolicyView:
    """The policy in force: version 0 is the built-in default, never configured."""

    version: int
    scoring_version: int
    settings: dict[str, Any]

    @classmethod
    def default(cls) -> PolicyView:
        return cls(0, 1, validate_policy(DEFAULT_POLICY))

    @property
    def label(self) -> str:
        return f"policy-v{self.version}"

    @property
    def model_version(self) -> str:
        return f"scoring-v{self.scoring_version}"


# -- calculations ------------------------------------------------------------------------------
HUNDRED = Decimal(100)


def score(settings: dict[str, Any], source: str, inputs: dict[str, int]) -> tuple[Decimal, str]:
    """0–100: weighted factors (decision complexity inverted: a simpler chain scores higher),
    times the source weight, capped at 100; graded by the cut-offs."""
    scoring = settings["scoring"]
    raw = Decimal(0)
    for factor in FACTORS:
        value = inputs[factor]
        if factor == "decision_complexity":
            value = 5 - value
        raw += Decimal(scoring["weights"][factor]) * Decimal(value) / 5 * HUNDRED
    total = min(HUNDRED, raw * Decimal(scoring["source_weights"][source]))
    total = total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    cut = scoring["cutoffs"]
    grade = "A" if total >= Decimal(cut["A"]) else "B" if total >= Decimal(cut["B"]) else "C"
    return total, grade


def score_inputs(need_match: Any, purchasing_power: Any, decision_complexity: Any) -> dict[str, int]:
    return {
        f: _whole(v, f, 0, 5) for f, v in zip(FACTORS, (need_match, purchasing_power, decision_complexity), strict=True)
    }


def matching_rule(settings: dict[str, Any], lead: dict[str, Any]) -> dict[str, Any]:
    """The first rule whose criteria all match the lead; the built-in rule sends a lead to reps
    of its own region."""
    rule: dict[str, Any]
    for rule in settings["rules"]:
        if all(rule[k] is None or rule[k] == lead.get(k) for k in ("region", "industry", "size_band", "product_line")):
            return rule
    return {
        "name": "default: reps of the lead's region",
        "region": None,
        "industry": None,
        "size_band": None,
        "product_line": None,
        "team": None,
        "rep_region": lead.get("region"),
    }


def eligible(rule: dict[str, Any], lead_region: str, member: dict[str, Any]) -> bool:
    """Is this roster member (level, team, region) in the rule's pool of reps?"""
    if rule.get("team"):
        return bool(member["team"] == rule["team"])
    return bool(member["region"] == (rule.get("rep_region") or lead_region))


@dataclass(frozen=True)
class Candidate:
    rep_id: str
    name: str
    open_leads: int
    capacity: int
    last_taken_at: datetime | None


def choose(candidates: list[Candidate]) -> tuple[Candidate | None, str]:
    """Least loaded rep under their cap; ties go round-robin (whoever took a lead least recently,
    never first), then by id. Answers the choice and why, in words."""
    under = [c for c in candidates if c.open_leads < c.capacity]
    full = len(candidates) - len(under)
    if not under:
        return (
            None,
            f"all {len(candidates)} eligible reps are at their capacity cap" if candidates else "no eligible rep",
        )
    ordered = sorted(
        under,
        key=lambda c: (
            c.open_leads,
            c.last_taken_at is not None,
            c.last_taken_at.isoformat() if c.last_taken_at else "",
            c.rep_id,
        ),
    )
    best = ordered[0]
    tied = [c for c in under if c.open_leads == best.open_leads]
    why = (
        f"least loaded of {len(under)} eligible reps under cap ({best.open_leads} open leads"
        + (f"; {full} at cap skipped" if full else "")
        + (f"; round-robin among {len(tied)} tied: took a lead least recently" if len(tied) > 1 else "")
        + ")"
    )
    return best, why


def sla_due(
    settings: dict[str, Any],
    *,
    grade: str | None,
    assigned_at: datetime,
    first_contact_at: datetime | None,
    last_contact_at: datetime | None,
) -> tuple[str, datetime]:
    """What the assignee owes next: the first response within N hours (N per grade) of the
    assignment, then a follow-up at least every M days."""
    if first_contact_at is None:
        return "first_response", assigned_at + timedelta(hours=settings["sla"]["first_response_hours"][grade or "C"])
    since = max(last_contact_at or first_contact_at, assigned_at)
    return "follow_up", since + timedelta(days=settings["sla"]["follow_up_days"])


# -- de-duplication keys -------------------------------------------------------------------------
_COMPANY_NOISE = re.compile(
    r"(股份有限公司|有限责任公司|有限公司|集团|公司|co\.?,?|ltd\.?|inc\.?|llc|corp\.?|limited)", re.IGNORECASE
)


def phone_key(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    return digits or None


def email_key(email: str | None) -> str | None:
    return (email or "").strip().lower() or None


# Pure and asked for the same names over and over. (Phones and emails are personal data: never
# kept in memory beyond their use, so that forgetting a person leaves no copy.)
@lru_cache(maxsize=65_536)
def company_key(company: str | None) -> str | None:
    text = unicodedata.normalize("NFKC", company or "").lower()
    text = _COMPANY_NOISE.sub("", text)
    text = re.sub(r"[\s\W_]+", "", text)
    return text or None
