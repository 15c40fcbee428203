"""Where the tests' Kafka and PostgreSQL come from.

Default: the embedded broker (Tansu) and the embedded PostgreSQL, the same pieces
`leadflow up` runs. With LEADFLOW_TEST_BACKEND=testcontainers: real Apache Kafka and
PostgreSQL containers (needs a Docker engine and `pip install -e '.[testcontainers]'`).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from leadflow.embedded.broker import EmbeddedBroker
from leadflow.embedded.postgres import EmbeddedPostgres
from leadflow.process import free_ports
from leadflow.supervisor import EMBEDDED_KAFKA

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"  # Apache Kafka 3.6, run in KRaft mode
POSTGRES_IMAGE = "postgres:17"


@dataclass(frozen=True)
class Backend:
    bootstrap: str
    admin_dsn: str
    kafka_settings: dict[str, object] = field(default_factory=dict)

    def dsn_for(self, database: str) -> str:
        base, _, _ = self.admin_dsn.rpartition("/")
        return f"{base}/{database}"


@contextmanager
def embedded_backend(workdir: Path) -> Iterator[Backend]:
    broker_port, postgres_port = free_ports(2)
    broker = EmbeddedBroker("127.0.0.1", broker_port, workdir / "logs" / "broker.log")
    postgres = EmbeddedPostgres(workdir / "pgdata", "127.0.0.1", postgres_port, workdir / "logs" / "postgres.log")
    try:
        bootstrap = broker.start()
        dsn = postgres.start()
        yield Backend(bootstrap, dsn, dict(EMBEDDED_KAFKA))
    finally:
        postgres.stop()
        broker.stop()


@contextmanager
def container_backend() -> Iterator[Backend]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka, PostgresContainer(POSTGRES_IMAGE, driver=None) as pg:
        yield Backend(kafka.get_bootstrap_server(), pg.get_connection_url(),
                      dict(session_timeout_s=10.0, heartbeat_interval_s=1.0, rebalance_timeout_s=10.0))


def backend(workdir: Path):
    choice = os.environ.get("LEADFLOW_TEST_BACKEND", "embedded")
    if choice == "testcontainers":
        return container_backend()
    if choice != "embedded":
        raise RuntimeError(f"LEADFLOW_TEST_BACKEND must be embedded or testcontainers, got {choice!r}")
    return embedded_backend(workdir)
