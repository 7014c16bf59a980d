"""The organisation over time: who reported to whom, at which level, in which team and region,
on any date (`GET /org?as_of=`). Changes are effective-dated and may be recorded late."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection, Sequence
from datetime import date, timedelta
from typing import Any, cast

from domain.rep import Rep, fold
from domain.values import Level
from infrastructure.database import Tx
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tracking import active_tables, active_tables_at

MEMBER_COLUMNS = ("rep_id", "name", "hired_on", "external_id")
CHANGE_COLUMNS = (
    "position",
    "rep_id",
    "kind",
    "effective_from",
    "level",
    "team",
    "region",
    "manager_id",
    "status",
    "partner_id",
)
KIND_FIELDS = {
    "hired": ("level", "team", "region", "manager_id", "status", "partner_id"),
    "level": ("level",),
    "transfer": ("team", "region", "manager_id"),
    "transfer_partner": ("team", "region", "manager_id", "partner_id"),  # a transfer that names the partner
    "left": ("status",),
}


class OrgProjection(Projection):
    name = "org"
    version = 3  # 2: members keep their external_id (imports); 3: the partner a rep is staff of
    tables = {
        "members": [
            """CREATE TABLE IF NOT EXISTS {members} (
            rep_id TEXT PRIMARY KEY, name TEXT NOT NULL, hired_on TEXT, external_id TEXT)""",
            "CREATE INDEX IF NOT EXISTS {members}_external ON {members} (external_id)",
        ],
        "changes": [
            """CREATE TABLE IF NOT EXISTS {changes} (
            position BIGINT PRIMARY KEY, rep_id TEXT NOT NULL, kind TEXT NOT NULL, effective_from TEXT NOT NULL,
            level TEXT, team TEXT, region TEXT, manager_id TEXT, status TEXT, partner_id TEXT)""",
            "CREATE INDEX IF NOT EXISTS {changes}_rep ON {changes} (rep_id, effective_from)",
        ],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        return {
            "members": Rows(tx, tables["members"], "rep_id", MEMBER_COLUMNS),
            "changes": Rows(tx, tables["changes"], "position", CHANGE_COLUMNS),
        }

    def _change(self, s: dict[str, Rows], r: Recorded, kind: str, effective_from: date, **fields: Any) -> None:
        row = dict.fromkeys(CHANGE_COLUMNS)
        row.update(
            position=r.position, rep_id=r.aggregate_id, kind=kind, effective_from=effective_from.isoformat(), **fields
        )
        s["changes"].put(row)

    @handles(Rep.Hired)
    def rep_hired(self, s: dict[str, Rows], r: Recorded) -> None:
        e = r.event
        s["members"].put(
            {
                "rep_id": r.aggregate_id,
                "name": e.name,
                "hired_on": e.hired_on.isoformat() if e.hired_on else None,
                "external_id": getattr(e, "external_id", None),
            }
        )
        self._change(
            s,
            r,
            "hired",
            e.hired_on or date.min,
            level=e.level,
            team=e.team,
            region=e.region,
            manager_id=e.manager_id,
            status="active",
            partner_id=getattr(e, "partner_id", None),
        )

    @handles(Rep.LevelChanged)
    def rep_level_changed(self, s: dict[str, Rows], r: Recorded) -> None:
        self._change(s, r, "level", r.event.effective_from, level=r.event.to_level)

    @handles(Rep.Transferred)
    def rep_transferred(self, s: dict[str, Rows], r: Recorded) -> None:
        kind = "transfer_partner" if "partner_id" in r.event.to_assignment else "transfer"
        self._change(s, r, kind, r.event.effective_from, **r.event.to_assignment)

    @handles(Rep.Left)
    def rep_left(self, s: dict[str, Rows], r: Recorded) -> None:
        self._change(s, r, "left", r.event.effective_on, status="left")


ORG = OrgProjection()


class OrgHistory:
    """Every rep's effective-dated timeline, loaded once per position of the org read model (`of`)."""

    def __init__(self, tx: Tx, until_position: int | None = None, tables: dict[str, str] | None = None) -> None:
        t = tables or active_tables(tx, ORG)  # `tables`: a copy kept inside another read model
        self.names = {rep_id: name for rep_id, name in tx.all(f"SELECT rep_id, name FROM {t['members']}")}
        self.timelines: dict[str, list[dict[str, Any]]] = {}
        for row in tx.all(
            f"SELECT {', '.join(CHANGE_COLUMNS)} FROM {t['changes']} WHERE position <= ? "
            f"ORDER BY effective_from, position",
            (until_position or 2**62,),
        ):
            change = dict(zip(CHANGE_COLUMNS, row, strict=True))
            entry = {"effective_from": date.fromisoformat(change["effective_from"]), "seq": change["position"]}
            entry.update({k: change[k] for k in KIND_FIELDS[change["kind"]]})
            self.timelines.setdefault(change["rep_id"], []).append(entry)
        self._dates = {rep: [c["effective_from"] for c in tl] for rep, tl in self.timelines.items()}
        # answers that depend on the timeline alone, remembered: an instance is shared by queries
        # (`of`), and a rep's standing only changes on the days their changes take effect
        self._in_scope: dict[tuple[str, int, str, bool], bool] = {}
        self.placements: dict[tuple[str, ...], dict[tuple[str, str], bool | None]] = {}

    @classmethod
    def of(cls, tx: Tx) -> OrgHistory:
        """The timeline as the org read model stands, built once per position of it and shared
        by the transactions of one database (it is never changed once built): a query asks one
        row for it instead of reading the org."""
        tables, position = active_tables_at(tx, ORG)
        key = (tables["changes"], position)
        cached = tx.shared.get("org-history")
        if cached is not None and cached[0] == key:
            return cast(OrgHistory, cached[1])
        history = cls(tx, until_position=position, tables=tables)
        tx.shared["org-history"] = (key, history)
        return history

    def attrs(self, rep_id: str, day: date) -> dict[str, Any] | None:
        """The rep's level, team, region, manager and status on `day`, or None before hiring."""
        timeline = self.timelines.get(rep_id)
        if not timeline:
            return None
        return fold(timeline[: bisect_right(self._dates[rep_id], day)])

    def members(self, day: date, scope: str = "company") -> list[str]:
        """Active reps on `day` within scope (company, region:X, team:Y, rep:ID, partner:ID)."""
        return [rep for rep in self.timelines if self.in_scope(rep, day, scope, active_only=True)]

    def ancestors(self, rep_id: str, day: date) -> list[str]:
        """The rep's manager, their manager, and so on, on `day`."""
        chain, current = [], (self.attrs(rep_id, day) or {}).get("manager_id")
        while current and current not in chain and current != rep_id:
            chain.append(current)
            current = (self.attrs(current, day) or {}).get("manager_id")
        return chain

    def ever_in(self, scope: str) -> list[str] | None:
        """The reps who ever sat in `scope` (a team, region, partner or one rep), sorted: the only
        ones `in_scope` can be true for; None for the company (every rep)."""
        kind, _, name = scope.partition(":")
        if kind == "company":
            return None
        if kind == "rep":
            return [name] if name in self.timelines else []
        key = "partner_id" if kind == "partner" else kind
        return sorted(rep for rep, timeline in self.timelines.items() if any(c.get(key) == name for c in timeline))

    def in_scope(self, rep_id: str, day: date, scope: str, *, active_only: bool = False) -> bool:
        dates = self._dates.get(rep_id)
        if not dates:
            return False
        seen = bisect_right(dates, day)  # the rep's changes in effect on `day`
        key = (rep_id, seen, scope, active_only)
        found = self._in_scope.get(key)
        if found is None:
            found = self._in_scope[key] = self._sits_in(rep_id, seen, scope, active_only)
        return found

    def _sits_in(self, rep_id: str, seen: int, scope: str, active_only: bool) -> bool:
        if not seen:  # not hired yet
            return False
        attrs = fold(self.timelines[rep_id][:seen])
        if active_only and attrs["status"] != "active":
            return False
        kind, _, name = scope.partition(":")
        return {
            "company": True,
            "region": attrs["region"] == name,
            "team": attrs["team"] == name,
            "rep": rep_id == name,
            "partner": attrs.get("partner_id") == name,
        }.get(kind, False)


def org_as_of(tx: Tx, day: date) -> dict[str, Any]:
    history = OrgHistory.of(tx)
    nodes = []
    for rep_id in history.members(day):
        attrs = history.attrs(rep_id, day)
        nodes.append(
            {
                "rep_id": rep_id,
                "name": history.names.get(rep_id),
                "level": attrs["level"],
                "manager_id": attrs["manager_id"],
                "team": attrs["team"],
                "region": attrs["region"],
                "partner_id": attrs.get("partner_id"),
                "duties": Level(attrs["level"]).duties,
            }
        )
    nodes.sort(key=lambda n: (-Level(n["level"]).rank, n["region"], n["team"], n["name"] or ""))
    return {"as_of": day, "nodes": nodes}


def roster(tx: Tx, day: date) -> list[dict[str, Any]]:
    """Active members on `day` with their level, team and region (for lead assignment)."""
    history = OrgHistory.of(tx)
    return [{"rep_id": rep, "name": history.names.get(rep), **history.attrs(rep, day)} for rep in history.members(day)]


def direct_reports(tx: Tx, manager_id: str) -> list[str]:
    """Active reps whose manager is `manager_id` once every recorded change has taken effect
    (the reports a leaving manager must hand over), sorted by id."""
    history = OrgHistory.of(tx)
    return sorted(
        rep
        for rep in history.timelines
        if (attrs := history.attrs(rep, date.max)) and attrs["manager_id"] == manager_id and attrs["status"] == "active"
    )


def list_reps(
    tx: Tx,
    *,
    day: date,
    after: str | None = None,
    limit: int = 50,
    visible_to: Collection[str] | None = None,
    **filters: str | None,
) -> dict[str, Any]:
    """Reps as they stood on `day` (hired by then), by id, with keyset paging: `next` is the id to
    pass as `after`. Filters: team, region, level, status (active | left), manager_id, external_id,
    partner_id.
    With `visible_to`, only those reps."""
    t = active_tables(tx, ORG)
    history = OrgHistory.of(tx)
    external = {rep: ext for rep, ext in tx.all(f"SELECT rep_id, external_id FROM {t['members']}")}
    hired = {rep: on for rep, on in tx.all(f"SELECT rep_id, hired_on FROM {t['members']}")}
    items: list[dict[str, Any]] = []
    more = False
    for rep_id in sorted(history.timelines):
        if after is not None and rep_id <= after:
            continue
        if visible_to is not None and rep_id not in visible_to:
            continue
        attrs = history.attrs(rep_id, day)
        if attrs is None:
            continue
        item = {
            "rep_id": rep_id,
            "name": history.names.get(rep_id),
            "external_id": external.get(rep_id),
            "level": attrs["level"],
            "team": attrs["team"],
            "region": attrs["region"],
            "manager_id": attrs["manager_id"],
            "status": attrs["status"],
            "hired_on": hired.get(rep_id),
            "partner_id": attrs.get("partner_id"),
        }
        if any(value is not None and item.get(key) != value for key, value in filters.items()):
            continue
        if len(items) == limit:
            more = True
            break
        items.append(item)
    return {"as_of": day, "items": items, "next": items[-1]["rep_id"] if more else None}


def reps_by_external_id(tx: Tx) -> dict[str, str]:
    """external_id → rep_id for every rep that came with one."""
    t = active_tables(tx, ORG)
    return {
        ext: rep for rep, ext in tx.all(f"SELECT rep_id, external_id FROM {t['members']} WHERE external_id IS NOT NULL")
    }


def month_bounds(month: str) -> tuple[date, date]:
    start = date.fromisoformat(f"{month}-01")
    end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return start, end


class Placement:
    """Whether a rep sat in every requested scope (team, region, ...) on a day, from the org
    timeline; a whole month at once when no change of theirs took effect inside it."""

    def __init__(self, tx: Tx, scopes: list[str], org: OrgHistory | None = None) -> None:
        self.org, self.scopes = org or OrgHistory.of(tx), scopes
        self._months = self.org.placements.setdefault(tuple(scopes), {})  # shared with the timeline

    def on(self, owner: str, day: date) -> bool:
        return all(self.org.in_scope(owner, day, s) for s in self.scopes)

    def month(self, owner: str, month: str) -> bool | None:
        """True or False for the whole month, None when the owner's placement changed within it
        (a change of theirs that leaves them in, or out of, the scopes all month does not count)."""
        key = (owner, month)
        if key not in self._months:
            start, end = month_bounds(month)
            # the placement can only change on the days the owner's org record changed
            seen = {
                self.on(owner, day) for day in (start, *(d for d in self.org._dates.get(owner, []) if start < d <= end))
            }
            self._months[key] = seen.pop() if len(seen) == 1 else None
        return self._months[key]


def ever_in_clause(tx: Tx, org: OrgHistory, scope: str, column: str) -> tuple[str, list[Any]]:
    """`AND column IN (...)` over the reps who ever sat in `scope` (nothing for the company):
    a team's or a region's queries read only their rows."""
    ever = org.ever_in(scope)
    if ever is None:
        return "", []
    clause, params = tx.among(column, ever)
    return f" AND {clause}", params
