"""The automation file's vocabulary as typed values: triggers, conditions, actions, frequencies and programs.

Marketing ops write the file (``streams/core/automation_file.py`` parses and validates
it); the engine reads only these frozen values, so every rule about what a well-formed
automation is lives in the parser and the engine never meets a half-valid one. Times are
milliseconds, like every duration in leadflow; nothing here reads a clock.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import time
from typing import Union

from streams.core.business_hours import BusinessCalendar
from streams.core.conditions import AttributeCondition, EventCondition
from streams.core.ids import uuid5

STAGE_CHANGES = ("promoted", "accepted", "contacted", "disqualified", "lost", "won", "recycled", "demoted")
SLA_CHANGES = ("breached", "escalated")
SEGMENT_CHANGES = ("entered", "left")
EMAIL_OUTCOMES = ("opened", "clicked", "not_opened", "not_clicked", "opened_not_clicked")
NEGATIVE_OUTCOMES = frozenset({"not_opened", "not_clicked", "opened_not_clicked"})  # known only once a window ends
SCORE_MEASURES = ("total", "fit", "behaviour", "dimension")
RECIPIENT_KINDS = ("owner", "queue", "person", "channel")
ENGAGEMENTS = ("opened", "clicked", "not_opened", "not_clicked")
EXIT_REASONS = ("promoted", "unsubscribed", "hard_bounce", "complaint", "crm_took_lead")
ACTION_TYPES = ("notify", "crm_task", "webhook", "send_email", "tag", "untag", "set_attribute", "points", "enroll",
                "unenroll")
EXIT_OUTCOMES = ("completed", "exited", "exhausted")  # how an enrollment ends
# why an action was not emitted: the prospect opted out or bounced, or the weekly marketing-email cap was reached
SUPPRESSION_REASONS = ("unsubscribed", "hard_bounce", "complaint", "no_consent", "weekly_cap")
EXIT = "exit"  # the branch target that ends a program (outcome ``completed``)
AUTOMATION, PROGRAM = "automation", "program"  # an Action's ``source_kind``


# --- durations, frequencies, defaults ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Span:
    """A duration on the wall clock (``3d``) or in business time (``{business: 4h}``, the file's calendar)."""

    ms: int
    business: bool = False


@dataclass(frozen=True, slots=True)
class Frequency:
    """How often an automation may fire for one prospect: ``once``, ``every_time`` or ``at_most`` per window."""

    kind: str  # once | every_time | at_most
    limit: int | None = None  # at_most: how many times ...
    per_ms: int | None = None  # ... within this window


ONCE = Frequency("once")
EVERY_TIME = Frequency("every_time")


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local hours in which nothing is sent; an action due in them waits for their end, it is never dropped.
    ``start`` after ``end`` spans midnight (``"21:00-08:00"``)."""

    start: time
    end: time

    def covers(self, moment: time) -> bool:
        if self.start < self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True, slots=True)
class Defaults:
    timezone: str = "UTC"  # for quiet hours when the prospect's own time zone is unknown
    quiet_hours: QuietHours | None = None
    marketing_emails_per_week: int | None = None  # across every automation and program; None: no cap
    business_hours: BusinessCalendar = field(default_factory=BusinessCalendar)  # for {business: ...} spans
    # an input that reaches the worker longer than this after it happened (a backfill, an import, a sender's
    # retry days later) still scores and can suppress, but fires no trigger: nobody wants last year's welcome
    stale_after_ms: int = 86_400_000  # a day: defaults.stale_after


# --- triggers ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InteractionTrigger:
    """An interaction matching the scoring rules' ``when`` filters; with ``count`` > 1, the count-th such
    interaction within ``within_ms`` (the pricing page twice in a day)."""

    condition: EventCondition
    count: int = 1
    within_ms: int | None = None


@dataclass(frozen=True, slots=True)
class ScoreTrigger:
    """The score crossing a value: upwards past ``above`` or downwards past ``below`` (exactly one is set)."""

    measure: str  # total | fit | behaviour | dimension
    dimension: str | None = None
    above: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class SegmentTrigger:
    segment: str
    change: str  # entered | left


@dataclass(frozen=True, slots=True)
class StageTrigger:
    changes: frozenset[str]  # among STAGE_CHANGES


@dataclass(frozen=True, slots=True)
class SlaTrigger:
    changes: frozenset[str]  # among SLA_CHANGES


@dataclass(frozen=True, slots=True)
class EmailOutcomeTrigger:
    """What a prospect did with a program's email; the negative outcomes are decided when ``within_ms``
    after the send has passed, so they need a window."""

    program: str
    outcome: str  # among EMAIL_OUTCOMES
    step: str | None = None  # a send_email step's label; None: any email of the program
    within_ms: int | None = None


@dataclass(frozen=True, slots=True)
class InactivityTrigger:
    """No interaction for ``for_ms`` (a timer the engine restarts on every interaction)."""

    for_ms: int


@dataclass(frozen=True, slots=True)
class KnownTrigger:
    """The prospect became a known name: its first input under an email, or an anonymous visitor or user id
    linked to one (``identity: known``). Fires once per prospect."""


Trigger = Union[InteractionTrigger, ScoreTrigger, SegmentTrigger, StageTrigger, SlaTrigger, EmailOutcomeTrigger,
                InactivityTrigger, KnownTrigger]


# --- conditions on the prospect ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AttributeTest:
    condition: AttributeCondition  # the fit rules' attribute tests


@dataclass(frozen=True, slots=True)
class StageIn:
    stages: frozenset[str]  # lifecycle.STAGES


@dataclass(frozen=True, slots=True)
class SegmentTest:
    segment: str
    present: bool  # segment: (has) / not_segment: (has not)


@dataclass(frozen=True, slots=True)
class TagTest:
    tag: str
    present: bool


@dataclass(frozen=True, slots=True)
class ScoreRange:
    """``at_least`` <= score < ``below``; either bound may be open."""

    measure: str
    dimension: str | None = None
    at_least: float | None = None
    below: float | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    purpose: str  # e.g. email: the prospect's recorded consent for that purpose


@dataclass(frozen=True, slots=True)
class Known:
    """The prospect has an email (a name sales can reach), not an anonymous visitor."""


@dataclass(frozen=True, slots=True)
class NotSuppressed:
    """No hard bounce, complaint or unsubscribe; every ``send_email`` applies it on its own as well."""


Condition = Union[AttributeTest, StageIn, SegmentTest, TagTest, ScoreRange, Consent, Known, NotSuppressed]


# --- actions ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Recipient:
    kind: str  # owner | queue | person | channel
    name: str | None = None  # None for the owner (whoever owns the lead when it fires)

    @property
    def target(self) -> str:
        return self.kind if self.name is None else f"{self.kind}:{self.name}"


@dataclass(frozen=True, slots=True)
class Notify:
    to: Recipient
    message: str | None = None  # a template over the placeholders in automation_file.PLACEHOLDERS


@dataclass(frozen=True, slots=True)
class CrmTask:
    title: str
    due: Span  # after the trigger; usually business time
    to: Recipient = Recipient("owner")


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str


@dataclass(frozen=True, slots=True)
class SendEmail:
    template: str
    data: tuple[tuple[str, str], ...] = ()  # merge data, in file order
    transactional: bool = False  # transactional emails do not count against the weekly marketing cap


@dataclass(frozen=True, slots=True)
class Tag:
    tag: str


@dataclass(frozen=True, slots=True)
class Untag:
    tag: str


@dataclass(frozen=True, slots=True)
class SetAttribute:
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Points:
    """Recorded in the ledger under the automation's or program's id."""

    points: float


@dataclass(frozen=True, slots=True)
class Enroll:
    program: str


@dataclass(frozen=True, slots=True)
class Unenroll:
    program: str


ActionSpec = Union[Notify, CrmTask, Webhook, SendEmail, Tag, Untag, SetAttribute, Points, Enroll, Unenroll]
ACTION_TYPE_OF: dict[type, str] = {Notify: "notify", CrmTask: "crm_task", Webhook: "webhook", SendEmail: "send_email",
                                   Tag: "tag", Untag: "untag", SetAttribute: "set_attribute", Points: "points",
                                   Enroll: "enroll", Unenroll: "unenroll"}


# --- automations and programs -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Automation:
    id: str
    trigger: Trigger
    actions: tuple[ActionSpec, ...]
    conditions: tuple[Condition, ...] = ()
    frequency: Frequency = ONCE
    line: int = 0  # where it is defined, for messages and `leadflow explain`


@dataclass(frozen=True, slots=True)
class Wait:
    span: Span


@dataclass(frozen=True, slots=True)
class Branch:
    """On engagement with the program's previous email: jump forward to ``then`` (a later step's label or
    ``exit``) when it holds, else go on with the next step."""

    engagement: str  # among ENGAGEMENTS
    then: str


@dataclass(frozen=True, slots=True)
class Step:
    label: str  # its `id`, else its 1-based position; goes into action ids and the timeline
    do: Wait | Branch | ActionSpec
    line: int = 0


@dataclass(frozen=True, slots=True)
class ExitCriterion:
    """Checked before every step; ``reason`` is the program outcome ``exited``'s reason."""

    reason: str  # one of EXIT_REASONS, or "goal"
    goal: tuple[Condition, ...] = ()  # for "goal": all must hold


@dataclass(frozen=True, slots=True)
class Reenroll:
    """Whether a prospect who left a program may enter it again: ``never``, ``always`` or ``after`` a time."""

    kind: str  # never | after | always
    after_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    steps: tuple[Step, ...]
    entry: Trigger | None = None  # None: entered only by an `enroll` action
    conditions: tuple[Condition, ...] = ()  # must hold on entry
    exits: tuple[ExitCriterion, ...] = ()
    reenroll: Reenroll = Reenroll("never")
    priority: int = 0  # higher wins when a prospect qualifies for several at once
    line: int = 0


@dataclass(frozen=True, slots=True)
class AutomationFile:
    version: str  # goes into every action id, so a changed file gives new ids
    defaults: Defaults
    automations: tuple[Automation, ...]
    programs: tuple[Program, ...]

    def program(self, program_id: str) -> Program | None:
        return next((p for p in self.programs if p.id == program_id), None)


# --- action ids -------------------------------------------------------------------------------------

ACTION_NAMESPACE = uuid.UUID("5b0c7f5e-1d1e-4c43-9a59-6c6561646677")
_NAMESPACE_BYTES = ACTION_NAMESPACE.bytes
_json_string = json.encoder.encode_basestring  # what json.dumps(..., ensure_ascii=False) writes for a string


def action_id(source_kind: str, source: str, file_version: str, prospect_id: str, cause: str,
              position: str) -> str:
    """The deterministic id of one action: the same file, prospect and cause give the same id in any replay
    or redelivery, so delivery de-duplicates on it.

    ``cause`` is the trigger's event id for an automation, the enrollment (its id) for a program step;
    ``position`` tells apart the actions of one automation (their index) or the step of a program (its
    label), so two actions of one cause never share an id. The parts are JSON-encoded before hashing, so no
    choice of text in one part can imitate another part (``"a|b", "c"`` vs ``"a", "b|c"``).
    """
    # json.dumps([...], ensure_ascii=False), spelled out: the same text at a third of the cost
    text = "[" + ", ".join([_json_string(p) for p in (source_kind, source, file_version, prospect_id, cause,
                                                       position)]) + "]"
    return uuid5(_NAMESPACE_BYTES, text)
