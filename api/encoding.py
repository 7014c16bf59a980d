"""JSON out: Decimals as strings (never floats), dates as ISO, UUIDs as strings, Chinese as is."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

from fastapi.responses import JSONResponse

from domain.personal import Personal


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Personal):
        return str(value)  # the text, or "[erased]"
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def dumps(content: Any) -> str:
    return json.dumps(content, default=_default, ensure_ascii=False, separators=(",", ":"))


class Json(JSONResponse):
    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")
