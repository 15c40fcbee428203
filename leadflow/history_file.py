"""History files: interactions and CRM outcomes exported from another system, as `leadflow import` and the
backtest read them.

Why: tuning the model on sales outcomes needs months of history, and on the first day that history lives in
other tools (a marketing-automation export, a CRM report). A history file brings it in: JSON lines or CSV,
chosen by the extension (``.jsonl``, ``.csv``, either optionally ``.gz``), one row per historical input.
The README's "Importing history" documents every column. In short:

- ``kind=interaction``: ``occurred_at``, ``email`` (or ``prospect_id``, or ``anonymous_id``), ``type`` (a
  canonical interaction type) or ``event`` (a sender's event name, mapped by the event-name table as the events
  API maps it), optional ``event_id``, ``url``, ``title``, ``referrer``, ``campaign``, ``message_id``,
  ``form_id``, ``properties`` and ``traits`` (objects; in CSV ``property.<name>`` / ``trait.<name>`` columns);
- ``kind=outcome``: ``occurred_at``, ``email`` or ``prospect_id``, ``verdict`` (accepted, contacted,
  disqualified, won, lost), optional ``event_id``, ``deal_value``, ``reason``, ``owner``.

A row is checked by the live paths' own rules, never by a copy of them: emails and prospect ids by
``streams.core.identity``, every text by ``streams.core.hygiene`` (the one string check), event times and the
future bound by ``schemas.timestamps``, traits by the Segment trait mapping, verdicts by
``streams.core.verdicts``. Two rules are the file's own: a time needs its zone (an export's local time is
ambiguous) and an unknown field is an error (a misspelt column must not vanish silently). A bad row is a
:class:`HistoryError` reading ``FILE:LINE: reason``.

Event ids: a row's ``event_id`` is kept as written. Without one, an interaction gets ``imp:`` and a hash of
its content, and an outcome the id the CRM feedback endpoint gives the same verdict (prospect, verdict, time);
so importing a file twice repeats every id and the worker de-duplicates the second copy.

Records carry ``source="import"`` and, unless the caller says otherwise, ``received_at = occurred_at``, which
keeps a backtest over a file independent of when it runs. `leadflow import` stamps the import's time instead,
so the worker treats the rows as the late inputs they are (they score, and fire no automation).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

import orjson

from connectors.collector.event_names import EventNames, load_event_names
from connectors.collector.traits import flat, profile_from_traits, text
from leadflow.config import DEFAULT_EVENT_NAMES
from leadflow.errors import UsageError
from schemas.records import CrmFeedback, Interaction
from schemas.timestamps import DEFAULT_MAX_FUTURE_S, epoch_ms, latest
from streams.core.hygiene import LIMITS, Unclean, check_text, checked
from streams.core.identity import InvalidEmail, anonymous_key, is_anonymous, normalize_email, prospect_id_for
from streams.core.model import INTERACTION_TYPES
from streams.core.verdicts import VerdictError, verdict_from

SOURCE = "import"
KINDS = ("interaction", "outcome")
_COMMON = ("kind", "event_id", "occurred_at", "email", "prospect_id")
INTERACTION_FIELDS = (*_COMMON, "anonymous_id", "type", "event", "url", "title", "referrer", "campaign",
                      "message_id", "form_id", "properties", "traits")
OUTCOME_FIELDS = (*_COMMON, "verdict", "deal_value", "reason", "owner")
FIELDS = {"interaction": INTERACTION_FIELDS, "outcome": OUTCOME_FIELDS}
PROPERTY, TRAIT = "property.", "trait."  # CSV: one column per property or trait
CSV_COLUMNS = tuple(dict.fromkeys(c for c in (*INTERACTION_FIELDS, *OUTCOME_FIELDS)
                                  if c not in ("properties", "traits")))
FORMATS = (".jsonl", ".csv", ".jsonl.gz", ".csv.gz")
_TEXTS = ("url", "title", "referrer", "campaign", "message_id", "form_id")
_PEOPLE_MEMO = 65_536
_KNOWN_TYPES = ", ".join(sorted(INTERACTION_TYPES))
Record = Interaction | CrmFeedback


class HistoryError(UsageError):
    """A history file or one of its rows is unusable: ``FILE:LINE: reason`` (``FILE: reason`` for the file)."""

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if line is None else f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason

    def __reduce__(self) -> tuple[type, tuple[str, int | None, str]]:  # from a worker process, intact
        return HistoryError, (self.path, self.line, self.reason)


class RowError(ValueError):
    """One row's reason; the reader adds FILE:LINE."""


@dataclass(frozen=True)
class Rules:
    """What rows are checked against: the time now and how far ahead an event may be stamped, the event-name
    table, and the receive time records get (None: each record's own occurred_at)."""

    now_ms: int
    max_future_s: float = DEFAULT_MAX_FUTURE_S
    event_names: EventNames = field(default_factory=lambda: load_event_names(DEFAULT_EVENT_NAMES))
    received_at: int | None = None

    @classmethod
    def default(cls, now_ms: int | None = None, **changes: Any) -> "Rules":
        return cls(time.time_ns() // 1_000_000 if now_ms is None else now_ms, **changes)


def read_history(path: str | Path, rules: Rules | None = None,
                 on_error: Callable[[HistoryError], object] | None = None,
                 span: Span | None = None) -> Iterator[tuple[int, Record]]:
    """(line number, record) for each row, in file order; with ``span``, only the rows of that byte range of
    an uncompressed .jsonl file (so workers can read one file in parts, each with its exact line numbers).

    A bad row raises its HistoryError, unless ``on_error`` is given: then it is called with the error and the
    row skipped, so bad rows never stop the good ones being read. A file that cannot be read at all (missing,
    unknown extension, a CSV header with unknown columns, broken compression) always raises."""
    return convert_rows(read_rows(path, span), str(path), rules or Rules.default(), on_error)


def read_rows(path: str | Path, span: Span | None = None) -> Iterator[tuple[int, Row]]:
    """(line number, row) for each row, unconverted: a worker files rows by prospect before converting them."""
    return _rows(Path(path), str(path), span)


def convert_rows(rows: Iterable[tuple[int, Row]], shown: str, rules: Rules,
                 on_error: Callable[[HistoryError], object] | None = None) -> Iterator[tuple[int, Record]]:
    """``read_history``'s conversion of rows read before (a RowError, or a row that fails, is FILE:LINE)."""
    convert = RowConverter(rules)
    for line, row in rows:
        try:
            if isinstance(row, RowError):
                raise row
            record = convert.record(row)
        except RowError as exc:
            error = HistoryError(shown, line, str(exc))
            if on_error is None:
                raise error from None
            on_error(error)
            continue
        yield line, record


class RowConverter:
    """A row (a mapping of field -> value, properties and traits as mappings) -> its record, or RowError."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.latest_ms = latest(rules.now_ms, rules.max_future_s)
        self.people: dict[str, tuple[str, str]] = {}  # raw email -> (email, prospect id): a prospect's rows repeat it

    def record(self, row: dict[str, Any]) -> Record:
        kind = row.get("kind")
        if kind not in FIELDS:
            raise RowError("kind is required (interaction or outcome)" if kind in (None, "") else
                            f"unknown kind {_shown(kind)}; expected interaction or outcome")
        extra = [name for name in row if name not in FIELDS[kind]]
        if extra:
            raise RowError(f"{kind} rows have no field(s) {', '.join(_shown(n) for n in extra)}; "
                            f"allowed: {', '.join(FIELDS[kind])}")
        return self.interaction(row) if kind == "interaction" else self.outcome(row)

    def key(self, row: dict[str, Any]) -> str:
        """The prospect key ``record(row)`` gets, for filing the row by prospect before converting it; for a row
        without one, RowError with the reason ``record`` gives."""
        try:
            if row.get("kind") == "interaction":
                return self.interaction_key(row)[2]
            if row.get("kind") == "outcome" and (prospect_id := self.person(row)[1]) is not None:
                return prospect_id
        except RowError:
            pass
        self.record(row)  # raises this row's first error, as reading in one process words it
        raise RowError("email or prospect_id is required")  # (record refuses every row that has no key)

    def interaction_key(self, row: dict[str, Any]) -> tuple[str, str | None, str, str | None, str | None, str | None]:
        """(type, event, prospect key, email, prospect id, anonymous id) of an interaction row."""
        type_, event = _text(row, "type"), _text(row, "event")
        if type_ is None:
            if event is None:
                raise RowError("type or event is required (a canonical interaction type, or a sender's event name)")
            type_ = self.rules.event_names.type_for(event)
        elif type_ not in INTERACTION_TYPES:
            raise RowError(f"unknown interaction type {_shown(type_)}; known: {_KNOWN_TYPES}")
        email, prospect_id = self.person(row)
        anonymous_id = _text(row, "anonymous_id")
        if type_ == "identity.linked":  # keyed by the visitor, naming the person it joins (as the live path does)
            if prospect_id is None or anonymous_id is None:
                raise RowError("an identity.linked row needs anonymous_id and email or prospect_id: it links that "
                                "visitor to the person")
            key = anonymous_key(anonymous_id)
        elif prospect_id is not None:
            key = prospect_id
        elif anonymous_id is not None:
            key = anonymous_key(anonymous_id)
        else:
            raise RowError("email, prospect_id or anonymous_id is required")
        return type_, event, key, email, prospect_id, anonymous_id

    def interaction(self, row: dict[str, Any]) -> Interaction:
        occurred_at = self.time(row.get("occurred_at"))
        type_, event, key, email, prospect_id, anonymous_id = self.interaction_key(row)
        properties, traits = _object(row, "properties"), _object(row, "traits")
        content: dict[str, Any] = dict(
            prospect_key=key, prospect_id=prospect_id, anonymous_id=anonymous_id, email=email, type=type_, event=event,
            occurred_at=occurred_at, **{name: _text(row, name) if name in row else None for name in _TEXTS},
            properties=flat(properties) if properties else {}, traits=profile_from_traits(traits) if traits else {})
        event_id = _text(row, "event_id") or "imp:" + hashlib.sha256(
            orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]
        received_at = occurred_at if self.rules.received_at is None else self.rules.received_at
        try:
            return checked(Interaction(event_id=event_id, received_at=received_at, source=SOURCE, **content))
        except Unclean as exc:
            raise RowError(str(exc)) from None

    def outcome(self, row: dict[str, Any]) -> CrmFeedback:
        occurred_at = self.time(row.get("occurred_at"))
        _, prospect_id = self.person(row)
        if prospect_id is None:
            raise RowError("email or prospect_id is required")
        item = {name: row[name] for name in ("verdict", "deal_value", "reason", "owner")
                if row.get(name) not in (None, "")}
        try:  # the CRM feedback endpoint's own checks, and its id for a verdict sent without one
            feedback = verdict_from({**item, "prospect_id": prospect_id, "occurred_at": occurred_at},
                                    self.rules.now_ms, self.rules.max_future_s)
            event_id = _text(row, "event_id")
            if event_id is not None:
                check_text("event_id", event_id, *LIMITS["event_id"])
        except (VerdictError, Unclean) as exc:
            raise RowError(str(exc)) from None
        received_at = occurred_at if self.rules.received_at is None else self.rules.received_at
        return replace(feedback, event_id=event_id or feedback.event_id, received_at=received_at)

    def person(self, row: dict[str, Any]) -> tuple[str | None, str | None]:
        """(normalized email, prospect id) as the live paths derive them; both None for an anonymous row."""
        raw_email, prospect_id = _text(row, "email"), _text(row, "prospect_id")
        if prospect_id is not None and is_anonymous(prospect_id):
            raise RowError(f"prospect_id {_shown(prospect_id)} names no person; an anonymous visitor's id goes in "
                            "anonymous_id")
        if raw_email is None:
            return None, prospect_id
        known = self.people.get(raw_email)
        if known is None:
            try:
                email = normalize_email(raw_email)
            except InvalidEmail as exc:
                raise RowError(str(exc)) from None
            if len(self.people) >= _PEOPLE_MEMO:
                self.people.clear()
            known = self.people[raw_email] = (email, prospect_id_for(email))
        if prospect_id is not None and prospect_id != known[1]:
            raise RowError("prospect_id and email name different prospects")
        return known

    def time(self, raw: Any) -> int:
        """Epoch milliseconds from epoch milliseconds (a number, or digits in CSV) or ISO 8601 with a zone."""
        if raw is None or raw == "":
            raise RowError("occurred_at is required (ISO 8601 with a time zone, or epoch milliseconds)")
        if isinstance(raw, str):
            if raw.isascii() and raw.isdigit():
                raw = int(raw)
            else:
                try:
                    parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
                except ValueError:
                    raise RowError(f"occurred_at is not ISO 8601 or epoch milliseconds: {raw[:40]!r}") from None
                if parsed.tzinfo is None:
                    raise RowError(f"occurred_at {raw[:40]!r} has no time zone (add Z or an offset like +02:00)")
                raw = parsed
        try:
            return epoch_ms(raw, 0, self.latest_ms)
        except ValueError as exc:
            raise RowError(f"occurred_at: {exc}") from None


def _text(row: dict[str, Any], name: str) -> str | None:
    value = row.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, (dict, list)):
        raise RowError(f"{name} must be text, not {'an object' if isinstance(value, dict) else 'a list'}")
    return value if isinstance(value, str) else text(value)


def _object(row: dict[str, Any], name: str) -> dict[str, Any]:
    value = row.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError(f"{name} must be an object of name -> value")
    return value


def _shown(value: Any) -> str:
    return repr(value[:60] if isinstance(value, str) else value)


# -- reading rows ---------------------------------------------------------------------------------------------

Row = dict[str, Any] | RowError


@dataclass(frozen=True)
class Span:
    """Bytes ``start`` to ``end`` of a .jsonl file, both at line starts; ``line`` is the number of its first."""

    start: int
    end: int
    line: int


def _rows(path: Path, shown: str, span: Span | None = None) -> Iterator[tuple[int, Row]]:
    name = path.name.lower()
    if not name.endswith(FORMATS):
        raise HistoryError(shown, None, f"unknown format: the name must end in {', '.join(FORMATS)}")
    if span is not None and not name.endswith(".jsonl"):
        raise ValueError("a span is a byte range of an uncompressed .jsonl file")
    try:
        raw: IO[bytes] = gzip.open(path, "rb") if name.endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise HistoryError(shown, None, f"cannot read: {exc.strerror}") from None
    try:
        with raw:
            if span is not None:
                raw.seek(span.start)
                yield from _jsonl_rows(io.BytesIO(raw.read(span.end - span.start)), span.line)
            elif name.endswith((".jsonl", ".jsonl.gz")):
                yield from _jsonl_rows(raw)
            else:
                yield from _csv_rows(raw, shown)
    except (OSError, EOFError) as exc:  # a read error, a truncated or corrupt .gz (BadGzipFile is an OSError)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise HistoryError(shown, None, f"cannot read: {reason}") from None


def _jsonl_rows(raw: IO[bytes], first: int = 1) -> Iterator[tuple[int, Row]]:
    for line, data in enumerate(raw, first):
        if not data.strip():
            continue
        try:
            row = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            yield line, RowError(f"not valid JSON: {exc}")
            continue
        yield line, row if isinstance(row, dict) else RowError("a row must be a JSON object")


def _csv_rows(raw: IO[bytes], shown: str) -> Iterator[tuple[int, Row]]:
    # utf-8-sig: spreadsheets start their CSV with a byte-order mark; bytes that are not UTF-8 become lone
    # surrogates, which the hygiene check then refuses with the row's line
    reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return
        _check_header(header, shown)
        previous = reader.line_num
        for cells in reader:
            line, previous = previous + 1, reader.line_num
            if not any(cells):
                continue
            if len(cells) != len(header):
                yield line, RowError(f"{len(cells)} cells, but the header has {len(header)} columns")
                continue
            row: dict[str, Any] = {}
            for column, value in zip(header, cells):
                if value == "":
                    continue
                if column.startswith(PROPERTY):
                    row.setdefault("properties", {})[column[len(PROPERTY):]] = value
                elif column.startswith(TRAIT):
                    row.setdefault("traits", {})[column[len(TRAIT):]] = value
                else:
                    row[column] = value
            yield line, row
    except csv.Error as exc:
        raise HistoryError(shown, reader.line_num, f"not valid CSV: {exc}") from None


def _check_header(header: list[str], shown: str) -> None:
    unknown = [c for c in header if c not in CSV_COLUMNS and not (c.startswith((PROPERTY, TRAIT)) and
                                                                  c.split(".", 1)[1])]
    if unknown:
        raise HistoryError(shown, 1, f"unknown column(s) {', '.join(_shown(c) for c in unknown)}; allowed: "
                                     f"{', '.join(CSV_COLUMNS)}, property.<name>, trait.<name>")
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise HistoryError(shown, 1, f"column(s) {', '.join(map(repr, twice))} appear more than once")
    if "kind" not in header:
        raise HistoryError(shown, 1, "the header needs a 'kind' column (interaction or outcome)")
