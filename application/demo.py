"""A deterministic demo organisation: same seed and sizes, same events.

A director, a manager per regional centre (华东, 华南, 华北, 西南), junior/mid/senior reps and
thirteen months of dated history (November 2025 to November 2026): leads captured, scored,
assigned, contacted, qualified and converted into customers and deals; deals moving through
the stages on their own dates to wins (with payments, the odd refund and its clawback) and
losses with reasons; promotions and a transfer; company → region → team → rep targets; plans;
and, with `close_months`, closed months whose statements are approved and paid, and a dispute.
Aggregates are built with their own commands and saved in chunks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from uuid import NAMESPACE_URL, UUID, uuid5

from application import SalesLedger
from domain.base import Entity, Meta
from domain.customer import Customer
from domain.deal import Deal
from domain.fx import FxRates
from domain.lead import Lead
from domain.lead_policy import Candidate, PolicyView, choose, eligible, matching_rule, score, score_inputs
from domain.rep import Rep
from domain.values import OPEN_STAGES, LeadSource

REGIONS = {"华东": "East", "华南": "South", "华北": "North", "西南": "Southwest"}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "桂英",
]
CITIES = ["上海", "杭州", "南京", "苏州", "广州", "深圳", "厦门", "北京", "天津", "青岛", "成都", "重庆", "昆明"]
TRADES = ["精密", "智能", "新材料", "医疗", "物流", "电子", "环保", "食品", "汽车零部件", "软件"]
INDUSTRIES = ["manufacturing", "healthcare", "logistics", "retail", "energy", "software", "education"]
PRODUCTS = ["ERP", "CRM", "BI", "IoT", "Cloud"]
SIZES = ["small", "medium", "large", "enterprise"]
LOSS_REASONS = ["price", "competitor", "no_budget", "timing", "no_decision"]
START = date(2025, 11, 3)
SPAN_DAYS = 385  # to late November 2026
PLANS_FROM = date(2025, 11, 1)
LAST_DAY = START + timedelta(days=SPAN_DAYS)
FX_RATES = {  # one unit in CNY from the day on
    "USD": [(date(2025, 10, 1), "7.1200"), (date(2026, 3, 1), "7.1850"), (date(2026, 8, 1), "7.0950")],
    "EUR": [(date(2025, 10, 1), "7.7400"), (date(2026, 6, 1), "7.8100")],
}  # no business date after this one


@dataclass
class DemoStats:
    reps: int = 0
    customers: int = 0
    leads: int = 0
    converted: int = 0
    deals: int = 0
    closed_months: int = 0
    events: int = 0
    last_position: int = 0


class Demo:
    def __init__(self, ledger: SalesLedger, seed: int, chunk: int = 400) -> None:
        self.ledger, self.seed, self.chunk = ledger, seed, chunk
        self.rng = random.Random(seed)
        self.meta = Meta(actor="demo", correlation_id=f"demo-{seed}", causation_id=f"demo-{seed}")
        self.pending: list[Entity] = []
        self.stats = DemoStats()

    def uid(self, kind: str, n: int) -> UUID:
        return uuid5(NAMESPACE_URL, f"salesledger-demo:{self.seed}:{kind}:{n}")

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    def day(self, after: date, within: int) -> date:
        return after + timedelta(days=self.rng.randint(0, within))

    def save(self, agg: Entity | None, force: bool = False) -> None:
        if agg is not None:
            self.pending.append(agg)
        if self.pending and (force or len(self.pending) >= self.chunk):
            unique = list({id(a): a for a in self.pending}.values())
            self.stats.events += sum(len(a.pending_events) for a in unique)
            self.stats.last_position = self.ledger.store.record(self.meta, *unique)
            self.pending = []

    def build(self, reps: int, deals: int) -> DemoStats:
        director = Rep.hire(
            self.uid("rep", 0),
            name=self.person(),
            level="director",
            team="销售总部",
            region="全国",
            hired_on=date(2020, 3, 1),
        )
        self.save(director)
        staff: list[Rep] = []
        managers = {}
        for i, region in enumerate(REGIONS, start=1):
            managers[region] = Rep.hire(
                self.uid("rep", i),
                name=self.person(),
                level="manager",
                team=f"{region}销售中心",
                region=region,
                manager_id=str(director.id),
                hired_on=date(2021, i, 1),
            )
            self.save(managers[region])
        levels = ["junior", "junior", "mid", "mid", "senior"]
        for n in range(max(reps, 1)):
            region = list(REGIONS)[n % len(REGIONS)]
            rep = Rep.hire(
                self.uid("rep", 100 + n),
                name=self.person(),
                level=levels[n % len(levels)],
                team=f"{region}{'一二'[n // len(REGIONS) % 2]}组",
                region=region,
                manager_id=str(managers[region].id),
                hired_on=self.day(date(2022, 1, 1), 900),
            )
            staff.append(rep)
            self.save(rep)
        self.stats.reps = 1 + len(managers) + len(staff)

        customers: list[Customer] = []
        for n in range(max(deals // 3, 1)):
            owner = self.rng.choice(staff)
            customer = Customer.register(
                self.uid("customer", n),
                name=f"{self.rng.choice(CITIES)}{self.rng.choice(TRADES)}有限公司{n}",
                region=owner.region,
                industry=self.rng.choice(INDUSTRIES),
                owner_id=str(owner.id),
                size_band=self.rng.choice(SIZES),
                registered_on=self.day(START - timedelta(days=200), 200),
            )
            if self.rng.random() < 0.6:
                customer.grade_as(grade=self.rng.choice("AABBBCC"), reason="按价值与潜力分级")
                customer.classify(
                    classification=self.rng.choice(["key", "general", "general", "potential"]), reason="年度客户分类"
                )
            if self.rng.random() < 0.5:
                customer.add_stakeholder(
                    stakeholder_id=self.uid("stakeholder", n).hex,
                    name=self.person(),
                    role=self.rng.choice(["decision_maker", "influencer", "finance", "procurement"]),
                    title=self.rng.choice(["总经理", "采购经理", "财务总监", "IT主管"]),
                )
            if self.rng.random() < 0.3:
                customer.rate_credit(
                    rating=self.rng.choice(["AAA", "AA", "A", "BBB"]),
                    limit=Decimal(self.rng.choice([2_000_000, 5_000_000, 10_000_000])),
                    evidence="年度财报与付款记录",
                    rated_on=START,
                )
            customers.append(customer)
            self.save(customer)
        self.stats.customers = len(customers)

        leads = []
        for n in range(max(deals // 4, 1)):
            region = self.rng.choice(list(REGIONS))
            lead = Lead.capture(
                self.uid("lead", n),
                company=f"{self.rng.choice(CITIES)}{self.rng.choice(TRADES)}科技{n}",
                source=self.rng.choice(list(LeadSource)).value,
                region=region,
                industry=self.rng.choice(INDUSTRIES),
                captured_on=self.day(START, SPAN_DAYS),
                contact_name=self.person(),
                phone=f"1{self.rng.randint(3000000000, 9999999999)}",
                product_line=self.rng.choice(PRODUCTS),
            )
            leads.append(lead)
        self.work_leads(leads, staff)
        self.stats.leads = len(leads)

        self.rates()
        for n in range(deals):
            customer = self.rng.choice(customers)
            self.save(self.deal(n, customer, staff))
            if n % 3 == 0 and customer.owner_id:
                customer.log_visit(
                    rep_id=customer.owner_id,
                    kind=self.rng.choice(["visit", "revisit", "call"]),
                    occurred_at=datetime.combine(
                        self.day(START, SPAN_DAYS), time(10, 0), tzinfo=timezone(timedelta(hours=8))
                    ),
                    notes="拜访记录",
                )
                self.save(customer)
        self.stats.deals = deals
        self.careers(staff)
        self.save(None, force=True)
        self.targets(staff)
        self.plans(staff, [*list(managers.values()), director])
        return self.stats

    def plans(self, staff: list[Rep], leaders: list[Rep]) -> None:
        """The field plan (marginal tiers, top-10 and team bonuses) for reps; an override plan for leaders."""
        from domain.commission.plan import Plan

        bonuses = [
            {"name": "top 10 bonus", "type": "rank_bonus", "metric": "revenue", "top": 10, "amount": "2000"},
            {"name": "team target bonus", "type": "team_target_bonus", "amount": "10000"},
        ]
        field = Plan.create(
            self.uid("plan", 1),
            {
                "name": "Field sales",
                "currency": "CNY",
                "period": "month",
                "effective_from": PLANS_FROM.isoformat(),
                "clawback_days": 180,
                "components": [
                    {
                        "name": "base",
                        "type": "tiered_rate",
                        "basis": "revenue",
                        "payable_on": "booking",
                        "tier_mode": "marginal",
                        "thresholds": "amount",
                        "tiers": [
                            {"up_to": "150000", "rate": "0.04"},
                            {"up_to": "250000", "rate": "0.06"},
                            {"up_to": None, "rate": "0.08"},
                        ],
                        "cap": None,
                    },
                    *bonuses,
                ],
            },
        )
        field.add_version(
            {
                **{k: v for k, v in field.versions[0].items() if k != "version"},  # a body, not a stored version
                "effective_from": "2026-07-01",
                "components": [
                    {
                        **field.versions[0]["components"][0],
                        "tiers": [
                            {"up_to": "150000", "rate": "0.045"},
                            {"up_to": "250000", "rate": "0.065"},
                            {"up_to": None, "rate": "0.085"},
                        ],
                    },
                    *bonuses,
                ],
            }
        )
        leader = Plan.create(
            self.uid("plan", 2),
            {
                "name": "Sales leadership",
                "currency": "CNY",
                "period": "month",
                "effective_from": PLANS_FROM.isoformat(),
                "clawback_days": 180,
                "components": [
                    {
                        "name": "manager override",
                        "type": "override",
                        "basis": "revenue",
                        "rate": "0.03",
                        "threshold": "0",
                    },
                    {"name": "team target bonus", "type": "team_target_bonus", "amount": "10000"},
                ],
            },
        )
        self.save(field)
        self.save(leader)
        for rep in staff:
            rep.assign_plan(plan_id=str(field.id), effective_from=PLANS_FROM)
            self.save(rep)
        for rep in leaders:
            rep.assign_plan(plan_id=str(leader.id), effective_from=PLANS_FROM)
            self.save(rep)
        self.save(None, force=True)

    def work_leads(self, leads: list[Lead], staff: list[Rep]) -> None:
        """Score every lead under the default policy; assign most by the rules; log first contacts."""
        policy = PolicyView.default()
        settings = policy.settings
        for lead in leads:
            inputs = score_inputs(*(self.rng.randint(0, 5) for _ in range(3)))
            total, grade = score(settings, lead.source, inputs)
            lead.rescore(
                inputs=inputs,
                source_weight=settings["scoring"]["source_weights"][lead.source],
                model_version=policy.model_version,
                policy_version=policy.label,
                score=total,
                grade=grade,
            )
            if self.rng.random() < 0.7:
                level = settings["grade_levels"][grade]
                rule = matching_rule(settings, {"region": lead.region, "industry": lead.industry})
                pool = {
                    str(r.id): r
                    for r in staff
                    if r.level == level and eligible(rule, lead.region, {"team": r.team, "region": r.region})
                }
                best, why = choose(
                    [
                        Candidate(i, r.name, len(r.open_leads), settings["capacity"][level], r.last_lead_taken_at)
                        for i, r in pool.items()
                    ]
                )
                if best is not None:
                    at = datetime.combine(lead.captured_on, time(10, 0), tzinfo=timezone(timedelta(hours=8)))
                    lead.assign(rep_id=best.rep_id, kind="rules", assigned_at=at, why=why, rule=rule["name"])
                    pool[best.rep_id].take_lead(lead_id=str(lead.id), capacity=best.capacity, taken_at=at)
                    self.save(pool[best.rep_id])
                    if self.rng.random() < 0.75:
                        lead.log_contact(
                            channel=self.rng.choice(["call", "wechat", "visit", "email"]),
                            outcome="初步沟通",
                            occurred_at=at + timedelta(hours=self.rng.randint(1, 60)),
                        )
                        if self.rng.random() < 0.5 and lead.captured_on + timedelta(days=30) <= LAST_DAY:
                            self.convert(lead, pool[best.rep_id])
            self.save(lead)

    def convert(self, lead: Lead, rep: Rep) -> None:
        """Qualified a week after capture, converted a fortnight later into a new customer and a
        deal owned by the lead's rep (as `POST /leads/{id}/convert` does)."""
        n = self.stats.converted
        qualified_on = lead.captured_on + timedelta(days=7)
        lead.qualify(notes="预算与需求已确认", qualified_on=qualified_on)
        converted_on = qualified_on + timedelta(days=14)
        customer = Customer.register(
            self.uid("lead-customer", n),
            name=lead.company,
            region=lead.region,
            industry=lead.industry,
            registered_on=converted_on,
            owner_id=str(rep.id),
            lead_id=str(lead.id),
        )
        deal = Deal.open(
            self.uid("lead-deal", n),
            customer_id=str(customer.id),
            owner_id=str(rep.id),
            amount=Decimal(self.rng.randrange(50_000, 400_000, 1000)),
            product_line=lead.contact.get("product_line") or "ERP",
            opened_on=converted_on,
            opened_on_stated=True,
            title=f"{lead.company} 首单",
            lead_id=str(lead.id),
        )
        lead.convert(customer_id=str(customer.id), deal_id=str(deal.id), new_customer=True, converted_on=converted_on)
        rep.release_lead(lead_id=str(lead.id), why="converted")
        self.work_deal(10_000 + n, deal, customer)
        self.stats.converted += 1
        self.save(customer)
        self.save(deal)
        self.save(rep)

    def careers(self, staff: list[Rep]) -> None:
        """A few promotions and a transfer, effective-dated within the year."""
        for rep in staff[: max(1, len(staff) // 6)]:
            nxt = {"junior": "mid", "mid": "senior"}.get(rep.level)
            if nxt:
                rep.change_level(level=nxt, effective_from=self.day(date(2026, 4, 1), 120), reason="年度晋升")
                self.save(rep)
        if len(staff) > len(REGIONS):
            mover = staff[-1]
            regions = list(REGIONS)
            region = regions[(regions.index(mover.region) + 1) % len(regions)]
            mover.transfer(
                team=f"{region}一组",
                region=region,
                manager_id=mover.manager_id,
                effective_from=date(2026, 7, 1),
                reason="支援新区域",
            )
            self.save(mover)

    def targets(self, staff: list[Rep]) -> None:
        """2026 revenue targets: company, decomposed to regions, plus every rep's monthly target."""
        from domain.target import TargetSheet

        yearly = TargetSheet.open(period="2026", metric="revenue")
        by_region = {region: Decimal(sum(1 for r in staff if r.region == region) * 1_800_000) for region in REGIONS}
        yearly.set(scope="company", value=sum(by_region.values()), reason=None)
        yearly.decompose(
            parent="company", children=[{"scope": f"region:{r}", "value": v} for r, v in by_region.items()], reason=None
        )
        teams: dict[str, dict[str, list[Rep]]] = {}
        for rep in staff:
            teams.setdefault(rep.region, {}).setdefault(rep.team, []).append(rep)
        for region, by_team in teams.items():
            yearly.decompose(
                parent=f"region:{region}",
                children=[{"scope": f"team:{t}", "value": len(m) * 1_800_000} for t, m in sorted(by_team.items())],
                reason="按团队人数分解",
            )
            for team, members in sorted(by_team.items()):
                yearly.decompose(
                    parent=f"team:{team}",
                    children=[{"scope": f"rep:{r.id}", "value": 1_800_000} for r in members],
                    reason="按人分解",
                )
        self.save(yearly)
        for label in ["2025-11", "2025-12", *(f"2026-{month:02d}" for month in range(1, 13))]:
            sheet = TargetSheet.open(period=label, metric="revenue")
            for rep in staff:
                monthly = {"junior": 80_000, "mid": 150_000, "senior": 250_000}.get(rep.level, 150_000)
                sheet.set(scope=f"rep:{rep.id}", value=Decimal(monthly), reason=None)
            self.save(sheet)
        self.save(None, force=True)

    def rates(self) -> None:
        """Exchange rates into the base currency for the export deals (every twelfth is in USD),
        changing through the year; EUR is listed with rates but sells nothing yet."""
        for code, steps in FX_RATES.items():
            book = FxRates.list_currency(code)
            for effective_on, rate in steps:
                book.set_rate(rate, effective_on)
            self.save(book)

    def deal(self, n: int, customer: Customer, staff: list[Rep]) -> Deal:
        rng = self.rng
        owner_id = customer.owner_id or str(rng.choice(staff).id)
        opened = self.day(START, SPAN_DAYS - 40)
        amount = Decimal(rng.randrange(20_000, 800_000, 500)).quantize(Decimal("0.01"))
        export = n % 12 == 5  # an export deal, priced in US dollars
        if export:
            amount = (amount / 7).quantize(Decimal("1")).quantize(Decimal("0.01"))
        deal = Deal.open(
            self.uid("deal", n),
            customer_id=str(customer.id),
            owner_id=owner_id,
            amount=amount,
            product_line=rng.choice(PRODUCTS),
            opened_on=opened,
            expected_close=opened + timedelta(days=rng.randint(30, 150)),
            title=f"{customer.name} {n}",
            currency_code="USD" if export else None,
        )
        return self.work_deal(n, deal, customer)

    def work_deal(self, n: int, deal: Deal, customer: Customer) -> Deal:
        """Dated stage changes, then a win (payments, the odd refund), a loss with its reason and
        date, or nothing yet."""
        rng = self.rng
        amount, day = deal.amount, deal.opened_on
        reached = rng.choices(range(len(OPEN_STAGES)), weights=[3, 3, 3, 4])[0]
        for stage in OPEN_STAGES[1 : reached + 1]:
            day = min(self.day(day, 18), LAST_DAY)
            deal.change_stage(stage, changed_on=day)
        outcome = rng.random()
        if outcome < 0.45 and reached >= 2 and amount > 0:
            signed = (amount * Decimal(rng.choice(["0.9", "0.95", "1", "1", "1.05"]))).quantize(Decimal("0.01"))
            signed_on = min(self.day(day, 30), LAST_DAY)
            deal.win(
                amount=signed,
                gross_margin=(signed * Decimal(rng.choice(["0.2", "0.3", "0.35", "0.4"]))).quantize(Decimal("0.01")),
                signed_on=signed_on,
                contract_no=f"HT-2026-{n:06d}",
            )
            if customer.lifecycle == "prospect":
                customer.move_lifecycle(
                    to="active", reason=f"first won deal {deal.id}", on=signed_on, allowed_from=("prospect",)
                )
                self.save(customer)
            remaining = signed
            for k in range(rng.randint(0, 3)):
                part = (signed / 3).quantize(Decimal("0.01")) if k < 2 else remaining
                part = min(part, remaining)
                if part <= 0:
                    break
                received_on = self.day(signed_on, 30 * (k + 1))
                if received_on > LAST_DAY:
                    break
                deal.receive_payment(amount=part, received_on=received_on)
                remaining -= part
            if rng.random() < 0.06 and remaining < signed:
                part = (signed / 10).quantize(Decimal("0.01"))
                refunded_on = self.day(signed_on, 60)
                if refunded_on <= LAST_DAY:
                    deal.refund(amount=part, refunded_on=refunded_on, reason="部分退货")
        elif outcome < 0.75:
            deal.lose(
                reason=rng.choice(LOSS_REASONS),
                competitor=rng.choice([None, "竞品A", "竞品B"]),
                lost_on=min(self.day(day, 25), LAST_DAY),
            )
        return deal


CLOSE_THROUGH = "2026-09"  # months closed by the demo (the commission engine's statements)
PAID_FROM, PAID_THROUGH = "2026-06", "2026-08"  # closed months whose statements are approved and paid


def load_demo(
    ledger: SalesLedger, *, seed: int = 7, reps: int = 24, deals: int = 300, close_months: bool = False
) -> DemoStats:
    """The demo's events (same seed and sizes, same events); with `close_months`, the commission
    months from November 2025 to September 2026 are then closed through the use cases, their
    statements of June to August approved and paid and one line disputed (approvals and closes
    carry their recording time, so only this part differs between two loads)."""
    stats = Demo(ledger, seed).build(reps, deals)
    if close_months:
        stats.closed_months, stats.last_position = close_demo_months(ledger, seed)
        stats.events = stats.last_position
    return stats


def close_demo_months(ledger: SalesLedger, seed: int) -> tuple[int, int]:
    """Close every month from the plans' start through CLOSE_THROUGH; approve and pay the
    statements from PAID_FROM through PAID_THROUGH (paid on the 10th of the next month); dispute the first
    line of the last closed month's largest statement."""
    from application.commissions import ApproveStatement, ClosePeriod, PayStatement, PeriodOf

    meta = Meta(actor="demo", correlation_id=f"demo-{seed}", causation_id=f"demo-{seed}")
    finance = Meta(actor="finance:demo", correlation_id=f"demo-{seed}", causation_id=f"demo-{seed}")
    labels, day = [], PLANS_FROM
    while day.strftime("%Y-%m") <= CLOSE_THROUGH:
        labels.append(day.strftime("%Y-%m"))
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    position = 0
    for label in labels:
        position = ledger.commissions.close_period(ClosePeriod(label), meta).position
        if not PAID_FROM <= label <= PAID_THROUGH:  # one write per statement: a few months keep the load fast
            continue
        year, month = (int(x) for x in label.split("-"))
        paid_on = date(year + month // 12, month % 12 + 1, 10)
        for statement in ledger.commissions.period(PeriodOf(label)).statements:
            rep = statement["rep_id"]
            ledger.commissions.approve_statement(ApproveStatement(rep, label), finance)
            reference = f"PAY-{label}-{rep[:8]}"
            position = ledger.commissions.pay_statement(PayStatement(rep, label, paid_on, reference), finance).position
    last = ledger.commissions.period(PeriodOf(labels[-1]))
    biggest = max(last.statements, key=lambda st: Decimal(str(st["total"])), default=None)
    if biggest is not None:
        from application.commissions import StatementOf

        lines = ledger.commissions.statement(StatementOf(biggest["rep_id"], labels[-1])).lines
        if lines:
            position = ledger.commissions.open_dispute(
                Meta(actor=f"rep:{biggest['rep_id']}", correlation_id=f"demo-{seed}", causation_id=f"demo-{seed}"),
                labels[-1],
                rep_id=biggest["rep_id"],
                line_id=lines[0]["id"],
                reason="大单提成比例与合同约定不符，请复核",
            ).position
    return len(labels), position
