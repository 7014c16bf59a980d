"""The statement calculation alone: band boundaries, tier modes and determinism."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.commission.calc import Calculator, Money, Source, Win, bands, digest, rate_at, walk
from domain.commission.plan import validate_plan
from domain.values import Period

PLAN = validate_plan(
    {
        "name": "p",
        "currency": "CNY",
        "effective_from": "2026-01-01",
        "clawback_days": 90,
        "components": [
            {
                "name": "base",
                "type": "tiered_rate",
                "tier_mode": "marginal",
                "tiers": [
                    {"up_to": "100", "rate": "0.10"},
                    {"up_to": "200", "rate": "0.20"},
                    {"up_to": None, "rate": "0.30"},
                ],
            }
        ],
    }
)
TIERS = bands(PLAN["components"][0], None)


def test_a_value_on_a_boundary_belongs_to_the_lower_band():
    assert rate_at(TIERS, Decimal(100))[0] == Decimal("0.10")
    assert rate_at(TIERS, Decimal("100.01"))[0] == Decimal("0.20")
    assert [s["rate"] for s in walk(TIERS, Decimal(0), Decimal(100))] == [Decimal("0.10")]
    assert [s["slice"] for s in walk(TIERS, Decimal(90), Decimal(120))] == [Decimal(10), Decimal(100), Decimal(10)]


class Fake:
    def __init__(self, wins, movements):
        self.wins = {w.deal_id: w for w in wins}
        self.movements = movements

    def plan_for(self, rep_id, day):
        return ("plan", {"version": 1, **PLAN})

    def target(self, scope, period):
        return None

    def ancestors(self, rep_id, day):
        return []

    def team_of(self, rep_id, day):
        return None

    def reps(self):
        return ["a", "b"]

    def name(self, rep_id):
        return rep_id


def source(n):
    return Source("DealWon", f"d{n}", 5, n, "2026-11-01T00:00:00.000000+00:00", "test")


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, 28), st.decimals(min_value=1, max_value=500, places=2), st.sampled_from(["a", "b", "ab"])
        ),
        min_size=1,
        max_size=12,
    ),
    st.randoms(),
)
def test_statements_do_not_depend_on_input_order(deals, rnd):
    wins = []
    for n, (day, amount, who) in enumerate(deals, start=1):
        splits = (("a", Decimal("0.5")), ("b", Decimal("0.5"))) if who == "ab" else ((who, Decimal(1)),)
        wins.append(Win(f"d{n}", date(2026, 11, day), amount, Decimal(0), "CNY", splits, source(n)))
    period = Period.parse("2026-11")

    def digests(ws):
        lines = Calculator(Fake(ws, [])).lines(period, settle=True)
        return {rep: digest(rep, "2026-11", "CNY", [x.public() for x in lines[rep]]) for rep in lines}

    shuffled = list(wins)
    rnd.shuffle(shuffled)
    assert digests(wins) == digests(shuffled)
    lines = Calculator(Fake(wins, [])).lines(period, settle=False)
    for _rep, rep_lines in lines.items():
        basis = sum(x.explain["basis"] for x in rep_lines)
        total = sum(x.amount for x in rep_lines)
        expected = sum(s["amount"] for s in walk(TIERS, Decimal(0), basis))
        assert abs(total - expected) <= Decimal("0.005") * len(rep_lines)  # marginal: per-line rounding only


def test_clawback_outside_the_window_is_not_taken():
    win = Win("d1", date(2026, 1, 10), Decimal(100), Decimal(0), "CNY", (("a", Decimal(1)),), source(1))
    refund = Money("d1", date(2026, 5, 1), Decimal(50), "refund", source(2))
    lines = Calculator(Fake([win], [refund])).lines(Period.parse("2026-05"), settle=False)
    assert lines.get("a", []) == []
    early = Money("d1", date(2026, 2, 1), Decimal(50), "refund", source(3))
    lines = Calculator(Fake([win], [early])).lines(Period.parse("2026-02"), settle=False)
    assert [x.amount for x in lines["a"]] == [Decimal("-5.00")]


RETRO = validate_plan(
    {
        **PLAN,
        "components": [
            PLAN["components"][0],
            {
                "name": "retro",
                "type": "tiered_rate",
                "tier_mode": "retroactive",
                "tiers": [{"up_to": "300", "rate": "0.01"}, {"up_to": None, "rate": "0.05"}],
            },
        ],
    }
)


class RetroFake(Fake):
    def plan_for(self, rep_id, day):
        return ("plan", {"version": 1, **RETRO})


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 110), st.integers(1, 400), st.sampled_from(["a", "b", "ab"]), st.integers(-1, 120)),
        min_size=1,
        max_size=14,
    )
)
def test_releasing_settled_months_changes_no_later_statement(deals):
    """A rebuild computes months in order on one calculator and lets go of what only settled
    months needed: every later month (its clawbacks of earlier months' lines, a retroactive
    tier's restated months) comes out as a calculator that kept everything computes it."""
    wins, moves = [], []
    for n, (day, amount, who, refund_after) in enumerate(deals, start=1):
        signed = date(2026, 1, 1) + timedelta(days=day)
        splits = (("a", Decimal("0.5")), ("b", Decimal("0.5"))) if who == "ab" else ((who, Decimal(1)),)
        wins.append(Win(f"d{n}", signed, Decimal(amount), Decimal(0), "CNY", splits, source(n)))
        if refund_after >= 0:
            kind = "refund" if refund_after % 2 else "cancellation"
            moves.append(
                Money(f"d{n}", signed + timedelta(days=refund_after), Decimal(amount) / 2, kind, source(100 + n))
            )
    months = [Period.parse(f"2026-0{m}") for m in range(1, 9)]
    kept, released = Calculator(RetroFake(wins, moves)), Calculator(RetroFake(wins, moves))
    for period in months:
        expected = {rep: [x.public() for x in lines] for rep, lines in kept.lines(period, settle=True).items()}
        got = {rep: [x.public() for x in lines] for rep, lines in released.lines(period, settle=True).items()}
        assert got == expected
        released.release(period)
    reversed_deals = {m.deal_id for m in moves if m.day > months[-1].end}
    assert all(
        x.deal_id in reversed_deals
        for per_rep in released._earned.values()
        for lines in per_rep.values()
        for x in lines
        if x.kind == "earned"
    )
