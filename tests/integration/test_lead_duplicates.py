"""Capturing a lead finds its duplicate as of the store head without catching the leads read
model up: the read model as it stands plus the lead events stored since, applied in memory.
Checked against the leads themselves (loaded from the store) over random histories in which
the read model lags by varying amounts, on each backend."""

from __future__ import annotations

import random
from datetime import date

import pytest

from domain.lead import OPEN_STATUSES, Lead
from domain.lead_policy import company_key, email_key, phone_key
from domain.personal import plain
from projections import leads as leads_model
from projections.engine import tracking
from projections.engine.runner import process
from projections.engine.tail import Tail
from projections.leads import LEADS, TooFarBehind, find_duplicate_at_head
from tests.helpers import META

COMPANIES = ["杭州智能装备有限公司", "杭州智能装备 有限公司", "上海精密有限公司", "广州贸易公司"]
PHONES = [None, "138 0013 8000", "13800138000", "139 0000 0001"]
EMAILS = [None, "wang@example.cn", "WANG@example.cn ", "li@example.cn"]
REGIONS = ["华东", "华南"]


def leads_position(rt) -> int:
    with rt.db.read() as tx:
        return tracking.active_position(tx, LEADS.name) or 0


def active_generation(rt) -> int:
    with rt.db.read() as tx:
        return tracking.registration(tx, LEADS.name).active_generation


def advance(rt, positions: int) -> None:
    """Let the leads read model process the next `positions` store positions (a lagging projector)."""
    process(rt.db, rt.source, LEADS, active_generation(rt), leads_position(rt), limit=max(positions, 1), live=True)


def at_head(rt, **probe) -> str | None:
    with rt.db.read() as tx:
        return find_duplicate_at_head(tx, rt.ledger.leads.tail, **probe)  # the one every capture uses


def truth(rt, captured: list[str], *, phone, email, company, region) -> str | None:
    """The earliest captured lead that is open and shares a key, from the leads themselves."""
    for lead_id in captured:
        lead = rt.ledger.store.load(Lead, lead_id)
        if lead.status not in OPEN_STATUSES:
            continue
        same_phone = phone_key(phone) and phone_key(plain(lead.contact.get("phone"))) == phone_key(phone)
        same_email = email_key(email) and email_key(plain(lead.contact.get("email"))) == email_key(email)
        same_company = company_key(company) and (company_key(lead.company), lead.region) == (
            company_key(company),
            region,
        )
        if same_phone or same_email or same_company:
            return lead_id
    return None


def probe(rng) -> dict:
    return {
        "phone": rng.choice(PHONES),
        "email": rng.choice(EMAILS),
        "company": rng.choice(COMPANIES),
        "region": rng.choice(REGIONS),
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_the_duplicate_at_the_head_is_the_one_the_leads_say(runtime, seed):
    rng = random.Random(seed)
    rt = runtime
    rep = rt.ledger.org.hire_rep(META, name="高甲", level="senior", team="华东一组", region="华东").id
    captured: list[str] = []
    seen: dict[str, int] = {}
    for step in range(70):
        op = rng.random()
        open_ids = [i for i in captured if rt.ledger.store.load(Lead, i).status in OPEN_STATUSES]
        if op < 0.45 or not open_ids:
            keys = probe(rng)
            expected = truth(rt, captured, **keys)
            before = leads_position(rt)
            written = rt.ledger.leads.capture_lead(
                META, source="trade_show", industry="manufacturing", captured_on=date(2026, 3, 1), **keys
            )
            assert written.extra["duplicate_of"] == expected, (step, keys)
            seen["duplicate" if expected else "new"] = seen.get("duplicate" if expected else "new", 0) + 1
            assert leads_position(rt) == before  # the capture did not catch the read model up
            captured.append(written.id)
        elif op < 0.55:
            lead = rng.choice(open_ids)
            rt.ledger.leads.disqualify_lead(META, lead, reason="no_need", disqualified_on=date(2026, 3, 2))
        elif op < 0.65:
            lead = rng.choice(open_ids)
            if rt.ledger.store.load(Lead, lead).assignee_id:
                rt.ledger.leads.return_lead(META, lead, reason="not mine")
            else:
                rt.ledger.leads.assign_lead(META, lead, rep_id=rep, reason="by hand")
        elif op < 0.75 and len(open_ids) > 1:
            source, target = rng.sample(open_ids, 2)
            rt.ledger.leads.merge_leads(META, source, into=target, reason="the same company")
            seen["merge"] = seen.get("merge", 0) + 1
        elif op < 0.8:
            remembered = [i for i in captured if not getattr(rt.ledger.store.load(Lead, i), "forgotten", False)]
            if remembered:
                rt.ledger.privacy.forget(META, Lead, rng.choice(remembered), reason="asked to be forgotten")
                seen["forget"] = seen.get("forget", 0) + 1
        else:
            advance(rt, rng.randint(1, 12))  # the projector catches up part of the way
        keys = probe(rng)
        expected = truth(rt, captured, **keys)
        assert at_head(rt, **keys) == expected, (step, keys)
        seen["probe found" if expected else "probe found none"] = (
            seen.get("probe found" if expected else "probe found none", 0) + 1
        )
    assert leads_position(rt) < rt.source.head()  # it lagged all along, as meant
    assert set(seen) == {"duplicate", "new", "merge", "forget", "probe found", "probe found none"}


def test_a_lead_closed_after_the_read_models_position_is_no_duplicate(runtime):
    rt = runtime
    first = rt.ledger.leads.capture_lead(
        META,
        company="杭州智能装备有限公司",
        source="trade_show",
        region="华东",
        industry="manufacturing",
        phone="138 0013 8000",
    ).id
    rt.fresh("leads")  # the read model has the open lead
    assert at_head(rt, phone="13800138000", email=None, company=None, region="华南") == first
    rt.ledger.leads.disqualify_lead(META, first, reason="no_need", disqualified_on=date(2026, 3, 2))
    assert at_head(rt, phone="13800138000", email=None, company=None, region="华南") is None
    again = rt.ledger.leads.capture_lead(
        META, company="别的公司", source="trade_show", region="华南", industry="retail", phone="13800138000"
    )
    assert again.extra["duplicate_of"] is None


def test_a_read_model_too_far_behind_is_caught_up_instead(runtime, monkeypatch):
    rt = runtime
    first = rt.ledger.leads.capture_lead(
        META, company="上海精密有限公司", source="trade_show", region="华东", industry="manufacturing"
    ).id
    for n in range(3):
        rt.ledger.org.hire_rep(META, name=f"王{n}", level="junior", team="华东一组", region="华东")
    with rt.db.read() as tx, pytest.raises(TooFarBehind):
        find_duplicate_at_head(
            tx,
            Tail(rt.source, poll_seconds=0),
            phone=None,
            email=None,
            company="上海精密有限公司",
            region="华东",
            tail_limit=2,
        )
    monkeypatch.setattr(leads_model, "TAIL_LIMIT", 2)
    monkeypatch.setattr(find_duplicate_at_head, "__kwdefaults__", {"tail_limit": 2})
    second = rt.ledger.leads.capture_lead(
        META, company="上海精密 有限公司", source="referral", region="华东", industry="manufacturing"
    )
    assert second.extra["duplicate_of"] == first
    assert leads_position(rt) == rt.source.head() - 1  # caught up in the request, as before


def capture_by_phone(rt) -> str:
    return rt.ledger.leads.capture_lead(
        META,
        company="上海精密有限公司",
        source="trade_show",
        region="华东",
        industry="manufacturing",
        phone="13800138000",
    ).id


def capture_by_email(rt):
    return rt.ledger.leads.capture_lead(
        META, company="广州贸易公司", source="referral", region="华南", industry="retail", email="li@example.cn"
    )


def test_when_every_stored_match_it_read_changed_since_the_capture_catches_up(runtime, monkeypatch):
    """The statement reads the first STORED_AT_ONCE matching leads of the read model. When all of
    them changed after its position, the answer may be a lead it did not read: the capture then
    catches the read model up and asks it, rather than guess."""
    rt = runtime
    monkeypatch.setattr(leads_model, "STORED_AT_ONCE", 1)
    first = capture_by_phone(rt)
    second = capture_by_email(rt).id
    rt.fresh("leads")
    rt.ledger.leads.disqualify_lead(META, first, reason="no_need", disqualified_on=date(2026, 3, 2))
    probe = {"phone": "13800138000", "email": "li@example.cn", "company": None, "region": "华东"}
    with pytest.raises(TooFarBehind):
        at_head(rt, **probe)  # it read only the first, which is closed since
    third = rt.ledger.leads.capture_lead(META, source="referral", industry="retail", **{**probe, "company": "别的公司"})
    assert third.extra["duplicate_of"] == second
    assert leads_position(rt) == rt.source.head() - 1  # caught up in the request


def test_a_rebuild_that_dropped_the_tables_a_process_knew_is_followed(runtime):
    """The statement names the tables of the generation the process last saw; a rebuild by
    another process switches generations and drops those tables. The next capture catches up
    instead, and the one after reads the new generation without catching up."""
    from projections.engine.runner import rebuild

    rt = runtime
    first = capture_by_phone(rt)
    rt.fresh("leads")
    assert at_head(rt, phone="138 0013 8000", email=None, company=None, region="华南") == first
    before = active_generation(rt)
    rebuild(rt.db, rt.source, LEADS)
    assert active_generation(rt) != before
    second = capture_by_email(rt)
    assert second.extra["duplicate_of"] is None
    assert leads_position(rt) == rt.source.head() - 1  # caught up: the tables it knew are gone
    rt.ledger.leads.disqualify_lead(META, first, reason="no_need", disqualified_on=date(2026, 3, 2))
    position = leads_position(rt)
    probe = {"phone": "13800138000", "email": "li@example.cn", "company": None, "region": "华东"}
    assert at_head(rt, **probe) == second.id  # the new generation, and the events since applied
    assert leads_position(rt) == position


def test_a_held_lead_found_by_the_keys_it_absorbs_in_a_merge(runtime):
    """The process keeps the leads changed since the read model's position, indexed by their
    keys, from one capture to the next: a lead it holds that takes a phone in a merge is found
    by that phone."""
    rt = runtime
    rep = rt.ledger.org.hire_rep(META, name="高甲", level="senior", team="华东一组", region="华东").id
    target = rt.ledger.leads.capture_lead(
        META, company="上海精密有限公司", source="trade_show", region="华东", industry="manufacturing"
    ).id  # no phone
    source = capture_by_email(rt).id
    rt.fresh("leads")
    rt.ledger.leads.assign_lead(META, target, rep_id=rep, reason="by hand")
    assert at_head(rt, phone=None, email="li@example.cn", company=None, region="华北") == source
    rt.ledger.leads.merge_leads(META, source, into=target, reason="the same buyer")
    assert at_head(rt, phone=None, email="LI@example.cn", company=None, region="华北") == target


def test_a_capture_that_read_an_older_position_than_the_process_began_at_replays_alone(runtime, monkeypatch):
    """Concurrent captures read the read model at slightly different positions. One that read
    it before the position the process's leads at head began at cannot use them (a lead closed
    in between is neither held by them nor closed in what it read): it replays the events since
    its own position, and leaves them to the others."""
    rt = runtime
    first = capture_by_phone(rt)
    rt.fresh("leads")
    seen = []
    real = tracking.at_head
    monkeypatch.setattr(tracking, "at_head", lambda *a: seen.append(real(*a)) or seen[-1])
    assert at_head(rt, phone="13800138000", email=None, company=None, region="华南") == first
    reg, older, _, stored_then = seen[-1]
    rt.ledger.leads.disqualify_lead(META, first, reason="no_need", disqualified_on=date(2026, 3, 2))
    advance(rt, 1)  # the read model has the lead closed
    rt.ledger.org.hire_rep(META, name="王一", level="junior", team="华东一组", region="华东")
    assert at_head(rt, phone="13800138000", email=None, company=None, region="华南") is None
    began = leads_model._AT_HEAD[rt.ledger.leads.tail]
    assert began.floor > older
    # a capture whose statement ran before the projector moved on
    monkeypatch.setattr(tracking, "at_head", lambda *a: (reg, older, rt.source.head(), stored_then))
    assert at_head(rt, phone="13800138000", email=None, company=None, region="华南") is None
    assert leads_model._AT_HEAD[rt.ledger.leads.tail] is began  # kept for the captures that read it later
