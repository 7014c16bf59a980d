"""Shared helpers for the versioned configuration aggregates (lead policy, sales policy)."""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidInput


def overlay(base: dict[str, Any], changes: dict[str, Any], path: str = "policy") -> dict[str, Any]:
    """`changes` laid over `base`, section by section (lists and values replace)."""
    if not isinstance(changes, dict):
        raise InvalidInput(f"{path} must be an object", field=path)
    merged = dict(base)
    for key, value in changes.items():
        if key not in base:
            raise InvalidInput(f"unknown setting {path}.{key}", field=f"{path}.{key}")
        merged[key] = overlay(base[key], value, f"{path}.{key}") if isinstance(base[key], dict) else value
    return merged
