"""History files: good rows in both formats become the records the live paths would make; every bad row is
reported as FILE:LINE: reason; ids are stable across reads and formats."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from leadflow.errors import UsageError
from leadflow.history_file import INTERACTION_FIELDS, HistoryError, Rules, read_history
from leadflow.history_scan import check_history, scan_history
from schemas.records import CrmFeedback, Interaction
from streams.core.identity import prospect_id_for
from streams.core.model import INTERACTION_TYPES
from streams.core.verdicts import verdict_from

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z
RULES = Rules.default(NOW)
ADA = prospect_id_for("ada@example.com")
T0 = "2025-03-01T10:00:00Z"
T0_MS = 1_740_823_200_000

ROWS = [
    {"kind": "interaction", "occurred_at": T0, "email": " Ada@Example.com ", "type": "page.viewed",
     "url": "https://a.io/pricing", "title": "Pricing", "traits": {"title": "VP Sales", "country": "US",
                                                                   "consent": "yes"}},
    {"kind": "interaction", "event_id": "crm-42", "occurred_at": "1740823260000", "email": "ada@example.com",
     "event": "Email Opened", "campaign": "newsletter", "message_id": "nl-7"},
    {"kind": "interaction", "occurred_at": "2025-03-01T11:00:00+01:00", "anonymous_id": "v1",
     "type": "asset.downloaded", "properties": {"asset": "guide.pdf"}},
    {"kind": "interaction", "occurred_at": "2025-03-01T10:05:00Z", "anonymous_id": "v1", "email": "ada@example.com",
     "type": "identity.linked"},
    {"kind": "outcome", "occurred_at": "2025-03-04T09:00:00Z", "prospect_id": ADA, "verdict": "won",
     "deal_value": "1200.5", "reason": "signed", "owner": "sam"},
]


def write_jsonl(path: Path, rows: list, gz: bool = False) -> Path:
    data = "".join(json.dumps(row) + "\n" for row in rows).encode()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_csv(path: Path, text: str, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    return path


CSV = """kind,event_id,occurred_at,email,anonymous_id,prospect_id,type,event,url,title,campaign,message_id,\
property.asset,trait.title,trait.country,trait.consent,verdict,deal_value,reason,owner
interaction,,2025-03-01T10:00:00Z, Ada@Example.com ,,,page.viewed,,https://a.io/pricing,Pricing,,,,VP Sales,US,yes,,,,
interaction,crm-42,1740823260000,ada@example.com,,,,Email Opened,,,newsletter,nl-7,,,,,,,,
interaction,,2025-03-01T11:00:00+01:00,,v1,,asset.downloaded,,,,,,guide.pdf,,,,,,,
interaction,,2025-03-01T10:05:00Z,ada@example.com,v1,,identity.linked,,,,,,,,,,,,,
outcome,,2025-03-04T09:00:00Z,,,""" + ADA + """,,,,,,,,,,,won,1200.5,signed,sam
"""


def records(path: Path, rules: Rules = RULES) -> list:
    return [record for _, record in read_history(path, rules)]


def test_good_rows_become_the_records_the_live_paths_make(tmp_path):
    out = list(read_history(write_jsonl(tmp_path / "h.jsonl", ROWS), RULES))
    assert [line for line, _ in out] == [1, 2, 3, 4, 5]
    view, opened, download, link, won = (record for _, record in out)
    assert isinstance(view, Interaction) and view.prospect_key == ADA == view.prospect_id
    assert (view.email, view.type, view.url, view.title, view.occurred_at) == \
        ("ada@example.com", "page.viewed", "https://a.io/pricing", "Pricing", T0_MS)
    assert (view.source, view.received_at) == ("import", T0_MS)  # received_at = occurred_at unless told
    assert view.traits == {"job_title": "VP Sales", "country": "US", "consent": "true"}  # the Segment trait mapping
    assert view.event_id.startswith("imp:")
    assert (opened.event_id, opened.type, opened.event, opened.occurred_at) == \
        ("crm-42", "email.opened", "Email Opened", T0_MS + 60_000)  # the event-name table, epoch ms as digits
    assert (opened.campaign, opened.message_id) == ("newsletter", "nl-7")
    assert (download.prospect_key, download.prospect_id, download.anonymous_id) == ("anon:v1", None, "v1")
    assert download.properties == {"asset": "guide.pdf"} and download.occurred_at == T0_MS
    assert (link.prospect_key, link.prospect_id, link.type) == ("anon:v1", ADA, "identity.linked")
    decided = T0_MS + 3 * 86_400_000 - 3_600_000
    assert won == CrmFeedback(event_id=won.event_id, prospect_id=ADA, type="won", occurred_at=decided,
                              received_at=decided, deal_value=1200.5, reason="signed", owner="sam")


@pytest.mark.parametrize("gz", [False, True])
def test_csv_with_property_and_trait_columns_gives_the_same_records_as_json_lines(tmp_path, gz):
    suffix = ".gz" if gz else ""
    from_csv = records(write_csv(tmp_path / f"h.csv{suffix}", CSV, gz))
    from_jsonl = records(write_jsonl(tmp_path / f"h.jsonl{suffix}", ROWS, gz))
    assert from_csv == from_jsonl and len(from_csv) == 5


def test_a_spreadsheet_csv_with_a_byte_order_mark_and_crlf_reads_the_same(tmp_path):
    excel = "\ufeff" + CSV.replace("\n", "\r\n")
    assert records(write_csv(tmp_path / "excel.csv", excel)) == records(write_csv(tmp_path / "h.csv", CSV))


def test_derived_ids_are_stable_across_reads_and_differ_by_content(tmp_path):
    path = write_jsonl(tmp_path / "h.jsonl", ROWS)
    first, again = records(path), records(path, Rules.default(NOW + 1000, received_at=NOW))
    assert [r.event_id for r in first] == [r.event_id for r in again]
    assert [r.received_at for r in again] == [NOW] * 5  # what `leadflow import` stamps
    other = records(write_jsonl(tmp_path / "other.jsonl", [{**ROWS[0], "url": "https://a.io/pricing/team"}]))
    assert other[0].event_id != first[0].event_id
    # an outcome without an id gets the id the CRM feedback endpoint gives the same verdict
    won = first[-1]
    live = verdict_from({"prospect_id": ADA, "verdict": "won", "occurred_at": won.occurred_at}, NOW)
    assert won.event_id == live.event_id


def bad(tmp_path: Path, row: object, name: str = "h.jsonl", rules: Rules = RULES) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(ROWS[1]) + "\n" + (row if isinstance(row, str) else json.dumps(row)) + "\n")
    with pytest.raises(HistoryError) as caught:
        records(path, rules)
    assert caught.value.line == 2 and isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    assert str(caught.value).startswith(f"{path}:2: ")
    return str(caught.value).removeprefix(f"{path}:2: ")


OK = {"kind": "interaction", "occurred_at": T0, "email": "ada@example.com", "type": "page.viewed"}
KNOWN = ", ".join(sorted(INTERACTION_TYPES))
ALLOWED = ", ".join(INTERACTION_FIELDS)
VERDICT = {"kind": "outcome", "occurred_at": T0, "email": "ada@example.com", "verdict": "lost"}


@pytest.mark.parametrize("row, reason", [
    ({**OK, "kind": "visit"}, "unknown kind 'visit'; expected interaction or outcome"),
    ({k: v for k, v in OK.items() if k != "kind"}, "kind is required (interaction or outcome)"),
    ({**OK, "occurred_at": "yesterday"}, "occurred_at is not ISO 8601 or epoch milliseconds: 'yesterday'"),
    ({**OK, "occurred_at": "2025-03-01T10:00:00"},
     "occurred_at '2025-03-01T10:00:00' has no time zone (add Z or an offset like +02:00)"),
    ({**OK, "occurred_at": None}, "occurred_at is required (ISO 8601 with a time zone, or epoch milliseconds)"),
    ({**OK, "occurred_at": 1.5}, "occurred_at: timestamp must be an ISO 8601 string or epoch milliseconds"),
    ({**OK, "occurred_at": "2026-01-03T00:00:00Z"},
     "occurred_at: timestamp 2026-01-03T00:00:00Z is more than the allowed skew in the future "
     "(latest accepted 2026-01-02T00:00:00Z; LEADFLOW_MAX_FUTURE_SECONDS)"),
    ({**OK, "email": "ada-at-example"}, "not a valid email address: 'ada-at-example'"),
    ({**OK, "type": "page.view"}, f"unknown interaction type 'page.view'; known: {KNOWN}"),
    ({**OK, "type": None}, "type or event is required (a canonical interaction type, or a sender's event name)"),
    ({**OK, "url": "https://a.io/\x1b[31m"}, "'url' contains the control character U+001B"),
    ({**OK, "traits": {"company": "a\x00b"}}, "'traits.company' contains the control character U+0000"),
    ({**OK, "properties": ["a"]}, "properties must be an object of name -> value"),
    ({**OK, "url": {"href": "x"}}, "url must be text, not an object"),
    ({**OK, "colour": "red"}, f"interaction rows have no field(s) 'colour'; allowed: {ALLOWED}"),
    ({**OK, "verdict": "won"}, f"interaction rows have no field(s) 'verdict'; allowed: {ALLOWED}"),
    ({**OK, "email": None}, "email, prospect_id or anonymous_id is required"),
    ({**OK, "prospect_id": "p_0"}, "prospect_id and email name different prospects"),
    ({**OK, "email": None, "prospect_id": "anon:v1"},
     "prospect_id 'anon:v1' names no person; an anonymous visitor's id goes in anonymous_id"),
    ({**OK, "type": "identity.linked"},
     "an identity.linked row needs anonymous_id and email or prospect_id: it links that visitor to the person"),
    ({**OK, "event_id": "x" * 301}, "'event_id' is longer than 300 characters"),
    ({**VERDICT, "verdict": "maybe"},
     "verdict must be one of accepted, contacted, won, lost, disqualified, got 'maybe'"),
    ({**VERDICT, "deal_value": -5}, "deal_value must be a non-negative number"),
    ({**VERDICT, "deal_value": "lots"}, "deal_value must be a number, got 'lots'"),
    ({**VERDICT, "reason": "no\x07budget"}, "'reason' contains the control character U+0007"),
    ({**VERDICT, "email": None}, "email or prospect_id is required"),
    ({**VERDICT, "url": "https://a.io"}, "outcome rows have no field(s) 'url'; allowed: kind, event_id, "
                                         "occurred_at, email, prospect_id, verdict, deal_value, reason, owner"),
    ("{not json", "not valid JSON: "),
    ("[1, 2]", "a row must be a JSON object"),
])
def test_each_bad_row_names_its_file_line_and_reason(tmp_path, row, reason):
    message = bad(tmp_path, row)
    assert message.startswith(reason) if reason.endswith(": ") else message == reason


CSV_HEADER = "kind,occurred_at,email,type,verdict,deal_value\n"


@pytest.mark.parametrize("body, reason", [
    ("interaction,2025-03-01T10:00:00Z,ada@example.com,page.view,,\n",
     f"unknown interaction type 'page.view'; known: {KNOWN}"),
    ("outcome,2025-03-01T10:00:00Z,ada@example.com,,won,-1\n", "deal_value must be a non-negative number"),
    ("interaction,2025-03-01T10:00:00Z,ada@example.com,page.viewed,won,\n",
     f"interaction rows have no field(s) 'verdict'; allowed: {ALLOWED}"),
    ("interaction,2025-03-01T10:00:00Z,ada@example.com\n", "3 cells, but the header has 6 columns"),
    ("interaction,2025-03-01T10:00:00Z,ada@\xff.com,page.viewed,,\n", "not a valid email address: 'ada@\\udcff.com'"),
])
def test_bad_csv_rows_name_their_line(tmp_path, body, reason):
    path = tmp_path / "h.csv"
    path.write_bytes((CSV_HEADER + "interaction,2025-03-01T10:00:00Z,ada@example.com,page.viewed,,\n").encode()
                     + body.encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
    assert [str(e) for e in check_history(path, rules=RULES)] == [f"{path}:3: {reason}"]


def test_a_quoted_multi_line_csv_cell_keeps_the_line_numbers_of_the_rows_after_it(tmp_path):
    path = write_csv(tmp_path / "h.csv", "kind,occurred_at,email,verdict,reason\n"
                                         'outcome,2025-03-01T10:00:00Z,ada@example.com,lost,"two\nlines"\n'
                                         "outcome,2025-03-01T10:00:00Z,ada@example.com,maybe,\n")
    [error] = check_history(path, rules=RULES)
    assert str(error).startswith(f"{path}:4: verdict must be one of")
    assert records(write_csv(tmp_path / "ok.csv", path.read_text().rsplit("outcome", 1)[0]))[0].reason == "two\nlines"


@pytest.mark.parametrize("name, content, reason", [
    ("h.txt", b"", "unknown format: the name must end in .jsonl, .csv, .jsonl.gz, .csv.gz"),
    ("h.csv", b"kind,when,email\n", "1: unknown column(s) 'when'; allowed: kind, event_id, occurred_at, email, "
                                    "prospect_id, anonymous_id, type, event, url, title, referrer, campaign, "
                                    "message_id, form_id, verdict, deal_value, reason, owner, property.<name>, "
                                    "trait.<name>"),
    ("h.csv", b"kind,email,email\n", "1: column(s) 'email' appear more than once"),
    ("h.csv", b"email,type\n", "1: the header needs a 'kind' column (interaction or outcome)"),
    ("h.jsonl.gz", b"not gzip at all", "cannot read: Not a gzipped file (b'no')"),
])
def test_a_file_that_cannot_be_read_at_all_is_one_error(tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(HistoryError) as caught:
        records(path)
    assert str(caught.value) == (f"{path}:{reason}" if reason[0].isdigit() else f"{path}: {reason}")
    assert [str(e) for e in check_history(path, rules=RULES)] == [str(caught.value)]
    assert scan_history(path, RULES).unreadable


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(HistoryError, match=r"nope.jsonl: cannot read: No such file or directory$"):
        records(tmp_path / "nope.jsonl")


def test_bad_rows_never_stop_the_good_ones_when_the_caller_skips_them(tmp_path):
    rows = [ROWS[0], {**OK, "kind": "visit"}, ROWS[1], {**VERDICT, "verdict": "maybe"}, ROWS[4]]
    path = write_jsonl(tmp_path / "h.jsonl", rows)
    with pytest.raises(HistoryError, match=r"h.jsonl:2: unknown kind"):
        records(path)  # by default the first bad row stops the reader
    errors: list[HistoryError] = []
    good = list(read_history(path, RULES, on_error=errors.append))
    assert [line for line, _ in good] == [1, 3, 5]
    assert [(e.line, e.reason.split(" ")[0]) for e in errors] == [(2, "unknown"), (4, "verdict")]


def test_the_scan_counts_every_bad_row_and_keeps_the_first_ones(tmp_path):
    rows = [ROWS[4], *([{**OK, "kind": "visit"}] * 30), ROWS[0], ROWS[2]]
    scan = scan_history(write_jsonl(tmp_path / "h.jsonl", rows), RULES, limit=20)
    assert (scan.bad_rows, len(scan.errors), [e.line for e in scan.errors][:2]) == (30, 20, [2, 3])
    assert (scan.interactions, scan.outcomes, scan.prospects) == (2, 1, 2)
    assert (scan.first_at, scan.last_at, scan.in_order) == (T0_MS, T0_MS + 3 * 86_400_000 - 3_600_000, False)
    assert len(check_history(tmp_path / "h.jsonl", limit=5, rules=RULES)) == 5
    good = scan_history(write_jsonl(tmp_path / "sorted.jsonl", [ROWS[0], ROWS[1], ROWS[4]]), RULES)
    assert (good.errors, good.in_order, good.rows) == ([], True, 3)


def test_blank_lines_are_skipped_and_keep_the_numbering(tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n\n   \n" + json.dumps({**OK, "kind": "visit"}) + "\n")
    assert [str(e) for e in check_history(path, rules=RULES)] == [f"{path}:4: unknown kind 'visit'; expected "
                                                                  "interaction or outcome"]
