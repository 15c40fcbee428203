"""Each command declares the settings it uses (its --help lists them first) and finds a running `leadflow up`;
with nothing running and nothing set it says in one line what is missing."""

import argparse
import os
from pathlib import Path

import pytest

from leadflow.cli import build_parser, main
from leadflow.command_settings import USES, load_for
from leadflow.config import SETTINGS
from leadflow.stack_file import write_stack
from tests.leadflow.stacks import STACK, dead_pid


@pytest.fixture
def user(monkeypatch, tmp_path):
    """A user in a fresh directory who set no LEADFLOW_* variable."""
    for name in [n for n in os.environ if n.startswith("LEADFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(commands(sub, f"{prefix}{name} ") or {f"{prefix}{name}": sub})
    return found


def test_every_command_declares_real_settings():
    known = {s.env for s in SETTINGS}
    assert set(commands(build_parser())) == set(USES)
    assert {command: [n for n in names if n not in known] for command, names in USES.items()} == \
        {command: [] for command in USES}


def test_the_readme_command_table_names_every_command():
    """A command's row starts ``| `leadflow <command>``; a second command of one family (``topics describe``,
    ``dlq replay``) may be named in its sibling's row."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    table = readme[readme.index("| command | what it does |"):]
    table = table[:table.index("\n\n")]
    rows = [line for line in table.splitlines() if line.startswith("| `leadflow ")]
    assert [name for name in commands(build_parser())
            if not any(row.startswith(f"| `leadflow {name}") or f"`{name}" in row for row in rows)] == []


def test_help_lists_the_settings_the_command_uses_first_and_only_those(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["explain", "--help"])
    help_text = capsys.readouterr().out
    settings = help_text[help_text.index("settings `leadflow explain` uses:"):]
    assert "--kafka-bootstrap" in settings and "[LEADFLOW_MODEL]" in settings and "stack.env" in settings
    assert "--http-port" not in help_text and "--write-key" not in help_text
    assert help_text.index("--json") < help_text.index("settings `leadflow explain` uses:")
    args = build_parser().parse_args(["explain", "a@b.io", "--http-port", "1"])  # still accepted
    assert args.LEADFLOW_HTTP_PORT == "1"


def test_up_lists_every_setting(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--help"])
    help_text = capsys.readouterr().out
    assert all(f"[{s.env}]" in help_text for s in SETTINGS if not s.secret)
    assert not [s.flag for s in SETTINGS if s.secret and (s.flag in help_text or f"[{s.env}]" in help_text)]


@pytest.mark.parametrize("argv", [["collector", "--write-key", "wk_0123456789abcdef"],
                                  ["up", "--kafka-sasl-password=hunter2hunter2"], ["link", "--link-secret"]])
def test_a_secret_passed_as_a_flag_is_refused_with_the_reason(capsys, argv):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    flag = argv[1].split("=")[0]
    assert f"{flag} is not accepted: secrets on the command line are visible to every local user (ps)" in \
        capsys.readouterr().err


@pytest.mark.parametrize("command, setting", [
    (["explain", "ada@example.com"], "LEADFLOW_KAFKA_BOOTSTRAP"), (["topics", "describe"], "LEADFLOW_KAFKA_BOOTSTRAP"),
    (["dlq", "list"], "LEADFLOW_KAFKA_BOOTSTRAP"), (["migrate"], "LEADFLOW_CRM_DSN"),
    (["link", "--email", "a@b.io", "--url", "https://a.io"], "LEADFLOW_LINK_SECRET"),
])
def test_nothing_running_and_nothing_set_is_one_line(user, capsys, command, setting):
    assert main(command) == 2
    name = " ".join(command[:2] if command[0] in ("topics", "dlq") else command[:1])
    assert capsys.readouterr().err.splitlines() == [
        f"leadflow: no running `leadflow up` under ./.leadflow and {setting} is not set: `leadflow {name}` needs it "
        "(start `leadflow up` or set it)"]


def test_a_stale_stack_file_is_ignored_with_a_note(user, capsys):
    write_stack(user / ".leadflow", STACK, "http://127.0.0.1:8080", pid=dead_pid())
    assert main(["topics", "describe"]) == 2
    note, missing = capsys.readouterr().err.splitlines()
    assert note.startswith("leadflow: ignoring .leadflow/stack.env: the `leadflow up` that wrote it (pid ")
    assert missing.startswith("leadflow: no running `leadflow up` under ./.leadflow and LEADFLOW_KAFKA_BOOTSTRAP")


def test_a_running_stack_fills_in_what_no_flag_or_env_var_sets(user, supervisor, monkeypatch):
    write_stack(user / ".leadflow", STACK, "http://127.0.0.1:8080", pid=supervisor)
    config = load_for("explain", {}, {})
    assert config.kafka.bootstrap == "127.0.0.1:19092" and config.kafka.idempotence is False
    assert load_for("explain", {"LEADFLOW_KAFKA_BOOTSTRAP": "k:1"}, {}).kafka.bootstrap == "k:1"
    assert load_for("up", {}, {}).kafka.bootstrap is None  # `up` starts its own stack; it never reads one
    demo = user / "elsewhere"
    write_stack(demo / ".leadflow" / "demo", STACK, "http://127.0.0.1:8080", pid=supervisor)
    monkeypatch.chdir(demo)
    config = load_for("dlq list", {}, {})
    assert config.kafka.bootstrap == "127.0.0.1:19092" and config.data_dir.name == "demo"
