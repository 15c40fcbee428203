"""Session fixtures: one broker and one PostgreSQL for the run; every test gets its own topic prefix and database."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import psycopg
import pytest

from leadflow.config import Config
from leadflow.process import free_port
from leadflow.topics import create_topics
from tests.backends import Backend, backend


WRITE_KEY = "wk_test_write_key_0123456789"
LINK_SECRET = "test-link-secret-0123456789"


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with backend(tmp_path_factory.mktemp("infra")) as started:
        yield started


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
    cfg = Config().with_changes(
        bootstrap=infra.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=3, crm_dsn=crm_dsn,
        http_port=free_port(), worker_metrics_port=free_port(), sink_metrics_port=free_port(),
        data_dir=tmp_path / "data", write_key=WRITE_KEY, link_secret=LINK_SECRET, **infra.kafka_settings,
    )
    create_topics(cfg)
    return cfg
