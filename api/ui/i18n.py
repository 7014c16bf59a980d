"""The dashboard's words in Chinese (first: the demo organisation is Chinese) and English, and the
number formats: thousands separators everywhere, money with two decimals and its currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, pass_context

WORDS: dict[str, tuple[str, str]] = {
    "app": ("销售账本", "salesledger"),
    "home": ("首页", "Home"),
    "pipeline": ("销售管道", "Pipeline"),
    "leaderboards": ("排行榜", "Leaderboards"),
    "leads": ("线索", "Leads"),
    "customers": ("客户", "Customers"),
    "statement": ("提成对账单", "Commission statement"),
    "finance": ("财务结算", "Finance"),
    "events": ("事件浏览", "Event browser"),
    "projections": ("投影状态", "Projections"),
    "deal": ("商机", "Deal"),
    "lead": ("线索", "Lead"),
    "customer": ("客户 360", "Customer 360"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "api_key": ("API 密钥", "API key"),
    "key_hint": (
        "密钥只保存在本浏览器会话中，关闭标签页即失效。",
        "The key is kept for this browser session only; closing the tab forgets it.",
    ),
    "bad_key": ("密钥无效或已吊销", "Unknown or revoked key"),
    "language": ("语言", "Language"),
    "loading": ("加载中…", "Loading…"),
    "not_found": ("页面不存在", "No such page"),
    "main_nav": ("主导航", "Main navigation"),
    "signed_in_as": ("当前身份", "Signed in as"),
    "role_rep": ("销售代表", "Rep"),
    "role_manager": ("经理", "Manager"),
    "role_finance": ("财务", "Finance"),
    "role_auditor": ("审计", "Auditor"),
    "role_admin": ("管理员", "Admin"),
    "period": ("期间", "Period"),
    "scope": ("范围", "Scope"),
    "as_of": ("截至（时间旅行）", "As of (time travel)"),
    "apply": ("应用", "Apply"),
    "team": ("团队", "Team"),
    "region": ("区域", "Region"),
    "owner": ("负责人", "Owner"),
    "product_line": ("产品线", "Product line"),
    "any": ("全部", "Any"),
    "my_numbers": ("本期业绩与目标", "My numbers this period"),
    "team_numbers": ("团队本期业绩与目标", "The team's numbers this period"),
    "company_numbers": ("公司本期业绩与目标", "The company's numbers this period"),
    "attainment": ("达成率", "Attainment"),
    "metric": ("指标", "Metric"),
    "target": ("目标", "Target"),
    "actual": ("实际", "Actual"),
    "queue": ("我的线索队列", "My lead queue"),
    "team_queue": ("团队线索队列", "The team's lead queues"),
    "due": ("待处理", "Due"),
    "overdue": ("已逾期", "Overdue"),
    "statement_so_far": ("本期提成（截至目前）", "My statement so far"),
    "team_statements": ("团队本期提成", "The team's statements"),
    "period_statements": ("本期全部对账单", "This period's statements"),
    "total": ("合计", "Total"),
    "stage": ("阶段", "Stage"),
    "count": ("数量", "Count"),
    "amount": ("金额", "Amount"),
    "weighted": ("加权金额", "Weighted amount"),
    "probability": ("概率", "Probability"),
    "funnel": ("漏斗", "Funnel"),
    "win_rate": ("赢单率", "Win rate"),
    "won": ("赢单", "Won"),
    "lost": ("输单", "Lost"),
    "open": ("进行中", "Open"),
    "loss_reasons": ("输单原因", "Loss reasons"),
    "reason": ("原因", "Reason"),
    "share": ("占比", "Share"),
    "velocity": ("阶段周期（天）", "Stage velocity (days)"),
    "mean_days": ("平均天数", "Mean days"),
    "median_days": ("中位天数", "Median days"),
    "conversion": ("阶段转化", "Stage conversion"),
    "rate": ("比率", "Rate"),
    "open_deals": ("进行中的商机", "Open deals"),
    "title": ("名称", "Title"),
    "status": ("状态", "Status"),
    "opened_on": ("创建日期", "Opened on"),
    "expected_close": ("预计成交", "Expected close"),
    "timeline": ("时间线", "Timeline"),
    "position": ("位置", "Position"),
    "type": ("类型", "Type"),
    "recorded_at": ("记录时间", "Recorded at"),
    "actor": ("操作人", "Actor"),
    "correlation_id": ("关联 ID", "Correlation id"),
    "aggregate_id": ("聚合 ID", "Aggregate id"),
    "data": ("数据", "Data"),
    "from": ("开始", "From"),
    "to": ("结束", "To"),
    "next_page": ("下一页", "Next page"),
    "rank": ("名次", "Rank"),
    "rank_change": ("名次变化", "Rank change"),
    "name": ("姓名", "Name"),
    "value": ("数值", "Value"),
    "level": ("职级", "Level"),
    "pool": ("公海线索", "Lead pool"),
    "rep_queue": ("代表队列", "Rep's queue"),
    "rep": ("代表", "Rep"),
    "company": ("公司名", "Company"),
    "source": ("来源", "Source"),
    "grade": ("等级", "Grade"),
    "score": ("评分", "Score"),
    "captured_on": ("获取日期", "Captured on"),
    "sla_state": ("SLA 状态", "SLA state"),
    "next_due": ("下次到期", "Next due"),
    "age_days": ("天数", "Age (days)"),
    "industry": ("行业", "Industry"),
    "lifecycle": ("生命周期", "Lifecycle"),
    "classification": ("分类", "Classification"),
    "last_activity": ("最近活动", "Last activity"),
    "grade_history": ("等级历史", "Grade history"),
    "credit_history": ("信用历史", "Credit history"),
    "lifecycle_history": ("生命周期历史", "Lifecycle history"),
    "stakeholders": ("决策链", "Stakeholders"),
    "visits": ("拜访记录", "Visits"),
    "deals": ("商机", "Deals"),
    "payments": ("回款", "Payments"),
    "exposure": ("应收敞口", "Exposure"),
    "credit_limit": ("信用额度", "Credit limit"),
    "receivable": ("应收", "Receivable"),
    "collected": ("已回款", "Collected"),
    "signed_amount": ("签约金额", "Signed amount"),
    "deliveries": ("交付状态", "Delivery status"),
    "next_revisit": ("下次回访", "Next revisit due"),
    "overdue_revisits": ("逾期回访", "Overdue revisits"),
    "kind": ("类别", "Kind"),
    "on": ("日期", "On"),
    "notes": ("备注", "Notes"),
    "role": ("角色", "Role"),
    "explain": ("明细追溯", "Explain"),
    "verify": ("校验", "Verify"),
    "verified": ("校验通过：冻结摘要与重算一致", "Verified: the frozen digest matches a recomputation"),
    "not_verified": ("校验不一致", "Does not verify"),
    "download_csv": ("下载 CSV", "Download CSV"),
    "component": ("组成项", "Component"),
    "basis": ("计提基数", "Basis"),
    "plan": ("提成方案", "Plan"),
    "version": ("版本", "Version"),
    "tier_walk": ("阶梯计算", "Tier walk"),
    "band": ("区间", "Band"),
    "slice": ("分段金额", "Slice"),
    "splits": ("业绩分配", "Splits"),
    "source_events": ("来源事件", "Source events"),
    "open_event": ("在事件浏览中打开", "Open in the event browser"),
    "lines": ("明细行", "Lines"),
    "digest": ("摘要", "Digest"),
    "choose_rep": ("选择代表", "Choose a rep"),
    "show": ("显示", "Show"),
    "close_period": ("关账", "Close the period"),
    "approve": ("审批", "Approve"),
    "pay": ("发放", "Pay"),
    "paid_on": ("发放日期", "Paid on"),
    "reference": ("付款凭证号", "Payment reference"),
    "payroll_csv": ("下载工资表 CSV", "Download payroll CSV"),
    "disputes": ("申诉", "Disputes"),
    "resolution": ("处理结果", "Resolution"),
    "period_status": ("期间状态", "Period status"),
    "done": ("已完成", "Done"),
    "lag": ("滞后", "Lag"),
    "head": ("最新位置", "Head"),
    "state": ("状态", "State"),
    "last_error": ("最近错误", "Last error"),
    "parked": ("搁置", "Parked"),
    "none": ("无", "None"),
    "no_rows": ("暂无数据", "Nothing to show"),
    "forbidden": ("您的角色无权查看此内容", "Your role may not see this"),
    "missing": ("未找到，或不在您的权限范围内", "Not found, or outside your part of the organisation"),
    "customer_list": ("客户列表", "Customer list"),
    "forecast": ("加权预测（按预计成交月）", "Weighted forecast by expected close month"),
    "month": ("月份", "Month"),
    "history": ("历史", "History"),
    "target_label": ("目标", "Target"),
    "split_share": ("分配比例", "Split share"),
    "accumulated": ("累计（前 → 后）", "Accumulated (before → after)"),
    "highlight": ("定位", "Highlighted"),
    "skip": ("跳到正文", "Skip to content"),
    "credit": ("信用", "Credit"),
    "contact": ("联系人", "Contact"),
    "result": ("结果", "Result"),
    "members": ("人数", "Members"),
    "actions": ("操作", "Actions"),
    "projection": ("投影", "Projection"),
}

STAGES = {
    "initial_contact": ("初步接触", "Initial contact"),
    "needs_analysis": ("需求分析", "Needs analysis"),
    "proposal": ("方案报价", "Proposal"),
    "negotiation": ("商务谈判", "Negotiation"),
    "won": ("赢单", "Won"),
    "lost": ("输单", "Lost"),
    "open": ("进行中", "Open"),
}
METRICS = {
    "revenue": ("销售额", "Revenue"),
    "gross_margin": ("毛利", "Gross margin"),
    "contracts_signed": ("签约数", "Contracts signed"),
    "leads_contacted": ("跟进线索数", "Leads contacted"),
    "visits": ("拜访数", "Visits"),
    "collections": ("回款额", "Collections"),
    "new_customers": ("新客户数", "New customers"),
    "revisit_adherence": ("回访达成", "Revisit adherence"),
}
STATUSES = {
    "open": ("未关账", "open"),
    "closed": ("已关账", "closed"),
    "approved": ("已审批", "approved"),
    "paid": ("已发放", "paid"),
    "acknowledged": ("已确认", "acknowledged"),
    "breached": ("已超时", "breached"),
    "due": ("待处理", "due"),
    "ok": ("正常", "ok"),
    "live": ("实时", "live"),
    "catching_up": ("追赶中", "catching up"),
    "stopped": ("已停止", "stopped"),
    "pool": ("公海", "pool"),
    "assigned": ("已分配", "assigned"),
    "contacted": ("已联系", "contacted"),
    "qualified": ("已确认", "qualified"),
    "converted": ("已转化", "converted"),
    "won": ("赢单", "won"),
    "lost": ("输单", "lost"),
    "earned": ("计提", "earned"),
    "bonus": ("奖金", "bonus"),
    "adjustment": ("调整", "adjustment"),
    "clawback": ("追回", "clawback"),
    "deduction": ("扣减", "deduction"),
    "accepted": ("已接受", "accepted"),
    "cold_call": ("电话陌拜", "cold call"),
    "online": ("线上", "online"),
    "trade_show": ("展会", "trade show"),
    "partner": ("合作伙伴", "partner"),
    "referral": ("转介绍", "referral"),
    "other": ("其他", "other"),
    "price": ("价格", "price"),
    "competitor": ("竞争对手", "competitor"),
    "no_budget": ("无预算", "no budget"),
    "timing": ("时机", "timing"),
    "no_decision": ("未决策", "no decision"),
    "rejected": ("已驳回", "rejected"),
}

LIFECYCLE = {
    "prospect": ("潜在客户", "prospect"),
    "active": ("活跃", "active"),
    "dormant": ("休眠", "dormant"),
    "lost": ("流失", "lost"),
    "churned": ("流失", "churned"),
}


def word(key: str, lang: str, table: dict[str, tuple[str, str]] = WORDS) -> str:
    pair = table.get(key)
    if pair is None:
        return key
    return pair[1] if lang == "en" else pair[0]


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def number(value: Any, places: int | None = None) -> str:
    """1234567 -> 1,234,567; places fixes the decimals."""
    d = _decimal(value)
    if d is None:
        return "—" if value in (None, "") else str(value)
    if places is None:
        places = 0 if d == d.to_integral_value() else min(2, max(0, -d.as_tuple().exponent))  # type: ignore[operator]
    return f"{d:,.{places}f}"


def money(value: Any, currency: str = "CNY") -> str:
    """Two decimals, thousands separators, then the currency: 1,234.50 CNY."""
    d = _decimal(value)
    return "—" if d is None else f"{d:,.2f} {currency}"


def percent(value: Any) -> str:
    d = _decimal(value)
    return "—" if d is None else f"{d * 100:,.1f}%"


def install(env: Environment) -> None:
    @pass_context
    def t(context: Any, key: str) -> str:
        return word(key, context.get("lang", "zh"))

    @pass_context
    def stage(context: Any, key: str | None) -> str:
        return word(key or "", context.get("lang", "zh"), STAGES)

    @pass_context
    def metric(context: Any, key: str | None) -> str:
        return word(key or "", context.get("lang", "zh"), METRICS)

    @pass_context
    def status(context: Any, key: str | None) -> str:
        return word(key or "", context.get("lang", "zh"), STATUSES)

    @pass_context
    def lifecycle(context: Any, key: str | None) -> str:
        return word(key or "", context.get("lang", "zh"), LIFECYCLE)

    def zip_pairs(values: Any) -> list[tuple[str, str]]:
        return [(str(v), str(v)) for v in values]

    def zip_names(ids: Any, reps: dict[str, Any]) -> list[tuple[str, str]]:
        return sorted(((i, reps[i]["name"]) for i in ids if i in reps), key=lambda pair: pair[1])

    def funnel_data(conversion: Any, lang: str) -> list[dict[str, Any]]:
        """Deals reaching each stage, then won: the stage conversion read as a funnel."""
        steps = [(c["from"], c["reached_from"]) for c in conversion]
        if conversion:
            steps.append((conversion[-1]["to"], conversion[-1]["reached_to"]))
        return [{"name": word(stage, lang, STAGES), "value": count} for stage, count in steps]

    def dict_query(values: dict[str, Any], **more: Any) -> str:
        return urlencode({k: v for k, v in {**values, **more}.items() if v not in (None, "")})

    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    env.globals.update(t=t)
    env.filters.update(number=number, money=money, percent=percent, stage=stage, metric=metric, status=status)
    env.filters.update(
        lifecycle=lifecycle, zip_pairs=zip_pairs, zip_names=zip_names, funnel_data=funnel_data, dict_query=dict_query
    )
