"""Currencies through the HTTP API, on each backend: rates as effective-dated events, every
figure in base currency converted at the rate of its business date, amounts with no rate listed
apart (never summed in, never dropped), and commission on a foreign-currency deal."""

from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.e2e.session import Session

CENT = Decimal("0.01")


def converted(amount, rate):
    """The stated rule, computed here independently: rate to 6 places, amount to the cent, half up."""
    rate = Decimal(rate).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    return (Decimal(amount) * rate).quantize(CENT, rounding=ROUND_HALF_UP)


class Book(Session):
    def won(self, owner, amount, signed_on, currency=None, margin="100.00"):
        customer = self.post(
            "/customers",
            {"name": f"客户 {amount} {signed_on}", "region": "华东", "industry": "retail", "owner_id": owner},
        )["id"]
        body = {"customer_id": customer, "owner_id": owner, "amount": amount, "product_line": "ERP"}
        if currency:
            body["currency"] = currency
        deal = self.post("/deals", body)["id"]
        self.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": margin, "signed_on": signed_on})
        return deal

    def rate(self, currency, rate, effective_on):
        return self.post("/fx-rates", {"currency": currency, "rate": rate, "effective_on": effective_on})

    def metric(self, scope, period, name):
        rows = self.get("/kpis", scope=scope, period=period)["metrics"]
        return next(r for r in rows if r["metric"] == name)


@pytest.fixture
def book(client):
    b = Book(client)
    b.manager = b.rep("经理", "manager")
    b.alice = b.rep("Alice", "senior", manager_id=b.manager)
    b.bob = b.rep("Bob", "senior", manager_id=b.manager)
    return b


def test_rates_are_effective_dated_events_and_bad_ones_are_refused(book, client):
    first = book.rate("usd", "7.12345678", "2026-01-01")
    assert first["rate"] == "7.123457"  # kept to 6 places, half up
    book.rate("USD", "7.20", "2026-03-01")
    book.rate("USD", "7.30", "2026-03-01")  # the same day again: supersedes
    rates = book.get("/fx-rates", currency="USD")
    assert [(r["effective_on"], r["rate"]) for r in rates["items"]] == [
        ("2026-01-01", "7.123457"),
        ("2026-03-01", "7.300000"),
    ]
    assert rates["base_currency"] == "CNY"
    in_force = book.get("/fx-rates", as_of="2026-02-28")["items"]
    assert [(r["currency"], r["rate"]) for r in in_force] == [("USD", "7.123457")]
    for body, field in (
        ({"currency": "XYZ", "rate": "1", "effective_on": "2026-01-01"}, "currency"),
        ({"currency": "CNY", "rate": "1", "effective_on": "2026-01-01"}, "currency"),
        ({"currency": "USD", "rate": "0", "effective_on": "2026-01-01"}, "rate"),
        ({"currency": "USD", "rate": "-2", "effective_on": "2026-01-01"}, "rate"),
    ):
        answer = client.post("/fx-rates", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["details"]["field"] == field
    customer = book.post("/customers", {"name": "币种客户", "region": "华东", "industry": "retail"})["id"]
    deal = {"customer_id": customer, "owner_id": book.alice, "amount": "1", "product_line": "ERP", "currency": "ABC"}
    answer = client.post("/deals", json=deal)
    assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] == "currency"


def test_kpis_and_leaderboards_convert_at_the_rate_of_each_date_and_list_what_has_none(book):
    book.rate("USD", "7.10", "2026-01-01")
    book.won(book.alice, "1000.00", "2026-02-10", currency="USD")  # before the change: 7.10
    book.rate("USD", "7.25", "2026-02-15")
    book.won(book.alice, "333.33", "2026-02-20", currency="USD")  # after it: 7.25
    book.won(book.bob, "5000.00", "2026-02-12")  # base currency
    book.won(book.bob, "800.00", "2026-02-13", currency="EUR")  # no EUR rate: listed, not summed
    revenue = book.metric(f"rep:{book.alice}", "2026-02", "revenue")
    assert Decimal(revenue["actual"]) == converted("1000.00", "7.10") + converted("333.33", "7.25")
    assert "unconverted" not in revenue  # listed only when something is left out
    team = book.metric("team:华东一组", "2026-02", "revenue")
    assert Decimal(team["actual"]) == converted("1000.00", "7.10") + converted("333.33", "7.25") + Decimal("5000.00")
    assert team["unconverted"] == [{"currency": "EUR", "amount": "800.00"}]
    board = book.get("/leaderboards/revenue", period="2026-02", scope="team:华东一组")
    by_rep = {r["rep_id"]: r for r in board["rows"]}
    assert Decimal(by_rep[book.alice]["value"]) == converted("1000.00", "7.10") + converted("333.33", "7.25")
    assert by_rep[book.bob]["value"] == "5000.00" and by_rep[book.bob]["unconverted"] == [
        {"currency": "EUR", "amount": "800.00"}
    ]
    # a rate entered later for an earlier date converts what it now covers, and only that
    book.rate("EUR", "7.80", "2026-02-01")
    book.rate("USD", "7.00", "2026-02-18")  # between the two USD deals: moves only the second
    team = book.metric("team:华东一组", "2026-02", "revenue")
    assert "unconverted" not in team
    assert Decimal(team["actual"]) == (
        converted("1000.00", "7.10") + converted("333.33", "7.00") + Decimal("5000.00") + converted("800.00", "7.80")
    )


def test_the_pipeline_is_in_base_currency_with_what_has_no_rate_listed(book):
    book.rate("USD", "7.00", "2026-01-01")
    book.won(book.alice, "1000.00", "2026-02-10", currency="USD", margin="300.00")
    book.won(book.bob, "2000.00", "2026-02-11")
    book.won(book.bob, "500.00", "2026-02-12", currency="JPY")  # no JPY rate
    customer = book.post("/customers", {"name": "开放客户", "region": "华东", "industry": "retail"})["id"]
    book.post(
        "/deals",
        {"customer_id": customer, "owner_id": book.alice, "amount": "100.00", "product_line": "ERP", "currency": "USD"},
    )
    book.rate("USD", "7.50", "2026-06-01")  # open pipeline converts at the rate of the query's date
    board = book.get("/pipeline", as_of="2026-06-15")
    assert board["currency"] == "CNY"
    assert Decimal(board["won"]["amount"]) == converted("1000.00", "7.00") + Decimal("2000.00")
    assert Decimal(board["won"]["gross_margin"]) == converted("300.00", "7.00") + Decimal("100.00")
    assert board["won"]["count"] == 3  # counted, its amount listed apart
    assert board["unconverted"] == [{"currency": "JPY", "amount": "500.00"}]
    assert Decimal(board["open"]["amount"]) == converted("100.00", "7.50")
    earlier = book.get("/pipeline", as_of="2026-03-01")
    assert Decimal(earlier["open"]["amount"]) == converted("100.00", "7.00")
    only_usd = book.get("/pipeline", currency="USD", as_of="2026-06-15")  # one currency, its own amounts
    assert only_usd["won"]["amount"] == "1000.00" and only_usd["open"]["amount"] == "100.00"
    book.rate("JPY", "0.048", "2026-01-01")
    book.rate("USD", "7.20", "2026-02-10")  # a late rate for the signing date re-converts the win
    board = book.get("/pipeline", as_of="2026-06-15")
    assert board["unconverted"] == []
    assert Decimal(board["won"]["amount"]) == converted("1000.00", "7.20") + Decimal("2000.00") + converted(
        "500.00", "0.048"
    )


def test_receivables_and_customer_360_in_base_currency(book):
    book.rate("USD", "7.00", "2026-01-01")
    usd = book.won(book.alice, "1000.00", "2026-02-10", currency="USD")
    eur = book.won(book.alice, "400.00", "2026-02-11", currency="EUR")  # no EUR rate yet
    book.won(book.alice, "3000.00", "2026-02-12")
    book.post(f"/deals/{usd}/payments", {"amount": "250.00", "received_on": "2026-02-20"})
    report = book.get("/receivables", period="2026-02", as_of="2026-03-01")
    row = next(r for r in report["rows"] if r["rep"] == book.alice)
    assert report["currency"] == "CNY" and row["deals"] == 3
    assert Decimal(row["billed"]) == converted("1000.00", "7.00") + Decimal("3000.00")
    assert Decimal(row["collected"]) == converted("250.00", "7.00")
    assert report["unconverted"] == [{"currency": "EUR", "amount": "400.00"}]
    customer = book.get(f"/deals/{eur}")["customer_id"]
    view = book.get(f"/customers/{customer}")
    assert view["unconverted"]["receivable"] == [{"currency": "EUR", "amount": "400.00"}]
    book.rate("EUR", "7.90", "2026-02-01")
    view = book.get(f"/customers/{customer}")
    assert Decimal(view["receivable"]) == converted("400.00", "7.90") and view["unconverted"]["receivable"] == []


def test_commission_on_a_foreign_currency_deal_converts_at_the_line_date_and_explains_it(client):
    from datetime import date

    from application import clock
    from tests.e2e.test_commissions import Books, plan, tiered

    clock.set_today(date(2027, 1, 15))
    try:
        books = Books(client)
        rep = books.rep("外币", "senior")
        books.on_plan(rep, plan(tiered(tiers=((None, "0.05"),))))
        books.post("/fx-rates", {"currency": "USD", "rate": "7.10", "effective_on": "2026-01-01"})
        customer = books.post("/customers", {"name": "海外客户", "region": "华东", "industry": "retail"})["id"]

        def usd_win(amount, signed_on):
            deal = books.post(
                "/deals",
                {"customer_id": customer, "owner_id": rep, "amount": amount, "product_line": "ERP", "currency": "USD"},
            )["id"]
            books.post(f"/deals/{deal}/win", {"amount": amount, "gross_margin": "0.00", "signed_on": signed_on})
            return deal

        deal = usd_win("1000.00", "2026-03-10")
        [line] = books.lines(rep, "2026-03")
        assert Decimal(line["basis_amount"]) == converted("1000.00", "7.10")
        assert Decimal(line["amount"]) == (converted("1000.00", "7.10") * Decimal("0.05")).quantize(CENT)
        explained = books.get(f"/commissions/lines/{line['id']}/explain")
        fx = explained["fx"]
        assert (fx["from"], fx["into"], fx["on"]) == ("USD", "CNY", "2026-03-10")
        [used] = fx["rates"]
        assert used["rate"] == "7.100000" and used["effective_on"] == "2026-01-01" and used["position"] > 0
        # no rate for EUR: nothing paid, and the statement says why
        eur = books.post(
            "/deals",
            {"customer_id": customer, "owner_id": rep, "amount": "500.00", "product_line": "ERP", "currency": "EUR"},
        )["id"]
        books.post(f"/deals/{eur}/win", {"amount": "500.00", "gross_margin": "0.00", "signed_on": "2026-03-12"})
        march = books.statement(rep, "2026-03")
        assert [x["deal_id"] for x in march["lines"]] == [deal]
        assert [(n["deal_id"], n["currency"]) for n in march["unconverted"]] == [(eur, "EUR")]
        # close March; a rate entered later for March settles as an adjustment in April
        books.post("/commissions/periods/2026-03/close", {})
        books.post("/fx-rates", {"currency": "USD", "rate": "7.30", "effective_on": "2026-03-01"})
        books.post("/fx-rates", {"currency": "EUR", "rate": "7.80", "effective_on": "2026-03-01"})
        april = books.statement(rep, "2026-04")
        moved = Decimal(sum(Decimal(x["amount"]) for x in april["lines"] if x["kind"] == "adjustment"))
        expected = (converted("1000.00", "7.30") * Decimal("0.05")).quantize(CENT) - Decimal(line["amount"])
        expected += (converted("500.00", "7.80") * Decimal("0.05")).quantize(CENT)
        assert moved == expected
        assert books.get(f"/commissions/statements/{rep}/2026-03/verify")["verified"] is True
        # an open month is simply recomputed
        usd_win("200.00", "2026-05-05")
        books.post("/fx-rates", {"currency": "USD", "rate": "7.40", "effective_on": "2026-05-01"})
        [may] = books.lines(rep, "2026-05")
        assert Decimal(may["basis_amount"]) == converted("200.00", "7.40")
    finally:
        clock.set_today(None)


def test_a_query_may_ask_for_another_display_currency(book, client):
    book.rate("USD", "7.00", "2026-01-01")
    book.rate("USD", "8.00", "2026-03-01")
    book.won(book.alice, "7000.00", "2026-02-10")  # base currency
    book.won(book.alice, "100.00", "2026-02-11", currency="USD")  # 700.00 in base at 7.00
    base = book.metric(f"rep:{book.alice}", "2026-02", "revenue")
    assert base["actual"] == "7700.00"
    card = book.get("/kpis", scope=f"rep:{book.alice}", period="2026-02", display_currency="USD")
    assert card["currency"] == "USD" and card["display_rate"]["rate"] == "7.000000"  # the rate on the period's end
    revenue = next(r for r in card["metrics"] if r["metric"] == "revenue")
    assert revenue["actual"] == "1100.00" and revenue["attainment"] == base["attainment"]
    contracts = next(r for r in card["metrics"] if r["metric"] == "contracts_signed")
    assert contracts["actual"] == 2  # counts are not money
    board = book.get("/leaderboards/revenue", period="2026-02", display_currency="USD")
    assert board["currency"] == "USD" and board["rows"][0]["value"] == "1100.00"
    pipeline = book.get("/pipeline", as_of="2026-03-15", display_currency="USD")  # at 8.00 on as_of
    assert pipeline["currency"] == "USD" and pipeline["won"]["amount"] == "962.50"  # 7700 / 8
    report = book.get("/receivables", period="2026-02", as_of="2026-02-28", display_currency="usd")
    assert report["currency"] == "USD" and report["rows"][0]["billed"] == "1100.00"
    for bad in ("XYZ", "EUR"):  # unknown; no rate in force
        answer = client.get("/kpis", params={"scope": "company", "period": "2026-02", "display_currency": bad})
        assert answer.status_code == 422 and answer.json()["error"]["details"]["field"] == "display_currency"


def test_a_partner_scorecard_lists_what_no_rate_converts(book):
    partner = book.post("/partners", {"name": "海外代理", "kind": "agent", "region": "华东"})["id"]
    body = {"name": "代理销售", "level": "senior", "team": "渠道组", "region": "华东", "hired_on": "2025-01-01"}
    staff = book.post("/reps", {**body, "partner_id": partner})["id"]
    book.rate("USD", "7.00", "2026-01-01")
    book.won(staff, "100.00", "2026-02-10", currency="USD")
    book.won(staff, "50.00", "2026-02-11", currency="GBP", margin="10.00")  # no GBP rate
    card = book.get(f"/partners/{partner}", period="2026-02")
    assert card["currency"] == "CNY" and card["revenue"]["actual"] == "700.00"
    assert card["revenue"]["unconverted"] == [{"currency": "GBP", "amount": "50.00"}]
