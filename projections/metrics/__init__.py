"""Metrics built as pluggable projections (registered by entry point, like any third-party one)."""
