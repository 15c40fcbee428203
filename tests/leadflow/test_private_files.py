"""Secrets, logs, spools and the data dir are readable by their owner only."""

from __future__ import annotations

import os
import stat

from leadflow.private_files import private_dir
from leadflow.secrets_file import ensure_secrets, read_secrets, secrets_path


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secrets_env_is_set_back_to_0600_on_every_start(tmp_path):
    path = secrets_path(tmp_path)
    generated = ensure_secrets(path, {})
    assert "LEADFLOW_EMBEDDED_PG_PASSWORD" in generated and mode(path) == 0o600
    path.chmod(0o644)  # a copy, an editor, a careless chmod
    assert ensure_secrets(path, {}) == {} and mode(path) == 0o600
    assert read_secrets(path)["LEADFLOW_EMBEDDED_PG_PASSWORD"] == generated["LEADFLOW_EMBEDDED_PG_PASSWORD"]


def test_private_dirs_are_created_0700_and_existing_ones_lose_group_and_other_access(tmp_path):
    old = os.umask(0o022)
    try:
        assert mode(private_dir(tmp_path / "new" / "logs")) == 0o700
        existing = tmp_path / "existing"
        existing.mkdir(mode=0o755)
        assert mode(private_dir(existing)) == 0o711  # traversal kept (the embedded PostgreSQL's user, as root)
    finally:
        os.umask(old)
