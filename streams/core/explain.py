"""`leadflow explain` and `leadflow rescore`: why a prospect has its score, and what a new model would change."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from streams.core.leads import timeline, type_counts
from streams.core.model import ScoringModel
from streams.core.prospect import ProspectState, Tick, apply, scores
from streams.core.recompute import replay


def as_json(state: ProspectState, model: ScoringModel) -> dict:
    """Profile, scores, stage, segments, timeline and ledger: what `explain --json` prints."""
    current = scores(state, model)
    return {
        "prospect_id": state.prospect_id, "key": state.key, "email": state.email, "stage": state.stage,
        "profile": dict(state.profile), "model_version": model.version,
        "scores": {"total": current.total, "fit": current.fit, "behaviour": current.behaviour,
                   "dimensions": dict(current.dimensions)},
        "segments": list(state.segments), "counts": type_counts(state),
        "timeline": full_timeline(state),
        "ledger": [{"event_id": e.event_id, "rule": e.rule_id, "points": e.points, "decayed": e.decayed,
                    "total": e.total, "occurred_at": _iso(e.occurred_at)} for e in state.ledger],
        "automations": automations_json(state),
    }


def full_timeline(state: ProspectState) -> list[dict]:
    """Inputs and verdicts with their points, and what the automations did (enrollments, steps, actions,
    suppressions: ``type`` is the journal's kind, ``source`` the automation or program, ``event`` the detail),
    in time order."""
    entries = [(e.occurred_at, 0, {"event_id": e.event_id, "type": e.type, "occurred_at": _iso(e.occurred_at),
                                   "source": e.source, "url": e.url, "points": e.points, "event": e.event})
               for e in timeline(state)]
    if state.automation is not None:
        entries += [(j.at, 1, {"event_id": j.action_id or j.cause, "type": j.kind, "occurred_at": _iso(j.at),
                               "source": j.source, "url": None, "points": 0, "event": j.detail})
                    for j in state.automation.journal]
    return [entry for _, _, entry in sorted(entries, key=lambda e: (e[0], e[1]))]


def automations_json(state: ProspectState) -> dict:
    """Programs, tags, suppression and the journal of every enrollment, step and action: why Ada got that
    email (the action id is the one on leadflow.actions)."""
    auto = state.automation
    if auto is None:
        return {"programs": [], "tags": [], "suppressed": None, "journal": []}
    return {
        "programs": [{"program": r.program, "status": r.status, "reason": r.reason, "entered_at": _iso(r.entered_at),
                      "ended_at": None if r.ended_at is None else _iso(r.ended_at), "next_step": r.next_step + 1,
                      "due_at": None if r.due_at is None else _iso(r.due_at), "emails": r.emails,
                      "engaged": r.engaged} for r in auto.enrollments.values()],
        "tags": sorted(auto.tags), "suppressed": auto.suppressed,
        "deferred": [{"action_id": d.action.action_id, "type": d.action.type, "target": d.action.target,
                      "due_at": _iso(d.due_at)} for d in auto.deferred],
        "journal": [{"at": _iso(j.at), "kind": j.kind, "source": j.source, "detail": j.detail, "cause": j.cause,
                     "action_id": j.action_id} for j in auto.journal],
    }


def as_table(state: ProspectState, model: ScoringModel) -> str:
    current = scores(state, model)
    lines = [
        f"prospect {state.prospect_id or state.key}  {state.email or ''}".rstrip(),
        f"stage {state.stage}   total {current.total:.2f} = fit {current.fit:.2f} + behaviour "
        f"{current.behaviour:.2f}   (model {model.version}, as of {_iso(state.clock)})",
    ]
    if current.dimensions:
        lines.append("dimensions: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(current.dimensions.items())))
    if state.segments:
        lines.append("segments: " + ", ".join(state.segments))
    lines.append("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(type_counts(state).items())))
    lines.append("")
    header = f"{'when (UTC)':<20}  {'event':<28}  {'rule':<24}  {'points':>8}  {'decayed':>8}  {'total':>8}"
    lines += [header, "-" * len(header)]
    for e in state.ledger:
        lines.append(f"{_iso(e.occurred_at)[:19]:<20}  {e.event_id[:28]:<28}  {e.rule_id[:24]:<24}  "
                     f"{e.points:>8.2f}  {-e.decayed:>8.2f}  {e.total:>8.2f}")
    auto = state.automation
    if auto is not None and auto.journal:
        lines += ["", "automations:"]
        lines += [f"  {r.program}: {r.status}" + (f" ({r.reason})" if r.reason else "")
                  + (f", next step due {_iso(r.due_at)[:16]}" if r.due_at else "") for r in auto.enrollments.values()]
        if auto.tags or auto.suppressed:
            lines.append(f"  tags: {', '.join(sorted(auto.tags)) or '-'}   suppressed: {auto.suppressed or 'no'}")
        header = f"  {'when (UTC)':<20}  {'what':<18}  {'automation/program':<22}  detail"
        lines += [header, "  " + "-" * (len(header) - 2)]
        lines += [f"  {_iso(j.at)[:19]:<20}  {j.kind:<18}  {j.source[:22]:<22}  {j.detail}" for j in auto.journal]
    return "\n".join(lines)  # the CLI prints it through leadflow.terminal: what senders wrote is shown escaped


@dataclass(frozen=True)
class RescoreReport:
    prospects: int
    changes: Counter  # (old stage, new stage) -> count

    def render(self, old: ScoringModel, new: ScoringModel) -> str:
        moved = sum(self.changes.values())
        lines = [f"{self.prospects} prospects rescored from their timelines: model {old.version} -> {new.version}",
                 f"{moved} would change stage"]
        lines += [f"  {a} -> {b}: {n}" for (a, b), n in sorted(self.changes.items())]
        return "\n".join(lines)


def rescore(states: list[ProspectState], old: ScoringModel, new: ScoringModel, now_ms: int) -> RescoreReport:
    """Replay every retained history under both models up to now and compare the stages they reach."""
    changes: Counter = Counter()
    for state in states:
        before = apply(replay(state.key, list(state.history), old), Tick(now_ms), old).state.stage
        after = apply(replay(state.key, list(state.history), new), Tick(now_ms), new).state.stage
        if before != after:
            changes[(before, after)] += 1
    return RescoreReport(len(states), changes)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


