"""Lead scoring, assignment choice, de-duplication keys and the lead lifecycle, without storage."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import Conflict, InvalidInput
from domain.lead import Lead
from domain.lead_policy import (
    DEFAULT_POLICY,
    Candidate,
    choose,
    company_key,
    email_key,
    matching_rule,
    phone_key,
    score,
    score_inputs,
    validate_policy,
)

POLICY = validate_policy(DEFAULT_POLICY)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "source, inputs, expected",
    [
        ("trade_show", (5, 5, 0), ("100.00", "A")),
        ("trade_show", (0, 0, 5), ("0.00", "C")),
        ("referral", (5, 5, 0), ("100.00", "A")),  # capped at 100
        ("trade_show", (3, 3, 2), ("60.00", "B")),  # 0.4*60 + 0.35*60 + 0.25*60
        ("cold_call", (4, 4, 1), ("64.00", "B")),  # 80 x 0.8
        ("online", (5, 5, 0), ("90.00", "A")),
    ],
)
def test_scores_and_grades(source, inputs, expected):
    total, grade = score(POLICY, source, score_inputs(*inputs))
    assert (str(total), grade) == expected


def test_a_simpler_decision_chain_scores_higher():
    simple, _ = score(POLICY, "other", score_inputs(3, 3, 0))
    complex_, _ = score(POLICY, "other", score_inputs(3, 3, 5))
    assert simple > complex_


def test_grade_cut_offs_are_inclusive():
    custom = validate_policy(
        {**DEFAULT_POLICY, "scoring": {**DEFAULT_POLICY["scoring"], "cutoffs": {"A": "60", "B": "40"}}}
    )
    assert score(custom, "trade_show", score_inputs(3, 3, 2)) == (Decimal("60.00"), "A")
    assert score(custom, "trade_show", score_inputs(2, 2, 3)) == (Decimal("40.00"), "B")


@pytest.mark.parametrize("bad", [(6, 0, 0), (-1, 0, 0), (1.5, 0, 0), ("3", 0, 0), (True, 0, 0)])
def test_score_inputs_are_whole_numbers_0_to_5(bad):
    with pytest.raises(InvalidInput):
        score_inputs(*bad)


@pytest.mark.parametrize(
    "change",
    [
        {
            "scoring": {
                **DEFAULT_POLICY["scoring"],
                "weights": {"need_match": "0.5", "purchasing_power": "0.5", "decision_complexity": "0.5"},
            }
        },
        {"scoring": {**DEFAULT_POLICY["scoring"], "cutoffs": {"A": "40", "B": "50"}}},
        {"grade_levels": {"A": "boss", "B": "mid", "C": "junior"}},
        {"sla": {**DEFAULT_POLICY["sla"], "on_breach": "shrug"}},
        {"rules": [{"name": "x", "colour": "red"}]},
        {"surprise": 1},
    ],
)
def test_policy_validation(change):
    with pytest.raises(InvalidInput):
        validate_policy({**DEFAULT_POLICY, **change})


def candidate(rep, load, cap=5, last=None):
    return Candidate(rep, rep, load, cap, None if last is None else T0 + timedelta(minutes=last))


def test_choice_least_loaded_then_round_robin_then_id():
    assert choose([candidate("a", 2), candidate("b", 1), candidate("c", 3)])[0].rep_id == "b"
    tied = [candidate("a", 1, last=5), candidate("b", 1, last=2), candidate("c", 1, last=9)]
    best, why = choose(tied)
    assert best.rep_id == "b" and "round-robin among 3 tied" in why
    assert choose([candidate("a", 1, last=5), candidate("b", 1)])[0].rep_id == "b"  # never took one: first
    assert choose([candidate("b", 0), candidate("a", 0)])[0].rep_id == "a"


def test_choice_skips_reps_at_cap_and_says_so():
    best, why = choose([candidate("a", 5, cap=5), candidate("b", 4, cap=5)])
    assert best.rep_id == "b" and "1 at cap skipped" in why
    assert choose([candidate("a", 5, cap=5)]) == (None, "all 1 eligible reps are at their capacity cap")
    assert choose([]) == (None, "no eligible rep")


@settings(max_examples=60, deadline=None)
@given(caps=st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=6), leads=st.integers(0, 40))
def test_assignment_never_exceeds_caps_and_spreads_evenly(caps, leads):
    loads = {f"r{i}": 0 for i in range(len(caps))}
    last: dict[str, int] = {}
    for n in range(leads):
        best, _ = choose([candidate(rep, loads[rep], cap, last.get(rep)) for rep, cap in zip(loads, caps, strict=True)])
        if best is None:
            assert all(loads[r] >= c for r, c in zip(loads, caps, strict=True))
            break
        loads[best.rep_id] += 1
        last[best.rep_id] = n
    assert all(loads[r] <= c for r, c in zip(loads, caps, strict=True))
    open_reps = [loads[r] for r, c in zip(loads, caps, strict=True) if loads[r] < c]
    if open_reps:  # among reps with room left, loads differ by at most one
        assert max(open_reps) - min(open_reps) <= 1


def test_rules_match_in_order_and_default_to_the_leads_region():
    policy = validate_policy(
        {
            **DEFAULT_POLICY,
            "rules": [
                {"name": "华东制造", "region": "华东", "industry": "manufacturing", "team": "华东一组"},
                {"name": "华东其他", "region": "华东"},
            ],
        }
    )
    assert matching_rule(policy, {"region": "华东", "industry": "manufacturing"})["name"] == "华东制造"
    assert matching_rule(policy, {"region": "华东", "industry": "retail"})["name"] == "华东其他"
    assert matching_rule(policy, {"region": "华南", "industry": "retail"})["rep_region"] == "华南"


def test_deduplication_keys_normalise():
    assert phone_key("+86 138-0013-8000") == phone_key("13800138000") == "13800138000"
    assert phone_key("0086 13800138000") == "13800138000"
    assert email_key("  Li.Na@Example.COM ") == "li.na@example.com"
    assert company_key("上海精密机械有限公司") == company_key("上海 精密机械") == company_key("上海精密机械（集团）")
    assert company_key("ACME Co., Ltd.") == company_key("acme")


def lead() -> Lead:
    return Lead.capture(
        uuid4(), company="某公司", source="online", region="华东", industry="retail", captured_on=date(2026, 11, 1)
    )


def test_lead_lifecycle_rules():
    x = lead()
    with pytest.raises(Conflict):
        x.log_contact(channel="call", outcome="ok", occurred_at=T0)  # nobody holds it
    x.assign(rep_id="r1", kind="rules", assigned_at=T0, why="least loaded")
    with pytest.raises(InvalidInput):
        x.assign(rep_id="r2", kind="manual", assigned_at=T0, why="by hand")  # reassignment needs a reason
    with pytest.raises(InvalidInput):
        x.log_contact(channel="call", outcome="ok", occurred_at=T0 - timedelta(hours=1))
    with pytest.raises(InvalidInput):
        x.log_contact(channel="fax", outcome="ok", occurred_at=T0)
    assert x.sla_due(POLICY) == ("first_response", T0 + timedelta(hours=48))  # ungraded: C hours
    x.log_contact(channel="wechat", outcome="感兴趣", occurred_at=T0 + timedelta(hours=3))
    assert x.sla_due(POLICY) == ("follow_up", T0 + timedelta(hours=3, days=7))
    assert x.sla_breach(POLICY, T0 + timedelta(days=7)) is None
    kind, due = x.sla_breach(POLICY, T0 + timedelta(days=8))
    x.record_breach(kind=kind, due_at=due, as_of=T0 + timedelta(days=8), action="record")
    assert x.sla_breach(POLICY, T0 + timedelta(days=9)) is None  # recorded once
    x.return_to_pool(reason="客户暂无预算", returned_at=T0 + timedelta(days=9))
    with pytest.raises(Conflict) as cooling:
        x.assign(rep_id="r1", kind="claim", assigned_at=T0 + timedelta(days=10), why="claim", cooldown_days=14)
    assert cooling.value.code == "cooldown"
    x.assign(rep_id="r2", kind="claim", assigned_at=T0 + timedelta(days=10), why="claim", cooldown_days=14)
    with pytest.raises(InvalidInput):
        x.disqualify(
            reason="bored", allowed=POLICY["disqualify_reasons"], notes=None, disqualified_on=date(2026, 12, 1)
        )
    x.disqualify(
        reason="no_budget", allowed=POLICY["disqualify_reasons"], notes=None, disqualified_on=date(2026, 12, 1)
    )
    with pytest.raises(Conflict):
        x.qualify(notes=None, qualified_on=date(2026, 12, 2))
