"""The outbox: what the action delivery does when nothing should leave the machine (the embedded default,
``LEADFLOW_EMAIL_PROVIDER=outbox``): every email becomes an ``.eml`` file and, from the other channels when they
have nowhere to go, every notification, CRM task and webhook a ``.json`` file, under ``<data dir>/outbox``.

Why files: a demo or a staging stack shows exactly what would have been sent (open an ``.eml`` in a mail client:
both parts, the tracked links, the List-Unsubscribe headers) without a provider account, and nobody gets mail by
accident. ``leadflow outbox`` lists them, newest first.

Each action is one file named by its ``action_id``, written atomically (a private temp file, then a hard link
that never replaces): a redelivered action finds its file and leaves it as it is, so an action is in the outbox
once, as first written. Files are 0600 in a 0700 directory: they hold addresses and profile data.
"""

from __future__ import annotations

import asyncio
import email.policy
import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Mapping

import aiohttp

from connectors.actions.email.message import Email, Sent, split_address
from leadflow.outbound import AttemptFailed
from leadflow.private_files import private_dir
from schemas.records import Action

OUTBOX = "outbox"  # the provider's name (LEADFLOW_EMAIL_PROVIDER=outbox)
EMAIL_SUFFIX, RECORD_SUFFIX = ".eml", ".json"
RECORD_KINDS = ("notify", "crm_task", "webhook")
KINDS = ("email", *RECORD_KINDS)
SOURCE_HEADER, CAUSE_HEADER, STEP_HEADER = "X-Leadflow-Source", "X-Leadflow-Cause", "X-Leadflow-Step"
PROSPECT_HEADER, TRANSACTIONAL_HEADER = "X-Leadflow-Prospect-Id", "X-Leadflow-Transactional"
# RFC 5322 with CRLF; headers leadflow writes itself (a List-Unsubscribe URL is one long token) are kept as
# written, not refolded or turned into encoded words, which mail clients would no longer recognise
_POLICY = email.policy.SMTP.clone(refold_source="none")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,150}")
_RAW_HEADER_VALUE = re.compile(r"[\x20-\x7e]*")


def outbox_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "outbox"


class OutboxProvider:
    """A ``Provider`` that writes each email to ``<directory>/<action_id>.eml`` instead of sending it."""

    name = OUTBOX

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    async def send(self, session: aiohttp.ClientSession | None, email: Email, now: float) -> Sent:
        message = to_message(email, now)
        try:
            await asyncio.to_thread(_write_once, self.directory, file_name(email.action_id, EMAIL_SUFFIX),
                                    bytes(message), now)
        except OSError as exc:  # a full disk or a read-only data dir may be fixed before the next attempt
            raise AttemptFailed(f"cannot write to the outbox {self.directory}: {exc.strerror or exc}",
                                retryable=True) from None
        return Sent(self.name, message["Message-ID"])


def to_message(email: Email, now: float) -> EmailMessage:
    """The email as an RFC 5322 ``multipart/alternative`` message (text, then HTML) with every header it would
    have been sent with, plus what the outbox listing shows (source, cause)."""
    message = EmailMessage(policy=_POLICY)
    try:
        message["From"] = email.sender
        message["To"] = email.to
        if email.reply_to:
            message["Reply-To"] = email.reply_to
        message["Subject"] = email.subject
    except (ValueError, TypeError) as exc:  # a CR or LF in a header: never written, never sent
        raise AttemptFailed(f"email {email.action_id} has an invalid header: {exc}", retryable=False) from None
    domain = split_address(email.sender)[1].rpartition("@")[2] or "leadflow.invalid"
    raw = {"Date": format_datetime(datetime.fromtimestamp(now, timezone.utc)),
           "Message-ID": f"<{email.action_id}@{domain}>", **email.headers,
           PROSPECT_HEADER: email.prospect_id, SOURCE_HEADER: email.metadata.get("source", ""),
           STEP_HEADER: email.metadata.get("step", ""), CAUSE_HEADER: email.cause or "",
           TRANSACTIONAL_HEADER: "true" if email.transactional else "false"}
    for name, value in raw.items():
        if value and _RAW_HEADER_VALUE.fullmatch(value):
            message.set_raw(name, value)
        elif value:
            message[name] = " ".join(value.split())  # not plain ASCII: encoded, on one logical line
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def write_record(directory: Path, kind: str, action: Action, summary: Mapping[str, str],
                 now: float | None = None) -> Path:
    """A notification, CRM task or webhook that went nowhere, as ``<directory>/<action_id>.json``. ``summary``:
    ``to`` (the channel, queue, owner or URL) and ``summary`` (one line) are what ``leadflow outbox`` shows; any
    other keys are kept in the file. Idempotent by ``action_id``; returns the file."""
    if kind not in RECORD_KINDS:
        raise ValueError(f"an outbox record is one of {', '.join(RECORD_KINDS)}, not {kind!r}")
    now = time.time() if now is None else now
    details = {k: v for k, v in summary.items() if k not in ("to", "summary")}
    document = {"kind": kind, "written_at": datetime.fromtimestamp(now, timezone.utc).isoformat(),
                "to": summary.get("to", ""),
                "summary": summary.get("summary", ""), "details": details, "action_id": action.action_id,
                "prospect_id": action.prospect_id, "type": action.type, "source": action.source,
                "source_kind": action.source_kind, "file_version": action.file_version, "step": action.step,
                "target": action.target, "due_at": action.due_at, "occurred_at": action.occurred_at,
                "cause_event_id": action.cause_event_id, "payload": dict(action.payload)}
    body = json.dumps(document, ensure_ascii=False, indent=2).encode() + b"\n"
    return _write_once(Path(directory), file_name(action.action_id, RECORD_SUFFIX), body, now)


@dataclass(frozen=True)
class Entry:
    """One thing in the outbox, as ``leadflow outbox`` lists it."""

    time: float  # when it was written (unix seconds)
    kind: str  # email, notify, crm_task, webhook
    to: str
    subject: str  # an email's subject, a record's summary
    action_id: str
    source: str  # the automation or program
    cause_event_id: str
    file: str

    @property
    def cause(self) -> str:
        return f"{self.source} <- {self.cause_event_id}" if self.cause_event_id else self.source

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cause": self.cause}


def listing(directory: Path) -> list[Path]:
    """The outbox's files, newest first (by when each was written); [] when there is no outbox."""
    try:
        found = [p for p in Path(directory).iterdir()
                 if p.suffix in (EMAIL_SUFFIX, RECORD_SUFFIX) and not p.name.startswith(".")]
    except FileNotFoundError:
        return []
    stamped = []
    for path in found:
        try:
            stamped.append((path.stat().st_mtime, path.name, path))
        except FileNotFoundError:
            continue
    return [path for _, _, path in sorted(stamped, reverse=True)]


def entries(directory: Path, limit: int | None = None) -> list[Entry]:
    """The newest ``limit`` entries (all with None), newest first."""
    paths = listing(directory)
    return [_entry(path) for path in (paths[:limit] if limit else paths)]


def file_name(action_id: str, suffix: str) -> str:
    """``<action_id><suffix>``; an id that is not a plain file name is made one (and told apart by a hash)."""
    if _SAFE_NAME.fullmatch(action_id):
        return action_id + suffix
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", action_id)[:100].lstrip(".")
    return f"{cleaned}-{hashlib.sha256(action_id.encode()).hexdigest()[:16]}{suffix}"


def _entry(path: Path) -> Entry:
    stamp = 0.0
    try:
        stamp = path.stat().st_mtime
        if path.suffix == EMAIL_SUFFIX:
            with path.open("rb") as file:
                headers = BytesHeaderParser(policy=email.policy.default).parse(file)
            return Entry(stamp, "email", str(headers.get("To", "")), str(headers.get("Subject", "")),
                         str(headers.get("X-Leadflow-Action-Id", "")), str(headers.get(SOURCE_HEADER, "")),
                         str(headers.get(CAUSE_HEADER, "")), path.name)
        document = json.loads(path.read_bytes())
        return Entry(stamp, str(document.get("kind", "")), str(document.get("to", "")),
                     str(document.get("summary", "")), str(document.get("action_id", "")),
                     str(document.get("source", "")), str(document.get("cause_event_id", "")), path.name)
    except (OSError, ValueError, AttributeError) as exc:
        return Entry(stamp, "unreadable", "", f"{type(exc).__name__}: {exc}", "", "", "", path.name)


def _write_once(directory: Path, name: str, data: bytes, now: float) -> Path:
    """Write ``data`` as ``directory/name`` unless that file exists: atomically, 0600, dated ``now``."""
    private_dir(directory)
    final = directory / name
    if final.exists():
        return final
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")  # 0600
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.utime(temporary, (now, now))
        try:
            os.link(temporary, final)  # atomic and never replaces: of two writers of one action, the first stays
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not final.exists():
                os.replace(temporary, final)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return final
