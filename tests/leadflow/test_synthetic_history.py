"""The synthetic history: seeded and deterministic, in the history format, with its documented ground truth
measurable in what it wrote, and selective labels (only the leads the shipped model sent to sales are judged)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import pytest

from leadflow.cli import main
from leadflow.config import DEFAULT_MODEL
from leadflow.errors import UsageError
from leadflow.history_file import read_history
from leadflow.history_scan import scan_history
from leadflow.synthetic_file import CHUNK, write_cli, write_history
from leadflow.synthetic_history import DEFAULT_END, Settings, won_probability
from schemas.records import CrmFeedback, Interaction
from streams.core.backtest import report, tally
from streams.core.model import load_model
from streams.core.prospect import LeadChange, ProspectState, apply

FINAL = ("won", "lost", "disqualified")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> tuple[Path, dict[str, list]]:
    """6,000 prospects (seed 3): the file and each prospect's records in file order."""
    path = tmp_path_factory.mktemp("synthetic") / "history.jsonl"
    write_history(path, Settings(6_000, seed=3))
    by_prospect: dict[str, list] = defaultdict(list)
    for _, record in read_history(path):  # no error: the generator writes the format it documents
        by_prospect[record.prospect_key if type(record) is Interaction else record.prospect_id].append(record)
    return path, by_prospect


def test_same_seed_same_file_and_another_seed_another(tmp_path):
    one, two, other = (tmp_path / "1.jsonl", tmp_path / "2.jsonl", tmp_path / "3.jsonl")
    write_history(one, Settings(300, seed=5))
    write_history(two, Settings(300, seed=5))
    write_history(other, Settings(300, seed=6))
    assert one.read_bytes() == two.read_bytes() != other.read_bytes()


def test_a_prospect_is_the_same_whatever_the_count_and_the_number_of_processes(tmp_path):
    small, large, parallel = tmp_path / "small.jsonl", tmp_path / "large.jsonl", tmp_path / "parallel.jsonl"
    write_history(small, Settings(100, seed=2))
    write_history(large, Settings(CHUNK + 150, seed=2))
    write_history(parallel, Settings(CHUNK + 150, seed=2), jobs=2)
    assert large.read_bytes().startswith(small.read_bytes())
    assert parallel.read_bytes() == large.read_bytes()


def test_rows_are_grouped_by_prospect_in_canonical_order(history):
    path, by_prospect = history
    seen: list[str] = []
    for _, record in read_history(path):
        key = record.prospect_key if type(record) is Interaction else record.prospect_id
        if not seen or seen[-1] != key:
            assert key not in seen, "a prospect's rows are contiguous"
            seen.append(key)
    for records in by_prospect.values():
        order = [(r.occurred_at, r.event_id) for r in records]
        assert order == sorted(order)
    scan = scan_history(path)
    assert scan.errors == [] and scan.prospects == 6_000 == len(by_prospect)
    assert scan.last_at < Settings(1).end_ms and scan.first_at >= Settings(1).start_ms - 86_400_000


def test_most_prospects_have_one_to_five_interactions_and_a_zipf_head_has_many(history):
    _, by_prospect = history
    counts = [sum(type(r) is Interaction for r in records) for records in by_prospect.values()]
    assert sum(1 <= n <= 5 for n in counts) / len(counts) > 0.8
    assert max(counts) >= 100 and sum(n >= 30 for n in counts) >= 20


def test_profiles_carry_fit_traits(history):
    _, by_prospect = history
    firsts = [records[0] for records in by_prospect.values()]
    assert all(type(r) is Interaction and {"country", "consent", "company"} <= set(r.traits) for r in firsts)
    titles = Counter("job_title" in r.traits for r in firsts)
    assert titles[True] > titles[False] > 0
    assert {r.traits["consent"] for r in firsts} == {"true", "false"}
    assert len({r.traits["country"] for r in firsts}) >= 10


def signals(records: list, until: int | None = None) -> set[str]:
    """What a prospect did (before ``until``): the ground truth's four signals and the noise."""
    out = set()
    for r in records:
        if type(r) is not Interaction or (until is not None and r.occurred_at > until):
            continue
        if r.type == "form.submitted":
            out.add(f"form:{r.form_id}")
        elif r.type == "page.viewed":
            out.add("pricing" if "/pricing" in (r.url or "") else "page")
        elif r.type == "email.opened":
            out.add(f"open:{r.campaign}")
        else:
            out.add(r.type)
    return out


def won_rate(by_prospect: dict[str, list], chosen) -> tuple[float, int]:
    judged = [records for records in by_prospect.values()
              if any(type(r) is CrmFeedback and r.type in FINAL for r in records) and chosen(signals(records))]
    won = sum(any(type(r) is CrmFeedback and r.type == "won" for r in records) for records in judged)
    return won / len(judged), len(judged)


def test_the_ground_truth_is_measurable_demo_requests_win_newsletter_opens_do_not(history):
    _, by_prospect = history
    demo, demo_n = won_rate(by_prospect, lambda s: "form:demo-request" in s)
    webinar, _ = won_rate(by_prospect, lambda s: "webinar.attended" in s)
    newsletter, newsletter_n = won_rate(by_prospect, lambda s: s <= {"open:newsletter", "form:newsletter-signup",
                                                                     "page", "email.clicked"})
    everyone, _ = won_rate(by_prospect, lambda s: True)
    assert demo_n >= 100 and newsletter_n >= 50, "both groups reached sales under the shipped model"
    assert demo > 3 * newsletter and webinar > 2 * newsletter
    assert demo > everyone > newsletter
    assert newsletter < 0.15 and demo > 0.3
    # the formula the module documents
    assert won_probability(False, 0, False, False) == pytest.approx(0.0474, abs=1e-3)
    assert won_probability(True, 5, False, False) == won_probability(True, 3, False, False)  # 3 days at most


def test_won_deals_have_values_and_other_verdicts_none(history):
    _, by_prospect = history
    verdicts = [r for records in by_prospect.values() for r in records if type(r) is CrmFeedback]
    won = [v for v in verdicts if v.type == "won"]
    assert won and all(v.deal_value and v.deal_value > 0 for v in won)
    assert len({v.deal_value for v in won}) > len(won) // 2  # drawn per deal
    assert all(v.deal_value is None for v in verdicts if v.type != "won")
    assert {v.type for v in verdicts} == {"accepted", "contacted", "won", "lost", "disqualified"}


def test_only_leads_the_shipped_model_promoted_have_outcomes_and_some_are_never_judged(history):
    """Selective labels: replaying each prospect under the shipped model (verdicts included), every verdict
    follows a promotion, and some promoted leads have none."""
    _, by_prospect = history
    model = load_model(DEFAULT_MODEL)
    promoted = unjudged = 0
    for key, records in by_prospect.items():
        state = ProspectState(key, model_version=model.version)
        promotions: list[int] = []
        for record in records:
            if type(record) is CrmFeedback:
                assert promotions and record.occurred_at > promotions[-1], f"{key}: a verdict without a promotion"
            promotions += [e.occurred_at for e in apply(state, record, model).effects
                           if type(e) is LeadChange and e.kind == "lead.promoted"]
        promoted += bool(promotions)
        unjudged += bool(promotions) and not any(type(r) is CrmFeedback for r in records)
    judged = sum(any(type(r) is CrmFeedback for r in records) for records in by_prospect.values())
    assert promoted == judged + unjudged and 0 < unjudged < judged
    assert 0.05 < promoted / len(by_prospect) < 0.4


def test_refreshing_the_pricing_page_all_afternoon_is_in_the_data(history):
    _, by_prospect = history
    bursts = [records for records in by_prospect.values()
              if sum(type(r) is Interaction and "/pricing" in (r.url or "") for r in records) >= 10
              and records[-1].occurred_at - records[0].occurred_at < 86_400_000]
    assert bursts


def test_the_command_writes_the_file_and_prints_what_it_holds(tmp_path, capsys):
    out = tmp_path / "h.jsonl.gz"
    assert main(["synthetic", "--prospects", "200", "--seed", "4", "--months", "6", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} in " in printed and "200 prospects" in printed
    assert "(seed 4, 6 months to 2026-01-01)" in printed
    assert "sent to sales by the shipped model: " in printed
    scan = scan_history(out)
    assert scan.errors == [] and scan.prospects == 200
    assert scan.first_at >= Settings(1, months=6).start_ms - 86_400_000


@pytest.mark.parametrize("args, message", [
    ((0, 1, 12, None), "synthetic: --prospects and --months must be at least 1"),
    ((10, 1, 12, "tomorrow"), "synthetic: --end must be a date YYYY-MM-DD, got 'tomorrow'"),
    ((10, 1, 12, "2999-01-01"), "synthetic: --end 2999-01-01 is in the future: a history ends today at the latest"),
])
def test_bad_arguments_are_usage_errors(tmp_path, args, message):
    with pytest.raises(UsageError) as caught:
        write_cli(tmp_path / "h.jsonl", *args)
    assert str(caught.value) == message


def test_only_json_lines_are_written(tmp_path):
    with pytest.raises(UsageError, match="name it .jsonl or .jsonl.gz"):
        write_history(tmp_path / "h.csv", Settings(1))
    assert DEFAULT_END == date(2026, 1, 1)


def test_a_backtest_of_the_shipped_model_counts_the_leads_its_sales_were_sent(tmp_path):
    """The reference process sends every promotion to sales, re-promotions after a recycle included; a backtest of
    the same model at its threshold counts the same leads, verdicts and deals (outcomes.claim, trajectory.after)."""
    path = tmp_path / "h.jsonl"
    totals = write_history(path, Settings(3_000, seed=5))
    by_prospect: dict[str, list] = defaultdict(list)
    for _, record in read_history(path):
        by_prospect[record.prospect_key if type(record) is Interaction else record.prospect_id].append(record)
    model = load_model(DEFAULT_MODEL)
    row = report(tally(sorted(by_prospect.items()), model, [model.promote_threshold]), model).rows[0]
    assert totals.promotions > totals.prospects // 10
    assert (row.leads, row.judged - row.open, row.won) == (totals.promotions, totals.judged, totals.won)
    assert row.won_value == pytest.approx(totals.won_value, abs=0.01)
