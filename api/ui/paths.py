"""Which dashboard addresses need no key: the page shells, the sign-in page and the static files
(they carry no data); the content of every page (`/ui/part/...`) needs one like the API."""

from __future__ import annotations

PREFIX = "/ui"
PART = f"{PREFIX}/part/"
STATIC = f"{PREFIX}/static/"


def is_public(path: str) -> bool:
    return (path == PREFIX or path.startswith(f"{PREFIX}/")) and not path.startswith(PART)
