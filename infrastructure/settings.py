"""All configuration, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass

from infrastructure.database import DEFAULT_URL


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_URL
    admin_token: str | None = None
    run_projectors: bool = True
    min_position_timeout: float = 5.0  # seconds a query waits for `min_position`

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values = {
            "database_url": os.environ.get("DATABASE_URL") or DEFAULT_URL,
            "admin_token": os.environ.get("SALESLEDGER_ADMIN_TOKEN") or None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
