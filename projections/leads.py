"""Leads read model: queues, the pool, de-duplication lookups, the SLA report and source
effectiveness."""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from domain.deal import Deal
from domain.errors import InvalidInput
from domain.lead import OPEN_STATUSES, Lead
from domain.lead_policy import company_key, email_key, phone_key, sla_due
from domain.personal import plain
from domain.values import Period
from infrastructure.database import Tx, missing_table
from projections.engine import tracking
from projections.engine.projection import Projection, Recorded, Rows, handles
from projections.engine.tail import MAX_AGE_SECONDS, Tail
from projections.engine.tracking import active_tables
from projections.kpi import utc_text
from projections.money import fraction, from_cents, to_cents
from projections.org import OrgHistory

LEAD_COLUMNS = (
    "lead_id",
    "position",
    "company",
    "company_key",
    "phone_key",
    "email_key",
    "region",
    "industry",
    "size_band",
    "product_line",
    "source",
    "captured_on",
    "status",
    "grade",
    "score",
    "assignee_id",
    "assigned_at",
    "first_contact_at",
    "last_contact_at",
    "duplicate_of",
    "customer_id",
    "deal_id",
    "qualified",
    "converted",
    "won_deals",
    "won_cents",
    "current_assignment",
    "external_id",
)
ASSIGNMENT_COLUMNS = ("assignment_id", "lead_id", "rep_id", "grade", "kind", "assigned_at", "first_contact_at")
BREACH_COLUMNS = ("breach_id", "lead_id", "rep_id", "grade", "kind", "due_at", "as_of")
PUBLIC = (
    "lead_id",
    "company",
    "region",
    "industry",
    "size_band",
    "product_line",
    "source",
    "captured_on",
    "status",
    "grade",
    "score",
    "assignee_id",
    "assigned_at",
    "first_contact_at",
    "last_contact_at",
    "duplicate_of",
    "customer_id",
    "deal_id",
    "external_id",
)


def _when(moment: datetime | None) -> str | None:
    return None if moment is None else utc_text(moment)


class LeadsProjection(Projection):
    name = "leads"
    version = 2  # 2: leads keep their external_id (imports)
    tables = {
        "leads": [
            """CREATE TABLE IF NOT EXISTS {leads} (
            lead_id TEXT PRIMARY KEY, position BIGINT NOT NULL, company TEXT NOT NULL, company_key TEXT,
            phone_key TEXT, email_key TEXT, region TEXT NOT NULL, industry TEXT NOT NULL, size_band TEXT,
            product_line TEXT, source TEXT NOT NULL, captured_on TEXT NOT NULL, status TEXT NOT NULL, grade TEXT,
            score TEXT, assignee_id TEXT, assigned_at TEXT, first_contact_at TEXT, last_contact_at TEXT,
            duplicate_of TEXT, customer_id TEXT, deal_id TEXT, qualified INTEGER NOT NULL, converted INTEGER NOT NULL,
            won_deals INTEGER NOT NULL, won_cents BIGINT NOT NULL, current_assignment BIGINT, external_id TEXT)""",
            "CREATE INDEX IF NOT EXISTS {leads}_external ON {leads} (external_id)",
            "CREATE INDEX IF NOT EXISTS {leads}_queue ON {leads} (assignee_id, status)",
            "CREATE INDEX IF NOT EXISTS {leads}_phone ON {leads} (phone_key)",
            "CREATE INDEX IF NOT EXISTS {leads}_email ON {leads} (email_key)",
            "CREATE INDEX IF NOT EXISTS {leads}_company ON {leads} (company_key, region)",
            "CREATE INDEX IF NOT EXISTS {leads}_position ON {leads} (position)",
        ],
        "assignments": [
            """CREATE TABLE IF NOT EXISTS {assignments} (
            assignment_id BIGINT PRIMARY KEY, lead_id TEXT NOT NULL, rep_id TEXT NOT NULL, grade TEXT,
            kind TEXT NOT NULL, assigned_at TEXT NOT NULL, first_contact_at TEXT)"""
        ],
        "breaches": [
            """CREATE TABLE IF NOT EXISTS {breaches} (
            breach_id BIGINT PRIMARY KEY, lead_id TEXT NOT NULL, rep_id TEXT, grade TEXT, kind TEXT NOT NULL,
            due_at TEXT NOT NULL, as_of TEXT NOT NULL)"""
        ],
        "deals": ["""CREATE TABLE IF NOT EXISTS {deals} (deal_id TEXT PRIMARY KEY, lead_id TEXT NOT NULL)"""],
    }

    def begin(self, tx: Tx, tables: dict[str, str], batch: Sequence[Recorded]) -> dict[str, Rows]:
        state = {
            "leads": Rows(tx, tables["leads"], "lead_id", LEAD_COLUMNS),
            "deals": Rows(tx, tables["deals"], "deal_id", ("deal_id", "lead_id")),
            "assignments": Rows(tx, tables["assignments"], "assignment_id", ASSIGNMENT_COLUMNS),
            "breaches": Rows(tx, tables["breaches"], "breach_id", BREACH_COLUMNS),
        }
        self.preload(state, batch)
        return state

    @staticmethod
    def preload(state: dict[str, Rows], batch: Sequence[Recorded]) -> None:
        """Load together the rows the batch's handlers will change."""
        state["leads"].load(r.aggregate_id for r in batch if r.type.startswith("Lead") and r.type != "LeadCaptured")
        state["deals"].load(r.aggregate_id for r in batch if r.type == "DealWon")

    @handles(Lead.Captured)
    def lead_captured(self, s, r: Recorded) -> None:
        e = r.event
        s["leads"].put(
            {
                "lead_id": r.aggregate_id,
                "position": r.position,
                "company": e.company,
                "company_key": company_key(e.company),
                "phone_key": phone_key(plain(e.contact.get("phone"))),
                "email_key": email_key(plain(e.contact.get("email"))),
                "region": e.region,
                "industry": e.industry,
                "size_band": e.contact.get("size_band"),
                "product_line": e.contact.get("product_line"),
                "source": e.source,
                "captured_on": e.captured_on.isoformat(),
                "status": "duplicate" if e.duplicate_of else "pool",
                "grade": None,
                "score": None,
                "assignee_id": None,
                "assigned_at": None,
                "first_contact_at": None,
                "last_contact_at": None,
                "duplicate_of": e.duplicate_of,
                "customer_id": None,
                "deal_id": None,
                "qualified": 0,
                "converted": 0,
                "won_deals": 0,
                "won_cents": 0,
                "current_assignment": None,
                "external_id": getattr(e, "external_id", None),
            }
        )

    @handles(Lead.Scored)
    def lead_scored(self, s, r: Recorded) -> None:
        s["leads"].update(r.aggregate_id, grade=r.event.grade, score=str(r.event.score))

    @handles(Lead.Assigned)
    def lead_assigned(self, s, r: Recorded) -> None:
        lead = s["leads"].get(r.aggregate_id)
        if lead is None:
            return
        e = r.event
        s["leads"].update(
            r.aggregate_id,
            assignee_id=e.rep_id,
            assigned_at=_when(e.assigned_at),
            first_contact_at=None,
            current_assignment=r.position,
            status="assigned" if lead["status"] == "pool" else lead["status"],
        )
        s["assignments"].put(
            {
                "assignment_id": r.position,
                "lead_id": r.aggregate_id,
                "rep_id": e.rep_id,
                "grade": lead["grade"],
                "kind": e.kind,
                "assigned_at": _when(e.assigned_at),
                "first_contact_at": None,
            }
        )

    @handles(Lead.Returned)
    def lead_returned(self, s, r: Recorded) -> None:
        s["leads"].update(
            r.aggregate_id,
            assignee_id=None,
            assigned_at=None,
            first_contact_at=None,
            current_assignment=None,
            status="pool",
        )

    @handles(Lead.Contacted)
    def lead_contacted(self, s, r: Recorded) -> None:
        lead = s["leads"].get(r.aggregate_id)
        if lead is None:
            return
        at = _when(r.event.occurred_at)
        first = lead["first_contact_at"] if lead["first_contact_at"] and lead["first_contact_at"] <= at else at
        last = lead["last_contact_at"] if lead["last_contact_at"] and lead["last_contact_at"] >= at else at
        s["leads"].update(r.aggregate_id, first_contact_at=first, last_contact_at=last)
        if lead["current_assignment"] is not None:
            assignment = s["assignments"].get(lead["current_assignment"])
            if assignment is not None and (
                assignment["first_contact_at"] is None or at < assignment["first_contact_at"]
            ):
                s["assignments"].update(lead["current_assignment"], first_contact_at=at)

    @handles(Lead.SlaBreached)
    def lead_sla_breached(self, s, r: Recorded) -> None:
        e = r.event
        s["breaches"].put(
            {
                "breach_id": r.position,
                "lead_id": r.aggregate_id,
                "rep_id": e.rep_id,
                "grade": e.grade,
                "kind": e.kind,
                "due_at": _when(e.due_at),
                "as_of": _when(e.as_of),
            }
        )

    @handles(Lead.Qualified)
    def lead_qualified(self, s, r: Recorded) -> None:
        s["leads"].update(r.aggregate_id, status="qualified", qualified=1)

    @handles(Lead.Disqualified)
    def lead_disqualified(self, s, r: Recorded) -> None:
        s["leads"].update(r.aggregate_id, status="disqualified", assignee_id=None, current_assignment=None)

    @handles(Lead.Converted)
    def lead_converted(self, s, r: Recorded) -> None:
        e = r.event
        s["leads"].update(
            r.aggregate_id,
            status="converted",
            qualified=1,
            converted=1,
            customer_id=e.customer_id,
            deal_id=e.deal_id,
            assignee_id=None,
            current_assignment=None,
        )

    @handles(Lead.MergedInto)
    def lead_merged_into(self, s, r: Recorded) -> None:
        s["leads"].update(r.aggregate_id, status="merged", assignee_id=None, current_assignment=None)

    @handles(Lead.Absorbed)
    def lead_absorbed(self, s, r: Recorded) -> None:
        filled = r.event.filled
        changes = {
            k: v
            for k, v in {
                "phone_key": phone_key(plain(filled.get("phone"))),
                "email_key": email_key(plain(filled.get("email"))),
                "size_band": filled.get("size_band"),
                "product_line": filled.get("product_line"),
            }.items()
            if v
        }
        s["leads"].update(r.aggregate_id, **changes)

    @handles(Lead.Forgotten)
    def lead_forgotten(self, s, r: Recorded) -> None:
        """Nothing derived from the subject's personal data stays in the read model."""
        s["leads"].update(r.aggregate_id, phone_key=None, email_key=None)

    @handles(Deal.Opened)
    def deal_opened(self, s, r: Recorded) -> None:
        lead_id = getattr(r.event, "lead_id", None)
        if lead_id:
            s["deals"].put({"deal_id": r.aggregate_id, "lead_id": lead_id})

    @handles(Deal.Won)
    def deal_won(self, s, r: Recorded) -> None:
        link = s["deals"].get(r.aggregate_id)
        lead = link and s["leads"].get(link["lead_id"])
        if lead:
            s["leads"].update(
                lead["lead_id"], won_deals=lead["won_deals"] + 1, won_cents=lead["won_cents"] + to_cents(r.event.amount)
            )


LEADS = LeadsProjection()

# -- queries ---------------------------------------------------------------------------------------
OPEN = tuple(OPEN_STATUSES)


def _duplicate_keys(
    phone: str | None, email: str | None, company: str | None, region: str
) -> list[tuple[str, str, str | None]]:
    """What makes another open lead a duplicate: (column, key, region the key needs or None)."""
    keys: list[tuple[str, str, str | None]] = []
    for column, key in (("phone_key", phone_key(phone)), ("email_key", email_key(email))):
        if key:
            keys.append((column, key, None))
    if company_key(company):
        keys.append(("company_key", company_key(company), region))
    return keys


def _stored_sql(table: str, keys: list[tuple[str, str, str | None]], limit: int) -> tuple[str, list[Any]]:
    """The query of the earliest `limit` open leads of `table` matching any of `keys`, in capture
    order: (lead id, capture position)."""
    marks = ", ".join("?" * len(OPEN))
    clauses, params = [], []
    for column, key, in_region in keys:
        if in_region is None:
            clauses.append(f"{column} = ?")
            params.append(key)
        else:
            clauses.append(f"({column} = ? AND region = ?)")
            params += [key, in_region]
    return (
        f"SELECT lead_id, position FROM {table} WHERE status IN ({marks}) AND ({' OR '.join(clauses)}) "
        f"ORDER BY position LIMIT {int(limit)}",
        [*OPEN, *params],
    )


def find_duplicate(tx: Tx, *, phone: str | None, email: str | None, company: str | None, region: str) -> str | None:
    """The earliest open lead with the same normalised phone or email, or the same normalised
    company name in the same region (in the read model as far as it has got)."""
    keys = _duplicate_keys(phone, email, company, region)
    if not keys:
        return None
    found = tx.all(*_stored_sql(active_tables(tx, LEADS)["leads"], keys, 1))
    return found[0][0] if found else None


TAIL_LIMIT = 5000  # store positions the read model may lag for `find_duplicate_at_head` to answer


class TooFarBehind(LookupError):
    """The leads read model is too far behind (or failing) to be completed in memory."""


STORED_AT_ONCE = 8  # stored matches read with the head; when every one changed since, catch up instead
GENERATION_HINT = ("active generation", "leads")  # in Database.shared; checked by the statement using it


def find_duplicate_at_head(
    tx: Tx,
    tail: Tail,
    *,
    phone: str | None,
    email: str | None,
    company: str | None,
    region: str,
    tail_limit: int = TAIL_LIMIT,
) -> str | None:
    """`find_duplicate` as of the store head, without catching the read model up: the read
    model as it stands and, applied in memory by the projection's own handlers and never
    written, the lead events stored after its position (from `tail`, which reads each new event
    once for every command of the process).

    One statement on `tx` (a plain read will do) reads, as one snapshot, the read model's
    position, the store head and the earliest matching open leads: its table is the active
    generation this process last saw, which the same statement confirms. Raises TooFarBehind
    when the read model lags more than `tail_limit` positions, is failing or not registered,
    or when the answer needs more than that statement read (a new generation whose tables
    replaced the ones it named, or more matching leads than it read): then catch it up and use
    `find_duplicate`."""
    keys = _duplicate_keys(phone, email, company, region)
    if not keys:
        return None
    generation: int | None = tx.shared.get(GENERATION_HINT)
    head_sql = tail.source.head_sql(tx.kind)
    while True:
        query = (
            None if generation is None else _stored_sql(LEADS.table_names(generation)["leads"], keys, STORED_AT_ONCE)
        )
        try:
            reg, position, head, stored = tracking.at_head(tx, LEADS.name, head_sql, query)
        except Exception as error:
            if query is None or not missing_table(error):
                raise
            tx.shared.pop(GENERATION_HINT, None)  # those tables were dropped by a switch
            raise TooFarBehind(f"the {LEADS.name} read model moved to a new generation") from error
        if reg is None or reg.version != LEADS.version or reg.state == "failed":
            raise TooFarBehind(f"the {LEADS.name} read model is not ready")
        if reg.active_generation == generation:
            break
        generation = tx.shared[GENERATION_HINT] = reg.active_generation
    # (`head` is this statement's: every event up to it is committed)
    if head - position > tail_limit:
        raise TooFarBehind(f"the {LEADS.name} read model is {head - position} positions behind")
    with _AT_HEAD_LOCK:
        at_head = _leads_at_head(tx, tail, generation, position, head, tail_limit)
        if at_head is not None:
            found, changed = at_head.matching(keys), {lead_id for lead_id, _ in stored if at_head.holds(lead_id)}
    if at_head is None:
        found, changed = _matching_replayed(tx, tail, generation, position, head, keys, tail_limit)
    untouched = [(lead_id, int(at)) for lead_id, at in stored if lead_id not in changed]  # since `position`
    if not untouched and len(stored) == STORED_AT_ONCE:
        raise TooFarBehind(f"all of the first {STORED_AT_ONCE} matching leads changed since the read model's position")
    found += untouched
    return min(found, key=lambda lead: lead[1])[0] if found else None


Keys = list[tuple[str, str, str | None]]


def _apply(state: dict[str, Rows], events: Sequence[Recorded]) -> None:
    """The projection's own handlers, applied in memory (never written)."""
    LEADS.preload(state, events)
    for record in events:
        handler = LEADS.handlers.get(type(record.event))
        if handler is not None:
            try:
                getattr(LEADS, handler)(state, record)
            except Exception as error:  # the live runner will stop on it: let the catch-up say so
                raise TooFarBehind(f"{record.type} at {record.position}: {error!r}") from error


def _matches(row: dict, keys: Keys) -> bool:
    """An open lead with one of the keys (a company's in its region)."""
    return row["status"] in OPEN and any(
        row[column] == key and in_region in (None, row["region"]) for column, key, in_region in keys
    )


def _matching_replayed(
    tx: Tx, tail: Tail, generation: int, position: int, head: int, keys: Keys, tail_limit: int
) -> tuple[list[tuple[str, int]], set[str]]:
    """The open leads matching `keys` among those changed after `position`, replayed for this
    capture alone (lead id, capture position); and the leads changed."""
    window = tail.window(position, tail_limit, LEADS.topics, until=head)
    if window is None:  # further behind than the tail reaches
        events = tail.source.read(position, tail_limit, stop=head, topics=LEADS.topics) if head > position else []
    else:
        head, _, events = window  # (perhaps beyond this statement's head: every event up to it)
    if head - position > tail_limit:
        raise TooFarBehind(f"the {LEADS.name} read model is {head - position} positions behind")
    state = LEADS.begin(tx, LEADS.table_names(generation), [])
    _apply(state, events)
    changed = {row["lead_id"]: row for row in state["leads"].loaded()}  # as of the head
    return [(lead_id, row["position"]) for lead_id, row in changed.items() if _matches(row, keys)], set(changed)


AT_HEAD_SECONDS = MAX_AGE_SECONDS  # how long one process's leads at head are kept, then begun anew
_AT_HEAD_LOCK = threading.Lock()
_AT_HEAD: weakref.WeakKeyDictionary[Tail, LeadsAtHead] = weakref.WeakKeyDictionary()  # one per engine's tail


class LeadsAtHead:
    """The leads changed after a read-model position (`floor`), as of store position `upto`: the
    lead events stored since, applied in memory by the projection's own handlers once for every
    capture of the process, instead of once per capture (at 400 captures a second the read
    model lags ~20 events, each replayed by every capture). Never written.

    It answers a capture whose read-model position lies in [floor, upto]: a lead it does not
    hold was not changed after `floor`, so the read model's row is as current. It is begun anew
    for a new generation, when the read model has moved past it, and every AT_HEAD_SECONDS:
    like the tail, it keeps no personal data longer than a key may stay cached after a
    forgetting."""

    def __init__(self, tx: Tx, generation: int, position: int) -> None:
        self.generation, self.floor, self.upto = generation, position, position
        self.begun = time.monotonic()
        self.state = LEADS.begin(tx, LEADS.table_names(generation), [])
        self._index: dict[tuple[str, str], set[str]] = defaultdict(set)  # (key column, key) -> lead ids
        self._keys_of: dict[str, list[tuple[str, str]]] = {}

    def _current(self, generation: int) -> bool:
        return generation == self.generation and time.monotonic() - self.begun < AT_HEAD_SECONDS

    def serves(self, generation: int, position: int) -> bool:
        """It answers for a read model at `position`: not further on than it got, and not
        before it began (a lead changed in between would be neither held nor current)."""
        return self._current(generation) and self.floor <= position <= self.upto

    def begun_after(self, generation: int, position: int) -> bool:
        """A capture that read the read model before it began (concurrent captures see slightly
        different positions): it answers that one alone, and stays for the others."""
        return self._current(generation) and position < self.floor

    def extend(self, tx: Tx, events: Sequence[Recorded], upto: int) -> None:
        """Apply the events in (self.upto, upto]; rows not held yet are read on `tx`."""
        for rows in self.state.values():
            rows.tx = tx
        _apply(self.state, events)
        leads = self.state["leads"]
        for lead_id in leads.drain_changed() | (leads.keys_held() - self._keys_of.keys()):
            self._reindex(lead_id, leads.held(lead_id))
        self.upto = upto

    def _reindex(self, lead_id: str, row: dict | None) -> None:
        for key in self._keys_of.pop(lead_id, ()):
            self._index[key].discard(lead_id)
        keys = [] if row is None else [(c, row[c]) for c in ("phone_key", "email_key", "company_key") if row[c]]
        for key in keys:
            self._index[key].add(lead_id)
        self._keys_of[lead_id] = keys

    def holds(self, lead_id: str) -> bool:
        return self.state["leads"].held(lead_id) is not None

    def matching(self, keys: Keys) -> list[tuple[str, int]]:
        """The open leads it holds that match `keys`: (lead id, capture position)."""
        found = []
        for lead_id in {lead_id for column, key, _ in keys for lead_id in self._index.get((column, key), ())}:
            row = self.state["leads"].held(lead_id)
            if row is not None and _matches(row, keys):
                found.append((lead_id, row["position"]))
        return found


def _leads_at_head(
    tx: Tx, tail: Tail, generation: int, position: int, head: int, tail_limit: int
) -> LeadsAtHead | None:
    """The process's leads at head, brought up to at least `head`, for a capture that read the
    read model at `position`; None when the tail does not reach back far enough."""
    at_head = _AT_HEAD.get(tail)
    if at_head is not None and at_head.begun_after(generation, position):
        return None  # a capture whose snapshot is older than the one it was begun at: replay alone
    if at_head is None or not at_head.serves(generation, position):
        at_head = LeadsAtHead(tx, generation, position)
    window = tail.window(at_head.upto, tail_limit, LEADS.topics, until=head)
    _AT_HEAD.pop(tail, None)  # put back only once extended without failing
    if window is None or window[1] < head:
        return None
    at_head.extend(tx, window[2], window[1])
    _AT_HEAD[tail] = at_head
    return at_head


def _public(row: dict) -> dict:
    item = {k: row[k] for k in PUBLIC}
    item["score"] = None if row["score"] is None else Decimal(row["score"])
    return item


def list_leads(
    tx: Tx,
    *,
    after: int = 0,
    limit: int = 50,
    pool: bool = False,
    visible_to: Collection[str] | None = None,
    **filters: str | None,
) -> dict:
    """Leads in capture order with keyset paging (`next` is the cursor for the following page).
    With `visible_to`: only leads those reps hold, and those waiting in the pool."""
    t = active_tables(tx, LEADS)
    where, params = ["position > ?"], [after]
    if pool:
        where.append(POOLED)
    if visible_to is not None:
        where.append(f"({_member('assignee_id', visible_to, params)} OR {POOLED})")
    for column in (
        "assignee_id",
        "status",
        "grade",
        "region",
        "industry",
        "source",
        "product_line",
        "size_band",
        "external_id",
    ):
        if filters.get(column) is not None:
            where.append(f"{column} = ?")
            params.append(filters[column])
    rows = tx.all(
        f"SELECT {', '.join(LEAD_COLUMNS)} FROM {t['leads']} WHERE {' AND '.join(where)} ORDER BY position LIMIT ?",
        [*params, limit + 1],
    )
    rows = [dict(zip(LEAD_COLUMNS, r, strict=True)) for r in rows]
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [_public(r) for r in rows], "next": rows[-1]["position"] if more else None}


def lead_ids(tx: Tx) -> set[str]:
    """The id of every lead captured (the import checks which of its leads are stored at once)."""
    t = active_tables(tx, LEADS)
    return {r[0] for r in tx.all(f"SELECT lead_id FROM {t['leads']}", [])}


POOLED = "(assignee_id IS NULL AND status = 'pool')"


def _member(column: str, values: Collection[str], params: list) -> str:
    """`column IN (?, ...)` for a set of values (always false for an empty set)."""
    params.extend(sorted(values))
    return f"{column} IN ({', '.join('?' * len(values))})" if values else "1 = 0"


def queue(tx: Tx, rep_id: str, settings: dict, now: datetime) -> dict:
    """A rep's open leads, most urgent first: grade, age, what is due next and the SLA state."""
    t = active_tables(tx, LEADS)
    marks = ", ".join("?" * len(OPEN))
    rows = [
        dict(zip(LEAD_COLUMNS, r, strict=True))
        for r in tx.all(
            f"SELECT {', '.join(LEAD_COLUMNS)} FROM {t['leads']} WHERE assignee_id = ? AND status IN ({marks})",
            [rep_id, *OPEN],
        )
    ]
    items = []
    for row in rows:
        kind, due = sla_due(
            settings,
            grade=row["grade"],
            assigned_at=datetime.fromisoformat(row["assigned_at"]),
            first_contact_at=row["first_contact_at"] and datetime.fromisoformat(row["first_contact_at"]),
            last_contact_at=row["last_contact_at"] and datetime.fromisoformat(row["last_contact_at"]),
        )
        state = "breached" if due < now else "due_soon" if due - now <= timedelta(hours=24) else "ok"
        items.append(
            {
                **_public(row),
                "age_days": (now.date() - date.fromisoformat(row["captured_on"])).days,
                "next_due": {"kind": kind, "at": due},
                "sla_state": state,
            }
        )
    items.sort(key=lambda i: (i["next_due"]["at"], i["lead_id"]))
    return {"rep_id": rep_id, "as_of": now, "items": items}


def _hours(delta: timedelta) -> Decimal:
    return (Decimal(delta.total_seconds()) / 3600).quantize(Decimal("0.01"), ROUND_HALF_UP)


def _median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    ordered, mid = sorted(values), len(values) // 2
    middle = ordered[mid] if len(values) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return middle.quantize(Decimal("0.01"), ROUND_HALF_UP)


def _p90(values: list[Decimal]) -> Decimal | None:
    """Nearest-rank 90th percentile."""
    return sorted(values)[math.ceil(0.9 * len(values)) - 1] if values else None


def sla_report(tx: Tx, *, period: Period, group_by: str = "rep", reps: Collection[str] | None = None) -> dict:
    """First-response time (hours, median and p90) of assignments made in the period and the
    SLA breaches falling due in it, per rep, team (on the assignment date) or grade; with `reps`,
    only those reps' assignments."""
    if group_by not in ("rep", "team", "grade"):
        raise InvalidInput("group_by must be rep, team or grade", field="group_by")
    t = active_tables(tx, LEADS)
    org = OrgHistory.of(tx)
    start, end = period.start.isoformat(), (period.end + timedelta(days=1)).isoformat()
    groups: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"assignments": 0, "responded": 0, "hours": [], "first_response_breaches": 0, "follow_up_breaches": 0}
    )

    def key(rep_id: str | None, grade: str | None, day: date) -> str:
        if group_by == "grade":
            return grade or "ungraded"
        if group_by == "team":
            return (org.attrs(rep_id, day) or {}).get("team") or "unknown" if rep_id else "unknown"
        return rep_id or "unknown"

    for rep_id, grade, assigned_at, first in tx.all(
        f"SELECT rep_id, grade, assigned_at, first_contact_at FROM {t['assignments']} "
        f"WHERE assigned_at >= ? AND assigned_at < ?",
        (start, end),
    ):
        if reps is not None and rep_id not in reps:
            continue
        at = datetime.fromisoformat(assigned_at)
        g = groups[key(rep_id, grade, at.date())]
        g["assignments"] += 1
        if first:
            g["responded"] += 1
            g["hours"].append(_hours(datetime.fromisoformat(first) - at))
    for rep_id, grade, kind, due_at in tx.all(
        f"SELECT rep_id, grade, kind, due_at FROM {t['breaches']} WHERE due_at >= ? AND due_at < ?", (start, end)
    ):
        if reps is not None and rep_id not in reps:
            continue
        groups[key(rep_id, grade, datetime.fromisoformat(due_at).date())][f"{kind}_breaches"] += 1
    rows = []
    for name, g in sorted(groups.items()):
        row = {
            group_by: name,
            "assignments": g["assignments"],
            "responded": g["responded"],
            "first_response_hours_median": _median(g["hours"]),
            "first_response_hours_p90": _p90(g["hours"]),
            "first_response_breaches": g["first_response_breaches"],
            "follow_up_breaches": g["follow_up_breaches"],
        }
        if group_by == "rep":
            row["name"] = org.names.get(name)
        rows.append(row)
    return {"period": period.label, "group_by": group_by, "rows": rows}


def source_effectiveness(tx: Tx, *, period: Period, reps: Collection[str] | None = None) -> dict:
    """Leads captured in the period per source and what became of them; with `reps`, only the
    leads those reps hold."""
    t = active_tables(tx, LEADS)
    rows, params = [], [period.start.isoformat(), period.end.isoformat()]
    held = "" if reps is None else f" AND {_member('assignee_id', reps, params)}"
    for source, captured, qualified, converted, won, cents in tx.all(
        f"SELECT source, COUNT(*), SUM(qualified), SUM(converted), SUM(won_deals), SUM(won_cents) "
        f"FROM {t['leads']} WHERE captured_on >= ? AND captured_on <= ? AND status NOT IN ('duplicate', 'merged')"
        f"{held} GROUP BY source ORDER BY source",
        params,
    ):
        rows.append(
            {
                "source": source,
                "captured": captured,
                "qualified": qualified,
                "converted": converted,
                "won_deals": won,
                "won_revenue": from_cents(cents),
                "qualification_rate": fraction(qualified, captured),
                "conversion_rate": fraction(converted, captured),
                "win_rate": fraction(won, converted),
            }
        )
    return {"period": period.label, "sources": rows}


def open_assigned(tx: Tx) -> list[str]:
    """Ids of open, assigned leads: the candidates of an SLA check."""
    t = active_tables(tx, LEADS)
    marks = ", ".join("?" * len(OPEN))
    return [
        lead
        for (lead,) in tx.all(
            f"SELECT lead_id FROM {t['leads']} WHERE assignee_id IS NOT NULL AND status IN ({marks}) ORDER BY position",
            list(OPEN),
        )
    ]
