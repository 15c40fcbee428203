"""`leadflow backtest`: what a model would have sent to sales, scored against what sales said.

Why a tally: the benchmark replays a million prospects' histories in two processes, so each
process folds its prospects into a small mergeable ``Tally`` (counts per threshold, hours to
promotion, per-rule activations, score histograms) and the shell adds the tallies up in a
fixed order; ``report`` turns the total into figures.

Definitions (the README's "Backtest" says the same):
- a prospect becomes a *lead* at threshold T when its score (interactions only, ``trajectory``)
  first reaches T while it is a known person; if sales rejected that lead (disqualified, or
  lost) the worker recycles it at the verdict, and the next time its score (recycled) reaches
  T is another lead, and so on; each lead counts if its promotion falls inside the window
  (``--since``/``--until``);
- each lead's outcome is the sales episode it claims (``outcomes.claim``: the first one not
  closed at its promotion and not claimed by the prospect's earlier leads):
  *judged* = won + rejected + still open; *accepted* = judged leads sales accepted or contacted
  (or won) at some point; a lead sales never judged is *outcome unknown*, counted apart;
- reject rate = rejected / judged; value per lead = won value / judged leads;
- time to promotion = first touch (its first interaction) to its first promotion, counted in
  hours (a re-promotion after a recycle is not a new first touch: it is left out);
- score distributions: every prospect sales closed (its first won or rejected episode, closed
  inside the window), by its highest score up to that close;
- per rule, the share of its points that came from repeats: activations after its first one
  per prospect, over all activations (points undecayed); most of them is a flag.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from schemas.records import CrmFeedback, Interaction
from streams.core.history import Input
from streams.core.lead_figures import LeadFigures
from streams.core.model import ScoringModel
from streams.core.outcomes import REJECTED, WON, Episode, claim, closing, episodes, recycles
from streams.core.trajectory import Trajectory, trajectory

HOUR_MS = 3_600_000
DAY_MS = 86_400_000
HISTOGRAM_BINS = 20
REPEATS_FLAG = 0.5  # a rule with more than this share of its points from repeats is flagged


@dataclass(frozen=True, slots=True)
class Window:
    """Promotions counted: ``since`` <= promoted_at < ``until`` (epoch ms; None: open-ended)."""

    since: int | None = None
    until: int | None = None

    def holds(self, at: int) -> bool:
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


@dataclass(frozen=True, slots=True)
class ProspectFacts:
    """What the backtest needs of one prospect: its score trajectory and the episodes sales judged."""

    key: str
    trajectory: Trajectory
    episodes: tuple[Episode, ...]
    inputs: int


def split_inputs(inputs: Iterable[Input]) -> tuple[list[Interaction], list[CrmFeedback]]:
    interactions: list[Interaction] = []
    verdicts: list[CrmFeedback] = []
    for item in inputs:
        (interactions if type(item) is Interaction else verdicts).append(item)  # type: ignore[arg-type]
    return interactions, verdicts


def facts(key: str, inputs: Sequence[Input], model: ScoringModel, counts: dict[str, int] | None = None,
          firsts: dict[str, int] | None = None) -> ProspectFacts:
    """One prospect's facts from its inputs in canonical order; per-rule activations are added to ``counts``
    and the rules that fired at all to ``firsts``."""
    interactions, verdicts = split_inputs(inputs)
    mine: dict[str, int] | None = {} if counts is not None else None
    judged = episodes(verdicts)
    path = trajectory(key, interactions, model, mine, recycles(judged) if judged else ())
    if mine:
        assert counts is not None and firsts is not None
        for rule_id, n in mine.items():
            counts[rule_id] = counts.get(rule_id, 0) + n
            firsts[rule_id] = firsts.get(rule_id, 0) + 1
    return ProspectFacts(key, path, judged, len(inputs))


@dataclass(slots=True)
class Counts:
    """Leads at one threshold, mergeable."""

    leads: int = 0
    judged: int = 0
    accepted: int = 0
    rejected: int = 0
    won: int = 0
    open: int = 0
    unknown: int = 0
    won_cents: int = 0  # whole cents: sums are exact, whatever order chunks are added up in
    hours: Counter = field(default_factory=Counter)  # hours from first touch to promotion -> leads

    def add(self, episode: Episode | None, hours: int | None) -> None:
        self.leads += 1
        if hours is not None:
            self.hours[hours] += 1
        if episode is None:
            self.unknown += 1
            return
        self.judged += 1
        self.accepted += episode.accepted
        if episode.result == WON:
            self.won += 1
            self.won_cents += round(episode.value * 100)
        elif episode.result == REJECTED:
            self.rejected += 1
        else:
            self.open += 1

    def merge(self, other: "Counts") -> None:
        for name in ("leads", "judged", "accepted", "rejected", "won", "open", "unknown", "won_cents"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.hours.update(other.hours)


def histogram_edges(threshold: float) -> tuple[float, ...]:
    """Score bins for the won/rejected distributions: 0 to twice the threshold; the outer bins take the rest."""
    width = max(threshold, 1.0) * 2 / HISTOGRAM_BINS
    return tuple(i * width for i in range(HISTOGRAM_BINS + 1))


def bin_of(edges: Sequence[float], score: float) -> int:
    width = edges[1] - edges[0]
    return min(max(int(score // width), 0), len(edges) - 2)


@dataclass(slots=True)
class Tally:
    """A chunk of prospects folded into counts; ``merge`` tallies in a fixed order for the same total."""

    thresholds: tuple[float, ...]
    window: Window
    edges: tuple[float, ...]
    model_threshold: float
    by_threshold: list[Counts] = field(default_factory=list)
    prospects: int = 0
    inputs: int = 0
    activations: dict[str, int] = field(default_factory=dict)
    firsts: dict[str, int] = field(default_factory=dict)
    won_scores: list[int] = field(default_factory=list)  # prospects sales closed, by their score at the close
    rejected_scores: list[int] = field(default_factory=list)
    first_at: int | None = None  # the oldest and newest input seen
    last_at: int | None = None

    @staticmethod
    def empty(thresholds: Sequence[float], window: Window, model_threshold: float) -> "Tally":
        edges = histogram_edges(model_threshold)
        return Tally(tuple(sorted(thresholds)), window, edges, model_threshold, [Counts() for _ in thresholds],
                     won_scores=[0] * (len(edges) - 1), rejected_scores=[0] * (len(edges) - 1))

    def add(self, prospect: ProspectFacts, first_at: int | None, last_at: int | None) -> None:
        self.prospects += 1
        self.inputs += prospect.inputs
        if first_at is not None:
            self.first_at = first_at if self.first_at is None else min(self.first_at, first_at)
        if last_at is not None:
            self.last_at = last_at if self.last_at is None else max(self.last_at, last_at)
        path, judged = prospect.trajectory, prospect.episodes
        if not path.times:
            return  # never a known person with a score: no model promotes it
        window, touched, times, maxima = self.window, path.first_touch, path.times, path.maxima
        index, top = 0, len(maxima)
        for counts, threshold in zip(self.by_threshold, self.thresholds):
            while index < top and maxima[index] < threshold:  # path.promoted_at, thresholds ascending
                index += 1
            if index == top:
                break  # no higher threshold promotes it either
            promoted = times[index]
            hours = None if touched is None else (promoted - touched) // HOUR_MS
            if not judged:
                if window.holds(promoted):
                    counts.add(None, hours)
                continue
            for promoted, episode in leads(path, judged, threshold, promoted):
                if window.holds(promoted):
                    counts.add(episode, hours)
                hours = None  # re-promotions: no new first touch
        closed = closing(judged) if judged else None
        if closed is not None and self.window.holds(closed.ended_at):  # type: ignore[arg-type]
            scores = self.won_scores if closed.result == WON else self.rejected_scores
            scores[bin_of(self.edges, path.peak_until(closed.ended_at))] += 1  # type: ignore[arg-type]

    def merge(self, other: "Tally") -> None:
        for mine, theirs in zip(self.by_threshold, other.by_threshold):
            mine.merge(theirs)
        self.prospects += other.prospects
        self.inputs += other.inputs
        for name in ("activations", "firsts"):
            target = getattr(self, name)
            for rule_id, n in getattr(other, name).items():
                target[rule_id] = target.get(rule_id, 0) + n
        self.won_scores = [a + b for a, b in zip(self.won_scores, other.won_scores)]
        self.rejected_scores = [a + b for a, b in zip(self.rejected_scores, other.rejected_scores)]
        for at in (other.first_at, other.last_at):
            if at is not None:
                self.first_at = at if self.first_at is None else min(self.first_at, at)
                self.last_at = at if self.last_at is None else max(self.last_at, at)


def leads(path: Trajectory, judged: tuple[Episode, ...], threshold: float,
          first: int) -> list[tuple[int, Episode | None]]:
    """A prospect's leads at ``threshold`` from its first promotion (``first``) on, each with the episode it
    claims (None: outcome unknown): a rejected lead's recycle lets the recycled score promote it again."""
    episode, restart, after = claim(judged, first)
    out = [(first, episode)]
    while restart is not None:
        promoted = path.after[restart].promoted_at(threshold)
        if promoted is None:
            break
        episode, restart, after = claim(judged, promoted, after)
        out.append((promoted, episode))
    return out


def tally(histories: Iterable[tuple[str, Sequence[Input]]], model: ScoringModel, thresholds: Sequence[float],
          window: Window = Window()) -> Tally:
    """Fold these prospects' histories (each in canonical order) into a tally under ``model``."""
    out = Tally.empty(thresholds, window, model.promote_threshold)
    for key, inputs in histories:
        prospect = facts(key, inputs, model, out.activations, out.firsts)
        out.add(prospect, inputs[0].occurred_at if inputs else None, inputs[-1].occurred_at if inputs else None)
    return out


def default_thresholds(model: ScoringModel) -> tuple[float, ...]:
    """The model's threshold and a sweep around it: half to one and a half times it, in tenths."""
    base = model.promote_threshold
    return tuple(sorted({float(round(base * f / 10)) for f in range(5, 16) if round(base * f / 10) > 0} | {base}))


@dataclass(frozen=True, slots=True)
class RuleRepeats:
    rule: str
    activations: int
    prospects: int
    repeat_share: float
    flagged: bool


@dataclass(frozen=True, slots=True)
class Report:
    model_version: str
    model_threshold: float
    prospects: int
    inputs: int
    window: Window
    first_at: int | None
    last_at: int | None
    rows: tuple[LeadFigures, ...]
    rules: tuple[RuleRepeats, ...]
    edges: tuple[float, ...]
    won_scores: tuple[int, ...]
    rejected_scores: tuple[int, ...]

    def row_at(self, threshold: float) -> LeadFigures:
        return next(row for row in self.rows if row.threshold == threshold)


def report(total: Tally, model: ScoringModel) -> Report:
    rows = tuple(row(threshold, counts) for threshold, counts in zip(total.thresholds, total.by_threshold))
    rules = []
    for rule in model.rules:
        activations = total.activations.get(rule.id, 0)
        prospects = total.firsts.get(rule.id, 0)
        share = (activations - prospects) / activations if activations else 0.0
        rules.append(RuleRepeats(rule.id, activations, prospects, share, share > REPEATS_FLAG))
    return Report(model.version, model.promote_threshold, total.prospects, total.inputs, total.window,
                  total.first_at, total.last_at, rows, tuple(rules), total.edges, tuple(total.won_scores),
                  tuple(total.rejected_scores))


def row(threshold: float, counts: Counts) -> LeadFigures:
    return LeadFigures(threshold, counts.leads, counts.judged, counts.accepted, counts.rejected, counts.won,
                       counts.open, counts.unknown, counts.won_cents / 100,
                       median_days_to_promotion=median_hours(counts.hours) / 24 if counts.hours else None)


def median_hours(hours: Counter) -> float:
    """The median of a histogram of whole hours (the mean of the two middle ones for an even count)."""
    total = sum(hours.values())
    ordered = sorted(hours.items())

    def nth(n: int) -> int:
        seen = 0
        for value, count in ordered:
            seen += count
            if seen > n:
                return value
        return ordered[-1][0]

    return (nth((total - 1) // 2) + nth(total // 2)) / 2
