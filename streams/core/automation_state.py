"""What the automation engine remembers about one prospect, and the effects it hands to the shell.

It lives in the prospect's state (``ProspectState.automation``), next to the SLA clock, and
travels through the same changelog: every wait of a nurture program, every action deferred
by quiet hours and every window on an email's outcome is a date in here, not a job in a
scheduler, so a worker that restarts finds them where it left them and ``timers.next_due``
reads the next one from the state alone. Everything is bounded: per-automation firing times
are trimmed to their frequency window, sent emails and the journal to a fixed count.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from schemas.records import Action
from streams.core.automation_model import EXIT_OUTCOMES

JOURNAL_LIMIT = 200  # enrollments, steps and actions kept for the timeline and `leadflow explain`
SENT_LIMIT = 50  # emails remembered for engagement branches, outcome triggers and the weekly cap
WEEK_MS = 7 * 86_400_000
ACTIVE = "active"
COMPLETED, EXITED, EXHAUSTED = EXIT_OUTCOMES


class JournalEntry(NamedTuple):
    """One line of the prospect's automation history: ``kind`` is automation.fired, action, action.deferred,
    action.suppressed, program.enrolled, program.step or program.<outcome>."""

    at: int
    kind: str
    source: str  # the automation or program id
    detail: str  # the action type and target, the step, the exit reason, the suppression reason
    cause: str  # the input event, or the timer, that caused it
    action_id: str | None = None


@dataclass(slots=True)
class Enrollment:
    """One prospect's run through a program; ``enrollment_id`` goes into every action id of the run."""

    program: str
    enrollment_id: str
    entered_at: int
    next_step: int = 0  # index into the program's steps
    due_at: int | None = None  # when the next step runs (a wait), None while not waiting
    status: str = ACTIVE
    reason: str | None = None  # why it exited
    ended_at: int | None = None
    last_email: str | None = None  # action id of the run's previous email, for engagement branches
    emails: int = 0  # emails the run sent
    engaged: bool = False  # any of them opened or clicked


@dataclass(slots=True)
class SentEmail:
    """An email the engine emitted; its ``action_id`` is the message id its opens and clicks come back with."""

    action_id: str
    source: str
    step: str | None
    sent_at: int
    marketing: bool
    opened_at: int | None = None
    clicked_at: int | None = None


@dataclass(slots=True)
class Deferred:
    """An action due in quiet hours, waiting for their end; emitted then, after the send-time checks."""

    due_at: int
    action: Action
    enrollment: str | None = None  # the program run it belongs to: an exit cancels it


@dataclass(slots=True)
class OutcomeWatch:
    """A negative email outcome (not opened, not clicked) is decided when its window ends."""

    due_at: int
    email: str  # the email's action id
    owner: str  # the automation, or program entry, whose trigger it is


@dataclass(slots=True)
class AutomationState:
    fired: dict[str, list[int]] = field(default_factory=dict)  # automation -> firing times (frequency)
    counts: dict[str, list[int]] = field(default_factory=dict)  # count-triggers -> matching interaction times
    enrollments: dict[str, Enrollment] = field(default_factory=dict)  # program -> its current or last run
    sent: deque[SentEmail] = field(default_factory=lambda: deque(maxlen=SENT_LIMIT))
    deferred: list[Deferred] = field(default_factory=list)
    watches: list[OutcomeWatch] = field(default_factory=list)
    tags: dict[str, int] = field(default_factory=dict)  # tag -> when it was applied (its dimension counts from then)
    suppressed: str | None = None  # unsubscribed, hard_bounce or complaint: no marketing email any more
    known_at: int | None = None  # when the prospect became a known name (the `identity: known` trigger)
    inactive_fired: dict[str, int] = field(default_factory=dict)  # inactivity automation -> activity it fired for
    crossed: dict[str, int] = field(default_factory=dict)  # score trigger -> when decay last took it under its value
    journal: deque[JournalEntry] = field(default_factory=lambda: deque(maxlen=JOURNAL_LIMIT))
    wake_at: int | None = None  # the next of the timers above (automations.stored_due), kept so most inputs skip them

    def email(self, action_id: str | None) -> SentEmail | None:
        return next((e for e in self.sent if e.action_id == action_id), None) if action_id else None


# --- effects for the shell (streams/batch.py handles each kind in one place) ---------------------------

class ActionEffect(NamedTuple):
    """An action for ``leadflow.actions``."""

    action: Action


class ProgramChange(NamedTuple):
    """A program run started (``kind`` enrolled) or ended (``kind`` the outcome): for metrics."""

    program: str
    kind: str  # enrolled, completed, exited, exhausted
    reason: str = ""


class Suppressed(NamedTuple):
    """An action the engine did not emit, and why (for metrics; the journal has the details)."""

    type: str
    reason: str
