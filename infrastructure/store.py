"""The event store: the `eventsourcing` application that records and loads aggregates.

It knows persistence (transcodings, the encrypted personal-data transcoding, optimistic
concurrency) and nothing about use cases. Every recorded event carries the command's metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from datetime import date, datetime
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, StoredEvent, Transcoding

from domain.access import AccessKey
from domain.assessment import AssessmentRound, AssessmentScheme, ImprovementPlan, TrainingProgramme
from domain.base import Entity, Meta
from domain.commission.period import CommissionPeriod
from domain.commission.plan import Plan
from domain.customer import Customer
from domain.deal import Deal
from domain.errors import Conflict, NotFound, VersionConflict
from domain.fx import FxRates
from domain.lead import Lead
from domain.lead_policy import LeadPolicy
from domain.partner import Partner
from domain.personal import Personal
from domain.rep import Rep
from domain.sales_policy import SalesPolicy
from domain.target import TargetSheet
from infrastructure import idempotency

if TYPE_CHECKING:
    from infrastructure.vault import PersonalAsCiphertext

T = TypeVar("T", bound=Entity)

AGGREGATES: dict[str, type[Entity]] = {
    "rep": Rep,
    "customer": Customer,
    "lead": Lead,
    "deal": Deal,
    "target_sheet": TargetSheet,
    "lead_policy": LeadPolicy,
    "sales_policy": SalesPolicy,
    "plan": Plan,
    "commission_period": CommissionPeriod,
    "access_key": AccessKey,
    "partner": Partner,
    "assessment_scheme": AssessmentScheme,
    "assessment_round": AssessmentRound,
    "improvement_plan": ImprovementPlan,
    "training_programme": TrainingProgramme,
    "fx_rates": FxRates,
}


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def parse_id(value: object, kind: str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        raise NotFound(f"no {kind} with id {value}", kind=kind, id=str(value)) from None


class ForgettingMapper(Mapper):
    """Reads events back; a personal value that an older event stored in clear (see
    domain/personal.py) reads as erased once its subject has been forgotten, like the
    encrypted ones whose key is gone."""

    is_forgotten: Callable[[str], bool] | None = None

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        event = super().to_domain_event(stored_event)
        if self.is_forgotten is not None:
            state = vars(event)
            for name, value in state.items():
                if isinstance(value, Personal) and value.in_clear and self.is_forgotten(value.subject):
                    state[name] = Personal(value.subject, None)
        return event


class _Keys(dict[str, str]):
    """A field's name as a JSON object key, with its colon."""

    def __missing__(self, name: str) -> str:
        self[name] = key = encode_basestring(name) + ":"
        return key


class BulkEncoder:
    """Encodes events exactly as the store's mapper does (the same bytes), several times faster:
    for the bulk write of an import. Each field value is written by its type: text, numbers,
    booleans and None as JSON, values of the registered transcodings whose encoding is text
    (Decimal, date, datetime, UUID) as the transcoder writes them; dicts and lists (the metadata
    stamp, the same object on every event) through the transcoder itself. The first event of
    each class is also encoded by the mapper and compared; a class that differs, an event with a
    value of another type, and a mapper with a compressor or cipher go through the mapper."""

    def __init__(self, mapper: Mapper) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        assert isinstance(transcoder, JSONTranscoder)
        self.container = transcoder.encoder.encode
        self.fragments: dict[type, Callable[[Any], str]] = {
            str: encode_basestring,
            int: int.__repr__,
            bool: lambda v: "true" if v else "false",
            type(None): lambda v: "null",
        }
        for kind, transcoding in transcoder.types.items():
            self.fragments.setdefault(kind, self._transcoded(transcoding))
        self.fragments[dict] = self.fragments[list] = self._container
        self.keys = _Keys()
        self.usable = mapper.compressor is None and mapper.cipher is None
        self.classes: dict[type, tuple[str, int] | None] = {}  # topic and class_version; None: the mapper
        self.last: tuple[object, str] = (None, "null")

    @staticmethod
    def _transcoded(transcoding: Transcoding) -> Callable[[Any], str]:
        head = '{"_type_":' + encode_basestring(transcoding.name) + ',"_data_":'
        encode = transcoding.encode
        return lambda v: head + encode_basestring(encode(v)) + "}"  # TypeError unless the encoding is text

    def _container(self, value: object) -> str:
        if value is not self.last[0]:
            self.last = (value, self.container(value))
        return self.last[1]

    def _state(self, event: Any, class_version: int) -> bytes:
        fragments, keys = self.fragments, self.keys
        parts = [
            keys[name] + fragments[type(value)](value)
            for name, value in vars(event).items()
            if name != "originator_id" and name != "originator_version"
        ]
        if class_version > 1:
            parts.append('"class_version":' + repr(class_version))
        return ("{" + ",".join(parts) + "}").encode("utf8")

    def to_stored_event(self, event: Any) -> StoredEvent:
        cls = type(event)
        if cls not in self.classes:
            return self._first(event)
        known = self.classes[cls]
        if known is None:
            return self.mapper.to_stored_event(event)
        try:
            state = self._state(event, known[1])
        except (KeyError, TypeError):  # a value of another type
            return self.mapper.to_stored_event(event)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=known[0],
            state=state,
        )

    def _first(self, event: Any) -> StoredEvent:
        """An event of a class not decided yet: encoded by the mapper, and compared."""
        expected = self.mapper.to_stored_event(event)
        cls = type(event)
        if not self.usable:
            self.classes[cls] = None
            return expected
        class_version = getattr(cls, "class_version", 1)
        try:
            state = self._state(event, class_version)
        except (KeyError, TypeError):
            return expected  # undecided: the next event of this class is compared
        self.classes[cls] = (expected.topic, class_version) if state == expected.state else None
        return expected


class EventStore(Application):
    name = "SalesLedger"

    def __init__(self, env: dict[str, str] | None = None, *, personal_data: PersonalAsCiphertext | None = None) -> None:
        """`personal_data` is the transcoding that stores Personal values (encrypted per data
        subject); without one, recording personal data is refused."""
        self.personal_data = personal_data
        super().__init__(env=env)

    def construct_mapper(self) -> Mapper:
        mapper = self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=ForgettingMapper)
        if self.personal_data is not None:
            mapper.is_forgotten = self.personal_data.is_forgotten
        return mapper

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        if self.personal_data is not None:
            transcoder.register(self.personal_data)

    def record(self, meta: Meta, *aggregates: Aggregate, forget: Sequence[str] = ()) -> int:
        """Atomically append the pending events of `aggregates`; answer the last store position.
        With `forget`, the personal-data keys of those subjects are destroyed in the same
        transaction: the events and the destruction are both recorded, or neither."""
        events = [e for agg in aggregates for e in agg.collect_events()]
        stamp = asdict(meta)
        for e in events:
            object.__setattr__(e, "meta", stamp)
        if forget and not getattr(self.recorder, "destroys_keys", False):
            raise RuntimeError("this store's recorder cannot destroy personal-data keys")
        options: dict = {"forget": list(forget)} if forget else {}
        claim = idempotency.current.get()
        if claim is not None and events and getattr(self.recorder, "notes_claims", False):
            options["claims"] = [(claim, idempotency.receipt_of(aggregates[0], events))]
        try:
            recordings = self.save(*events, **options)
        except IntegrityError:
            raise VersionConflict(
                "another writer changed this aggregate concurrently; reload and retry",
                ids=sorted({str(e.originator_id) for e in events}),
            ) from None
        except idempotency.ClaimTakenOver:
            raise Conflict(
                "a retry of this request took over its Idempotency-Key; nothing was written here",
                code="idempotency_taken_over",
            ) from None
        return recordings[-1].notification.id if recordings else self.recorder.max_notification_id() or 0

    def record_in_chunks(
        self, meta: Meta, units: Iterable[Sequence[Aggregate]], *, chunk_events: int = 20_000
    ) -> int | None:
        """Append the pending events of many aggregates, about `chunk_events` per transaction,
        with the recorder's bulk insert (COPY on PostgreSQL, one prepared statement on SQLite):
        the import's fast path. Each unit (the aggregates whose events must commit together)
        is written whole in one transaction; transactions follow the order of `units`. Answers
        the last store position (None when nothing was written). A version conflict means a
        concurrent writer touched one of the aggregates; the transactions before it stay."""
        return self._record_chunks(meta, units, chunk_events, self.mapper.to_stored_event)

    def record_in_bulk(
        self, meta: Meta, units: Iterable[Sequence[Aggregate]], *, chunk_events: int = 20_000
    ) -> int | None:
        """`record_in_chunks`, with the events encoded by a BulkEncoder (the same bytes as the
        mapper's, faster): the import's write."""
        return self._record_chunks(meta, units, chunk_events, BulkEncoder(self.mapper).to_stored_event)

    def _record_chunks(
        self,
        meta: Meta,
        units: Iterable[Sequence[Aggregate]],
        chunk_events: int,
        to_stored: Callable[[Any], StoredEvent],
    ) -> int | None:
        stamp = asdict(meta)
        insert = self.recorder.insert_bulk  # type: ignore[attr-defined]
        pending: list[StoredEvent] = []
        written = False

        def flush() -> None:
            nonlocal written
            try:
                insert(pending)
            except IntegrityError:
                raise VersionConflict(
                    "another writer changed these aggregates concurrently; nothing of this chunk was written",
                    ids=sorted({str(s.originator_id) for s in pending})[:20],
                ) from None
            written = True
            pending.clear()

        for unit in units:
            for agg in unit:
                for e in agg.collect_events():
                    object.__setattr__(e, "meta", stamp)
                    pending.append(to_stored(e))
            if len(pending) >= chunk_events:
                flush()
        if pending:
            flush()
        return (self.recorder.max_notification_id() or 0) if written else None

    def load(self, cls: type[T], agg_id: object, version: int | None = None) -> T:
        kind = cls.__name__.lower()
        uid = parse_id(agg_id, kind)
        try:
            agg = self.repository.get(uid, version=version)
        except AggregateNotFoundError:
            raise NotFound(
                f"no {kind} with id {agg_id}" + ("" if version is None else f" at version {version}"),
                kind=kind,
                id=str(agg_id),
            ) from None
        if not isinstance(agg, cls):
            raise NotFound(f"no {kind} with id {agg_id}", kind=kind, id=str(agg_id))
        if version is not None and agg.version != version:
            raise NotFound(
                f"{kind} {agg_id} has no version {version} (latest is {agg.version})",
                kind=kind,
                id=str(agg_id),
                version=version,
                latest=agg.version,
            )
        return agg

    def load_many(self, cls: type[T], ids: Sequence[UUID], *, per_query: int = 500) -> dict[UUID, T]:
        """Many aggregates at their latest version, a few hundred per query (the import compares
        the deals a later export names with the stored ones): those of `ids` that are stored."""
        found: dict[UUID, T] = {}
        select = self.recorder.select_events_of  # type: ignore[attr-defined]
        for start in range(0, len(ids), per_query):
            events: dict[UUID, list[Any]] = {}
            for stored in select(ids[start : start + per_query]):
                events.setdefault(stored.originator_id, []).append(self.mapper.to_domain_event(stored))
            for agg_id, history in events.items():
                agg = None
                for e in history:  # the library's projector, without its per-event protocol check
                    agg = e.mutate(agg)
                if isinstance(agg, cls):
                    found[agg_id] = agg
        return found

    def load_as_of(self, cls: type[T], agg_id: object, as_of: datetime) -> T:
        """The aggregate as it stood at `as_of` (recording time): replay its events up to then."""
        uid = parse_id(agg_id, cls.__name__.lower())
        last = None
        for e in self.repository.event_store.get(uid):
            if e.timestamp > as_of:
                break
            last = e.originator_version
        if last is None:
            raise NotFound(
                f"no {cls.__name__.lower()} with id {agg_id} at {as_of.isoformat()}",
                kind=cls.__name__.lower(),
                id=str(agg_id),
            )
        return self.load(cls, uid, version=last)
