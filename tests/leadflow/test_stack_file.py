"""The stack file: written atomically, found while its supervisor runs, ignored once it is gone, and its place in
the precedence flags > env vars > stack file > secrets file > defaults."""

from pathlib import Path

import pytest

from leadflow.config import load_config
from leadflow.secrets_file import ensure_secrets, secrets_path
from leadflow.stack_file import find, remove_stack, running, shown, stack_path, write_stack
from tests.leadflow.stacks import STACK, dead_pid


def test_written_atomically_readable_by_the_owner_only_and_found_while_the_supervisor_runs(tmp_path, supervisor):
    path = write_stack(tmp_path, STACK, "http://127.0.0.1:8080", pid=supervisor)
    assert path == stack_path(tmp_path) and path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["stack.env"]  # no temp file left behind
    stack, note = running(path)
    assert note is None and stack.pid == supervisor and stack.data_dir == tmp_path
    assert "wk_never" not in path.read_text()  # secrets stay in secrets.env
    applied = stack.applied()
    assert applied["LEADFLOW_KAFKA_BOOTSTRAP"] == "127.0.0.1:19092" and applied["LEADFLOW_KAFKA_IDEMPOTENCE"] == "false"
    assert "LEADFLOW_HTTP_PORT" not in applied  # the stack's own listeners are recorded, never taken
    assert stack.values["LEADFLOW_HTTP_PORT"] == "8080"


def test_a_stale_file_is_ignored_with_a_note(tmp_path):
    write_stack(tmp_path, STACK, "http://127.0.0.1:8080", pid=dead_pid())
    stack, note = running(stack_path(tmp_path))
    assert stack is None and "no longer runs" in note and str(stack_path(tmp_path)) in note
    assert running(tmp_path / "missing" / "stack.env") == (None, None)


def test_the_demo_is_found_only_when_the_data_dir_was_not_chosen(tmp_path, supervisor):
    write_stack(tmp_path / "demo", STACK, "http://127.0.0.1:8080", pid=supervisor)
    stack, notes = find(tmp_path, with_demo=True)
    assert stack.data_dir == tmp_path / "demo" and notes == []
    assert find(tmp_path, with_demo=False) == (None, [])


def test_only_the_writer_removes_the_file(tmp_path, supervisor):
    write_stack(tmp_path, STACK, "http://127.0.0.1:8080", pid=supervisor)
    remove_stack(tmp_path, pid=supervisor + 1)  # a second `up` that failed to start
    assert stack_path(tmp_path).exists()
    remove_stack(tmp_path, pid=supervisor)
    assert not stack_path(tmp_path).exists()


def test_precedence_flags_env_stack_secrets_defaults(tmp_path, supervisor):
    write_stack(tmp_path, {**STACK, "LEADFLOW_TOPIC_PREFIX": "fromstack"}, "http://x", pid=supervisor)
    ensure_secrets(secrets_path(tmp_path), {})
    stack, _ = running(stack_path(tmp_path))
    env = {"LEADFLOW_DATA_DIR": str(tmp_path), "LEADFLOW_TOPIC_PREFIX": "fromenv", "LEADFLOW_PARTITIONS": "3"}
    config = load_config(env, {"LEADFLOW_PARTITIONS": "9"}, stack.applied())
    assert config.partitions == 9  # flag over env over stack
    assert config.topic_prefix == "fromenv"  # env over stack
    assert config.kafka.bootstrap == "127.0.0.1:19092" and config.kafka.idempotence is False  # stack over defaults
    assert config.crm_dsn == STACK["LEADFLOW_CRM_DSN"] and config.public_url == "http://127.0.0.1:8080"
    assert config.http_port == 8080 and config.secrets.write_key.startswith("wk_")  # default; secrets file
    assert load_config({"LEADFLOW_DATA_DIR": str(tmp_path)}).kafka.bootstrap is None  # no stack given: none used


@pytest.mark.parametrize("data_dir, expected", [(Path(".leadflow"), "./.leadflow"), (Path("/srv/lf"), "/srv/lf"),
                                                (Path("../lf"), "../lf"), (Path("data/lf"), "./data/lf")])
def test_data_dirs_are_shown_as_typed(data_dir, expected):
    assert shown(data_dir) == expected
