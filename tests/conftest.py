"""Session fixtures: one broker and one PostgreSQL for the run; every test gets its own topic prefix and database."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from leadflow.config import Config
from leadflow.process import free_ports
from leadflow.topics import create_topics
from tests.backends import Backend, backend


WRITE_KEY = "wk_test_write_key_0123456789"
API_TOKEN = "api_test_token_0123456789"
LINK_SECRET = "test-link-secret-0123456789"
CRM_TOKEN = "crm_test_token_0123456789"


@contextmanager
def traversable_tmp(prefix: str) -> Iterator[Path]:
    """A temp dir outside pytest's 0700 basetemp: as root, the embedded PostgreSQL runs as another user, which must
    be able to reach its data dir, and pytest resets its basetemp to 0700 whenever another session starts."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def infra() -> Iterator[Backend]:
    with traversable_tmp("leadflow-infra-") as workdir, backend(workdir) as started:
        yield started


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A per-test directory the embedded PostgreSQL of a `leadflow up` under test can use."""
    with traversable_tmp("leadflow-test-") as path:
        yield path


@pytest.fixture
def crm_dsn(infra: Backend) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(infra.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield infra.dsn_for(name)
    with psycopg.connect(infra.admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def config(infra: Backend, crm_dsn: str, tmp_path: Path) -> Config:
    """A config isolated to this test: own topics, own database, own ports and data dir."""
    http_port, worker_port, sink_port, actions_port = free_ports(4)
    cfg = Config().with_changes(
        bootstrap=infra.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=3, crm_dsn=crm_dsn,
        http_port=http_port, worker_metrics_port=worker_port, sink_metrics_port=sink_port,
        actions_metrics_port=actions_port, data_dir=tmp_path / "data", write_key=WRITE_KEY, link_secret=LINK_SECRET, api_token=API_TOKEN,
        crm_feedback_token=CRM_TOKEN, **infra.kafka_settings,
    )
    create_topics(cfg)
    return cfg
