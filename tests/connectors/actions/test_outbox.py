"""The outbox: .eml files that parse back with both parts and every header, JSON records beside them, one file
per action however often it is delivered, and `leadflow outbox` listing them newest first."""

import asyncio
import dataclasses
import email
import email.policy
import json
import os
import stat

import pytest

from connectors.actions.outbox import OutboxProvider, entries, file_name, outbox_dir, write_record
from leadflow.cli import main
from leadflow.outbound import AttemptFailed
from schemas.records import Action
from tests.connectors.actions.email.vendor import ACTION_ID, NOW, PROSPECT_ID, UNSUBSCRIBE, sample_email


def send(directory, mail, now=NOW):
    return asyncio.run(OutboxProvider(directory).send(None, mail, now))


def action(action_id="a-notify-1", type_="notify", **changes):
    return Action(**{**dict(action_id=action_id, prospect_id=PROSPECT_ID, type=type_, source="hot lead",
                            source_kind="automation", file_version="v1", due_at=1, occurred_at=1,
                            cause_event_id="web:evt-9", step=None, target="#sales",
                            payload={"message": "Ann is hot"}, email="ann@example.com"), **changes})


def test_an_email_is_a_real_multipart_message_with_every_header(tmp_path):
    directory = tmp_path / "outbox"
    sent = send(directory, sample_email(subject="Grüße, Ann"))
    assert sent.provider == "outbox" and sent.message_id == f"<{ACTION_ID}@example.com>"
    path = directory / f"{ACTION_ID}.eml"
    raw = path.read_bytes()
    assert b"\r\n" in raw  # RFC 5322 line ends
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert text.get_content().replace("\r\n", "\n") == sample_email().text
    assert html.get_content().rstrip("\r\n") == sample_email().html
    assert message["From"] == "Example Team <hello@example.com>" and message["To"] == "ann@example.com"
    assert message["Reply-To"] == "Sales <sales@example.com>" and message["Subject"] == "Grüße, Ann"
    assert message["Date"] == "Thu, 01 Jan 2026 00:00:00 +0000" and message["Message-ID"] == sent.message_id
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"  # as written: not folded, not encoded
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>\r\n".encode() in raw
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Leadflow-Action-Id"] == ACTION_ID and message["X-Leadflow-Prospect-Id"] == PROSPECT_ID
    assert (message["X-Leadflow-Source"], message["X-Leadflow-Step"], message["X-Leadflow-Cause"]) == \
        ("welcome program", "1", "form:evt-1")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert [p.name for p in directory.iterdir()] == [path.name]  # no temp file left behind


def test_a_text_only_email_is_a_single_part(tmp_path):
    send(tmp_path, sample_email(html=None, reply_to=None))
    message = email.message_from_bytes((tmp_path / f"{ACTION_ID}.eml").read_bytes(), policy=email.policy.default)
    assert message.get_content_type() == "text/plain" and message["Reply-To"] is None


def test_the_same_action_twice_leaves_one_file_as_first_written(tmp_path):
    send(tmp_path, sample_email(), now=NOW)
    send(tmp_path, sample_email(subject="a later rendering"), now=NOW + 60)
    write_record(tmp_path, "notify", action(), {"to": "#sales", "summary": "first"}, now=NOW)
    write_record(tmp_path, "notify", action(), {"to": "#sales", "summary": "second"}, now=NOW + 60)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{ACTION_ID}.eml", "a-notify-1.json"]
    assert sorted(e.subject for e in entries(tmp_path)) == ["Welcome to Example, Ann", "first"]


def test_records_keep_the_action_and_the_summary(tmp_path):
    path = write_record(tmp_path, "crm_task", action("a-task", "crm_task"),
                        {"to": "owner alice", "summary": "Call Ann", "due": "2026-01-02"}, now=NOW)
    document = json.loads(path.read_text())
    assert document["kind"] == "crm_task" and document["to"] == "owner alice" and document["summary"] == "Call Ann"
    assert document["written_at"] == "2026-01-01T00:00:00+00:00" and document["details"] == {"due": "2026-01-02"}
    assert document["payload"] == {"message": "Ann is hot"}
    assert (document["action_id"], document["source"], document["cause_event_id"]) == \
        ("a-task", "hot lead", "web:evt-9")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="not 'email'"):
        write_record(tmp_path, "email", action(), {})


def test_entries_are_newest_first_with_what_each_was(tmp_path):
    send(tmp_path, sample_email(), now=NOW)
    write_record(tmp_path, "webhook", action("a-hook", "webhook"), {"to": "https://hooks.example.com/x",
                                                                     "summary": "POST lead.hot"}, now=NOW + 20)
    send(tmp_path, sample_email(action_id="a-mail-2", subject="Second", cause=None), now=NOW + 10)
    found = entries(tmp_path)
    assert [(e.kind, e.to, e.subject, e.action_id, e.cause, e.time) for e in found] == [
        ("webhook", "https://hooks.example.com/x", "POST lead.hot", "a-hook", "hot lead <- web:evt-9", NOW + 20),
        ("email", "ann@example.com", "Second", ACTION_ID, "welcome program", NOW + 10),
        ("email", "ann@example.com", "Welcome to Example, Ann", ACTION_ID, "welcome program <- form:evt-1", NOW),
    ]
    assert [e.time for e in entries(tmp_path, limit=2)] == [NOW + 20, NOW + 10]
    assert entries(tmp_path / "nowhere") == []


def test_odd_action_ids_are_safe_file_names_and_bad_headers_are_refused(tmp_path):
    assert file_name("../../etc/passwd", ".eml").startswith("_.._etc_passwd-") and "/" not in file_name("a/b", "")
    assert file_name(ACTION_ID, ".eml") == f"{ACTION_ID}.eml"
    with pytest.raises(AttemptFailed) as caught:
        send(tmp_path, sample_email(to="ann@example.com\r\nBcc: all@example.com"))
    assert not caught.value.retryable
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_outbox_is_worth_another_attempt(tmp_path):
    (tmp_path / "outbox").write_text("a file where the directory should be")
    with pytest.raises(AttemptFailed) as caught:
        send(tmp_path / "outbox", sample_email())
    assert caught.value.retryable and "cannot write to the outbox" in caught.value.reason


@pytest.fixture
def user(monkeypatch, tmp_path):
    """A user with the data dir under tmp_path and no other LEADFLOW_* variable."""
    for name in [n for n in os.environ if n.startswith("LEADFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADFLOW_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_the_command_lists_the_outbox_as_a_table_or_json_lines(user, capsys):
    send(outbox_dir(user), sample_email(), now=NOW)
    write_record(outbox_dir(user), "notify", action(), {"to": "#sales", "summary": "Ann \x1b[31mis hot\u202e"},
                 now=NOW + 5)
    assert main(["outbox"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [
        "2026-01-01 00:00:05  notify    #sales  Ann \\x1b[31mis hot\\u202e",  # escaped, never interpreted
        "    action a-notify-1  from hot lead <- web:evt-9  (a-notify-1.json)",
        "2026-01-01 00:00:00  email     ann@example.com  Welcome to Example, Ann",
        f"    action {ACTION_ID}  from welcome program <- form:evt-1  ({ACTION_ID}.eml)",
    ]
    assert err.strip() == f"2 of 2 in {outbox_dir(user)}, newest first"
    assert main(["outbox", "--json", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    [line] = out.splitlines()
    assert json.loads(line) == {"time": NOW + 5, "kind": "notify", "to": "#sales",
                                "subject": "Ann \x1b[31mis hot\u202e", "action_id": "a-notify-1",
                                "source": "hot lead", "cause_event_id": "web:evt-9", "file": "a-notify-1.json",
                                "cause": "hot lead <- web:evt-9"}
    assert "\x1b" not in out and err == ""


def test_an_empty_or_missing_outbox_says_so_and_where(user, capsys):
    assert main(["outbox"]) == 0
    out, _ = capsys.readouterr()
    assert out == f"the outbox is empty: nothing in {outbox_dir(user)} (it does not exist yet)\n"
    outbox_dir(user).mkdir(parents=True)
    assert main(["outbox", "--json"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == f"the outbox is empty: nothing in {outbox_dir(user)}\n"


def test_an_eml_that_no_longer_parses_is_listed_as_unreadable(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    [entry] = entries(tmp_path)
    assert entry.kind == "unreadable" and entry.file == "broken.json" and "JSONDecodeError" in entry.subject
    assert dataclasses.asdict(entry)["kind"] == "unreadable"
