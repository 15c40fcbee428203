"""Nurture programs: entering one, running its steps up to the next wait, leaving it.

A run (``Enrollment``) is a position in the program's steps and, while it waits, the date
its next step is due. Steps run in order and are dated by their schedule: a worker that
was down across a wait runs the step at once when it is back, with the wait's end as
its time, so its action id and timeline are the same as if nothing had happened. Exit
criteria are checked before every step (and after every input), so a prospect promoted
during a wait never gets the next email. Outcomes: ``completed`` (through every step, or
a branch to ``exit``, with some engagement), ``exhausted`` (through every step with
emails sent and none opened or clicked), ``exited`` with the reason.
"""

from __future__ import annotations

from streams.core import automation_model as m
from streams.core import lifecycle
from streams.core.automation_actions import SUPPRESSED, Context, all_hold, perform
from streams.core.automation_state import ACTIVE, COMPLETED, EXHAUSTED, EXITED, Enrollment, ProgramChange
from streams.core.durations import format_duration_ms

MAX_STEPS_PER_RUN = 1000  # steps without a wait between them; a program has far fewer (a guard, not a limit)


def enroll(ctx: Context, program: m.Program, cause: str) -> bool:
    """Start a run unless one is active, the re-enrollment policy forbids another or the entry conditions
    do not hold; True if it started."""
    auto = ctx.auto
    previous = auto.enrollments.get(program.id)
    if previous is not None:
        if previous.status == ACTIVE:
            return False
        policy = program.reenroll
        if policy.kind == "never":
            return False
        if policy.kind == "after" and ctx.at < (previous.ended_at or 0) + (policy.after_ms or 0):
            return False
    if not all_hold(ctx, program.conditions):
        return False
    run = Enrollment(program.id, f"{program.id}@{ctx.at}/{cause}", ctx.at)
    auto.enrollments[program.id] = run
    ctx.log("program.enrolled", program.id, f"entered ({ctx.why})")
    ctx.effects.append(ProgramChange(program.id, "enrolled"))
    advance(ctx, program, run)
    return True


def advance(ctx: Context, program: m.Program, run: Enrollment) -> None:
    """Run the steps due now, up to the next wait or the end."""
    run.due_at = None
    for _ in range(MAX_STEPS_PER_RUN):
        if run.status != ACTIVE:
            return
        reason = exit_reason(ctx, program)
        if reason is not None:
            return end(ctx, run, EXITED, reason)
        if run.next_step >= len(program.steps):
            return end(ctx, run, EXHAUSTED if run.emails and not run.engaged else COMPLETED, "")
        step = program.steps[run.next_step]
        run.next_step += 1
        do = step.do
        if isinstance(do, m.Wait):
            calendar = ctx.engine.file.defaults.business_hours
            run.due_at = calendar.add(ctx.at, do.span.ms) if do.span.business else ctx.at + do.span.ms
            ctx.log("program.step", program.id, f"{step.label}: wait {_span(do.span)}")
            return
        if isinstance(do, m.Branch):
            taken = engaged(ctx, run, do.engagement)
            ctx.log("program.step", program.id, f"{step.label}: {do.engagement}? {'yes' if taken else 'no'}"
                    + (f" -> {do.then}" if taken else ""))
            if taken:
                if do.then == m.EXIT:
                    return end(ctx, run, COMPLETED, "")
                run.next_step = next(i for i, s in enumerate(program.steps) if s.label == do.then)
            continue
        # the action's own journal entry names the step: one entry per action step, not two
        action_id, outcome = perform(ctx, do, m.PROGRAM, program.id, step.label, step=step.label,
                                     enrollment=run.enrollment_id)
        if isinstance(do, m.SendEmail):
            run.last_email = action_id
            run.emails += outcome != SUPPRESSED


def engaged(ctx: Context, run: Enrollment, engagement: str) -> bool:
    email = ctx.auto.email(run.last_email)
    opened = email is not None and (email.opened_at is not None or email.clicked_at is not None)
    clicked = email is not None and email.clicked_at is not None
    return {"opened": opened, "clicked": clicked, "not_opened": not opened, "not_clicked": not clicked}[engagement]


def exit_reason(ctx: Context, program: m.Program) -> str | None:
    state, auto = ctx.state, ctx.auto
    for criterion in program.exits:
        reason = criterion.reason
        if reason == "promoted" and state.stage in lifecycle.IN_SALES:
            return reason
        if reason == "crm_took_lead" and (state.stage in (lifecycle.ACCEPTED, lifecycle.CONTACTED, lifecycle.WON)
                                          or (state.owner is not None and state.stage in lifecycle.IN_SALES)):
            return reason
        if reason in ("unsubscribed", "hard_bounce", "complaint") and auto.suppressed == reason:
            return reason
        if reason == "goal" and all_hold(ctx, criterion.goal):
            return reason
    return None


def end(ctx: Context, run: Enrollment, outcome: str, reason: str) -> None:
    run.status, run.reason, run.ended_at, run.due_at = outcome, reason or None, ctx.at, None
    ctx.auto.deferred = [d for d in ctx.auto.deferred if d.enrollment != run.enrollment_id]
    ctx.log(f"program.{outcome}", run.program, reason or outcome)
    ctx.effects.append(ProgramChange(run.program, outcome, reason))


def leave(ctx: Context, program_id: str, outcome: str, reason: str) -> None:
    run = ctx.auto.enrollments.get(program_id)
    if run is not None and run.status == ACTIVE:
        end(ctx, run, outcome, reason)


def check_exits(ctx: Context) -> None:
    """After an input: runs whose exit criteria now hold end at once, not at their next step."""
    for run in list(ctx.auto.enrollments.values()):
        if run.status != ACTIVE:
            continue
        program = ctx.engine.programs.get(run.program)
        if program is None:
            end(ctx, run, EXITED, "program_removed")
        elif (reason := exit_reason(ctx, program)) is not None:
            end(ctx, run, EXITED, reason)



def _span(span: m.Span) -> str:
    text = format_duration_ms(span.ms)
    return f"{text} of business time" if span.business else text
