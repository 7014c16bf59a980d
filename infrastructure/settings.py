"""All configuration in one pydantic-settings class, read from the environment.

| variable | field |
|---|---|
| `DATABASE_URL` | `database_url` |
| `SALESLEDGER_ADMIN_TOKEN` | `admin_token` |
| `SALESLEDGER_TIMEZONE` | `timezone` (the organisation's date: period close, "today") |
| `SALESLEDGER_BASE_CURRENCY` | `base_currency` (ISO 4217; what pipeline, KPIs, leaderboards and receivables report in) |
| `SALESLEDGER_PROJECTIONS` | `projections` (extra projections, `module:Class,…`) |
| `SALESLEDGER_MIN_POSITION_TIMEOUT` | `min_position_timeout` (seconds a query waits for `min_position`) |
| `SALESLEDGER_IDEMPOTENCY_LEASE` | `idempotency_lease` (seconds an `Idempotency-Key` claim outlives a dead request) |
| `SALESLEDGER_DB_CONNECT_TIMEOUT` | `db_connect_timeout` (seconds to get a database connection; then 503) |
| `SALESLEDGER_DB_LOCK_TIMEOUT` | `db_lock_timeout` (seconds a write waits for a database lock; then 503) |
| `SALESLEDGER_DB_STATEMENT_TIMEOUT` | `db_statement_timeout` (PostgreSQL: the longest statement; 0 for none) |
| `SALESLEDGER_SLA_CHECK_EVERY` | `sla_check_every` (seconds between scheduled lead SLA checks; 0 for none) |
| `SALESLEDGER_DORMANCY_CHECK_AT` | `dormancy_check_at` (HH:MM, organisation's zone, of the daily dormancy check; off for none) |
| `SALESLEDGER_REVISIT_CHECK_AT` | `revisit_check_at` (HH:MM, organisation's zone, of the daily revisit check; off for none) |
"""

from __future__ import annotations

from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.errors import InvalidInput
from domain.values import DEFAULT_CURRENCY, currency
from infrastructure.database import DEFAULT_URL, POOL_SIZE, DatabaseURL
from infrastructure.scheduler import Timetable, parse_time_of_day


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SALESLEDGER_", frozen=True, extra="ignore")

    database_url: str = Field(DEFAULT_URL, validation_alias=AliasChoices("DATABASE_URL", "database_url"))
    admin_token: str | None = None
    timezone: str = "Asia/Shanghai"
    base_currency: str = DEFAULT_CURRENCY
    projections: str = ""
    run_projectors: bool = True
    # the scheduled checks beside in-process projectors (`salesledger serve` with one worker)
    run_scheduled_checks: bool = False
    min_position_timeout: float = 5.0
    idempotency_lease: float = Field(5.0, gt=0, le=3600)
    db_connect_timeout: float = Field(5.0, gt=0, le=300)
    db_lock_timeout: float = Field(10.0, gt=0, le=3600)
    db_statement_timeout: float = Field(30.0, ge=0, le=86400)
    db_pool_size: int = Field(POOL_SIZE, ge=1, le=200)  # PostgreSQL connections per pool and process
    # the checks `salesledger project` runs by itself (see infrastructure/scheduler.py)
    sla_check_every: float = Field(300.0, ge=0, le=86400)
    dormancy_check_at: time | None = time(1, 0)
    revisit_check_at: time | None = time(1, 0)

    @field_validator("database_url", mode="before")
    @classmethod
    def _default_url(cls, value: Any) -> Any:
        return value or DEFAULT_URL

    @field_validator("admin_token", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return value or None

    @field_validator("base_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        try:
            return currency(value, "base_currency")
        except InvalidInput as error:
            raise ValueError(str(error)) from None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)") from None
        return value

    @field_validator("sla_check_every")
    @classmethod
    def _whole_interval(cls, value: float) -> float:
        if value and value < 1:
            raise ValueError("check at most once a second (or 0 for no scheduled SLA check)")
        return value

    @field_validator("dormancy_check_at", "revisit_check_at", mode="before")
    @classmethod
    def _time_of_day(cls, value: Any) -> time | None:
        return parse_time_of_day(value)

    def timetable(self) -> Timetable:
        """When `salesledger project` runs each scheduled check."""
        return Timetable(
            sla_check_every=self.sla_check_every or None,
            dormancy_check_at=self.dormancy_check_at,
            revisit_check_at=self.revisit_check_at,
            timezone=self.timezone,
        )

    def database(self) -> DatabaseURL:
        """`database_url` with the timeouts that bound every wait on the database."""
        return (
            DatabaseURL.parse(self.database_url)
            .with_timeouts(
                connect=self.db_connect_timeout, lock=self.db_lock_timeout, statement=self.db_statement_timeout
            )
            .with_pool(self.db_pool_size)
        )

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """The environment's settings, with explicit (non-None) overrides."""
        return cls(**{k: v for k, v in overrides.items() if v is not None})
