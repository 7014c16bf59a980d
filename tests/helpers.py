"""Small builders shared by the tests."""

from __future__ import annotations

from datetime import date

from application import SalesLedger
from domain.base import Meta

META = Meta(actor="test", correlation_id="c-1", causation_id="r-1")


def seed_deal(
    ledger: SalesLedger,
    *,
    amount: str = "100000.00",
    team: str = "华东一组",
    region: str = "华东",
    product_line: str = "ERP",
) -> dict[str, str]:
    """A rep, a customer and an open deal; answers their ids."""
    rep = ledger.org.hire_rep(META, name="王伟", level="senior", team=team, region=region).id
    customer = ledger.customers.register_customer(
        META,
        name="上海精密有限公司",
        region=region,
        industry="manufacturing",
        registered_on=date(2026, 1, 5),
        owner_id=rep,
    ).id
    deal = ledger.deals.open_deal(
        META, customer_id=customer, owner_id=rep, amount=amount, product_line=product_line, opened_on=date(2026, 2, 1)
    ).id
    return {"rep": rep, "customer": customer, "deal": deal}


def table_rows(db, tables: dict[str, str]) -> dict[str, list[tuple]]:
    """Every row of every table, sorted: equal read models compare equal."""
    with db.read() as tx:
        return {name: sorted(tx.all(f"SELECT * FROM {table}")) for name, table in tables.items()}


def bearer(client, role: str, rep_id: str | None = None, label: str | None = None) -> dict[str, str]:
    """Mint a key with the client's admin credentials; answer the headers that present it."""
    minted = client.post("/auth/keys", json={"role": role, "rep_id": rep_id, "label": label or f"test {role}"})
    assert minted.status_code == 201, minted.text
    return {"Authorization": f"Bearer {minted.json()['key']}"}


def every_stored_value(db):
    """Every value of every table, as text and as bytes."""
    with db.read() as tx:
        if tx.kind == "sqlite":
            tables = [t for (t,) in tx.all("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = [
                t for (t,) in tx.all("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
            ]
        for table in tables:
            for row in tx.all(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, (bytes, bytearray, memoryview)):
                        yield table, bytes(value)
                    elif value is not None:
                        yield table, str(value).encode("utf-8")
