"""What the prospect-core tests share: a small model, inputs built by number, and a runner."""

from schemas.records import CrmFeedback, Interaction
from streams.core.model import parse_model
from streams.core.prospect import ProspectState, apply, scores
from streams.state_codec import dump_state, load_state

DAY = 86_400_000
PID = "p_1"
BASE = """\
version: t1
thresholds: {promote: 50, demote: 30}
recycle: {score: RECYCLE}
rules:
  - {id: pricing, when: {type: page.viewed, url_contains: /pricing}, points: 20, half_life: 10d, dimension: intent}
  - {id: view, when: {type: page.viewed}, points: 1}
  - {id: open, when: {type: email.opened}, points: 5, cap: {max: 2, per: 1d}}
  - {id: demo, when: {type: form.submitted, form_id: demo}, points: 40, once: true}
  - {id: bot-open, when: {type: email.opened}, points: 1, score_machine: true}
  - {id: bounce, when: {type: email.bounced}, points: -10}
fit:
  - {id: vp, when: {attribute: job_title, regex: "(?i)\\\\bvp\\\\b"}, points: 15}
segments:
  - {id: pricing-visitors, when: {type: page.viewed, url_contains: /pricing}}
"""
MODEL = parse_model(BASE.replace("RECYCLE", "reset"))


def event(n: int, type_: str = "page.viewed", url: str | None = "https://a.io/pricing", at: int | None = None,
          machine: bool = False, known: bool = True, form_id: str | None = None, traits=None) -> Interaction:
    at = n * 1000 if at is None else at
    return Interaction(event_id=f"e{n}", prospect_key=PID if known else "anon:a", type=type_, occurred_at=at,
                       received_at=at, source="test", prospect_id=PID if known else None,
                       email="a@b.io" if known else None, url=url, machine=machine, form_id=form_id,
                       traits=traits or {})


def verdict(n: int, type_: str, at: int) -> CrmFeedback:
    return CrmFeedback(event_id=f"v{n}", prospect_id=PID, type=type_, occurred_at=at, received_at=at)


def copy_of(state):
    """apply() updates a state in place; tests that branch from one state work on copies."""
    return load_state(dump_state(state))


def run(items, state=None, model=MODEL):
    state = copy_of(state) if state is not None else ProspectState(PID)
    effects = []
    for item in items:
        outcome = apply(state, item, model)
        state = outcome.state
        effects.extend(c.kind for c in outcome.effects)
    return state, effects


def total(state, model=MODEL, now=None):
    return round(scores(state, model, now).total, 3)
