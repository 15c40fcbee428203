"""Email templates: ``<name>.txt`` (first line ``Subject: ...``, a blank line, the text part) and/or
``<name>.html`` in the ``templates/`` directory next to the automation file, rendered with the prospect's merge
fields.

Why a sandbox: templates are written by marketing ops, and the values merged into them come from prospects (form
fields, event traits); Jinja2's ``SandboxedEnvironment`` keeps either from reaching Python internals
(``{{ ''.__class__.__mro__ }}`` fails instead of rendering). Why not ``StrictUndefined``: a prospect who never gave
a company must still get the email, so a missing field renders as nothing (``| default('there')`` fills it in),
attribute chains included (``{{ company.name }}``). HTML is autoescaped (a ``<script>`` first name arrives as
text); the text part and the subject are not, and the subject is one line whatever the fields hold.

A template that is missing, does not compile, or fails while rendering raises ``TemplateFailed`` naming the file
and the cause: no retry changes that, so the action is dead-lettered with it. Compiled templates are cached and
compiled again when their file changes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from jinja2 import ChainableUndefined, Template, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from connectors.actions.email.html_text import html_to_text, title_of
from leadflow.outbound import AttemptFailed

PROFILE_PREFIX = "profile."
RESERVED_PAYLOAD = frozenset({"transactional"})
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")
_SUBJECT = re.compile(r"(?i)subject:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class TemplateFailed(AttemptFailed):
    """The template cannot give this email (missing, syntax error, failed while rendering): final, never retried."""

    def __init__(self, template: str, cause: str) -> None:
        super().__init__(f"email template {template!r}: {cause}", retryable=False)
        self.template = template


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


class _Sandbox(SandboxedEnvironment):
    """Refused attribute access raises instead of rendering as an empty (chainable) undefined, so a template that
    tries it is reported rather than sent half-empty."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe")


@dataclass(frozen=True)
class _Part:
    file: str  # "welcome-1.txt", for messages
    template: Template
    line_offset: int = 0  # lines of the file before this part (the Subject line and the blank line)


@dataclass(frozen=True)
class _Compiled:
    subject: _Part | None
    text: _Part | None
    html: _Part | None


def merge_fields(payload: Mapping[str, str], *, email: str, prospect_id: str,
                 unsubscribe_url: str) -> dict[str, Any]:
    """What templates see: the profile attributes (``first_name`` and ``profile.first_name``), the automation's
    ``data`` (which wins over a profile attribute of the same name: prospects write their profiles), ``email``,
    ``prospect_id`` and ``unsubscribe_url`` (which nothing overrides)."""
    profile = {k[len(PROFILE_PREFIX):]: v for k, v in payload.items() if k.startswith(PROFILE_PREFIX)}
    data = {k: v for k, v in payload.items() if not k.startswith(PROFILE_PREFIX) and k not in RESERVED_PAYLOAD}
    return {**profile, **data, "profile": profile, "data": data, "email": email, "prospect_id": prospect_id,
            "unsubscribe_url": unsubscribe_url}


class Templates:
    """The templates of one directory, compiled once per version of each file."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        options = dict(undefined=ChainableUndefined, keep_trailing_newline=True)
        self._text_env = _Sandbox(autoescape=False, **options)  # type: ignore[arg-type]
        self._html_env = _Sandbox(autoescape=True, **options)  # type: ignore[arg-type]
        self._cache: dict[str, tuple[tuple[Any, ...], _Compiled]] = {}

    def render(self, name: str, fields: Mapping[str, Any]) -> Rendered:
        compiled = self._compiled(name)
        html = _render(name, compiled.html, fields) if compiled.html else None
        text = _render(name, compiled.text, fields) if compiled.text else html_to_text(html or "")
        if compiled.subject is not None:
            subject = _render(name, compiled.subject, fields)
        else:
            subject = title_of(html or "") or ""
        subject = " ".join(_CONTROL.sub(" ", subject).split())  # one header line, whatever the fields held
        if not subject:
            raise TemplateFailed(name, "the subject is empty (the first line of the .txt part is 'Subject: ...', "
                                       "or the .html part has a <title>)")
        return Rendered(subject=subject, text=text, html=html)

    def _compiled(self, name: str) -> _Compiled:
        if not _NAME.fullmatch(name) or ".." in name:
            raise TemplateFailed(name, "not a template name (letters, digits, '_', '-' and '.')")
        paths = (self.directory / f"{name}.txt", self.directory / f"{name}.html")
        stamp = tuple(_stamp(path) for path in paths)
        cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        if stamp == (None, None):
            raise TemplateFailed(name, f"missing: neither {name}.txt nor {name}.html in {self.directory}")
        text_source, html_source = (_read(name, path) if s is not None else None for path, s in zip(paths, stamp))
        subject = text = html = None
        if text_source is not None:
            first, _, rest = text_source.partition("\n")
            offset = 0
            if _SUBJECT.match(first):
                subject = self._compile(name, f"{name}.txt", first[len("subject:"):].strip(), self._text_env, 0)
                offset, text_source = 1, rest
                if text_source.startswith(("\n", "\r\n")):
                    offset, text_source = 2, text_source.split("\n", 1)[1]
            text = self._compile(name, f"{name}.txt", text_source, self._text_env, offset)
        if html_source is not None:
            html = self._compile(name, f"{name}.html", html_source, self._html_env, 0)
        compiled = _Compiled(subject=subject, text=text, html=html)
        self._cache[name] = (stamp, compiled)
        return compiled

    @staticmethod
    def _compile(name: str, file: str, source: str, env: SandboxedEnvironment, offset: int) -> _Part:
        try:
            return _Part(file, env.from_string(source), offset)
        except TemplateSyntaxError as exc:
            raise TemplateFailed(name, f"{file} line {(exc.lineno or 1) + offset}: {exc.message}") from None


def _render(name: str, part: _Part, fields: Mapping[str, Any]) -> str:
    try:
        return part.template.render(fields)
    except Exception as exc:  # whatever a template raises (SecurityError, UndefinedError, ZeroDivisionError) is its own
        raise TemplateFailed(name, f"{part.file}: {type(exc).__name__}: {exc}") from None


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise TemplateFailed(path.stem, f"cannot read {path}: {exc.strerror}") from None
    return info.st_mtime_ns, info.st_size


def _read(name: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateFailed(name, f"{path.name} is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise TemplateFailed(name, f"cannot read {path}: {exc.strerror}") from None
