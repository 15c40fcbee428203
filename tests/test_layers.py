"""Imports point down the layers: schemas <- streams.core <- shells (streams, connectors) <- the CLI.

Read from the source (every import statement, module level or inside a function), so a
violation fails here naming the file and line instead of surfacing as a cycle later:

- ``schemas`` imports nothing of ours;
- ``streams.core`` is the pure core: only ``schemas`` and itself, and no I/O library;
- shells (``streams`` outside the core, ``connectors``) use the core, and from ``leadflow``
  only the shared runtime pieces (configuration, Kafka clients, clock, HTTP auth, ...),
  never the CLI, the supervisor or the demo;
- the collector and the CRM side do not import each other, nor the action delivery (which uses both);
- the worker's shell imports no connector.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "streams", "connectors", "leadflow")
# leadflow modules that are runtime pieces every shell may use (the rest is the CLI layer on top)
SHARED = {"leadflow.config", "leadflow.settings", "leadflow.parsers", "leadflow.clock", "leadflow.kafka",
          "leadflow.partitioner",
          "leadflow.topics", "leadflow.topic_reader", "leadflow.consumer_lag", "leadflow.http_auth",
          "leadflow.process", "leadflow.private_files", "leadflow.stage", "leadflow.outbound", "leadflow.webhooks", "leadflow.database"}
IO_LIBRARIES = ("aiohttp", "aiokafka", "kafka", "psycopg", "urllib.request", "socket", "requests", "asyncio")


def module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from leadflow import parsers` imports leadflow.parsers: judge the names, not just the package
            found.extend((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
    return found


def within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violation(importer: str, imported: str) -> str | None:
    if within(importer, "schemas") and within(imported, "streams", "connectors", "leadflow"):
        return "schemas import nothing of ours"
    if within(importer, "streams.core"):
        if within(imported, "streams", "connectors", "leadflow") and not within(imported, "streams.core"):
            return "the core imports only schemas and itself"
        if within(imported, *IO_LIBRARIES):
            return "the core does no I/O"
    shells = within(importer, "streams", "connectors") and not within(importer, "streams.core")
    if shells and within(imported, "leadflow") and not within(imported, *SHARED):
        return f"shells use only leadflow's shared runtime pieces ({', '.join(sorted(SHARED))})"
    if within(importer, "connectors.collector") and within(imported, "connectors.crm"):
        return "the collector and the CRM side do not import each other"
    if within(importer, "connectors.crm") and within(imported, "connectors.collector"):
        return "the collector and the CRM side do not import each other"
    if within(importer, "connectors.collector", "connectors.crm") and within(imported, "connectors.actions"):
        return "the action delivery uses the collector's link signing and the CRM's tables, not the reverse"
    if within(importer, "streams") and within(imported, "connectors"):
        return "the worker's shell imports no connector"
    return None


SOURCES = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down_the_layers(path):
    importer = module_of(path)
    broken = [f"{path.relative_to(ROOT)}:{line}: imports {name}: {why}"
              for line, name in imports(path) if (why := violation(importer, name))]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("importer, imported, broken", [
    ("streams.core.prospect", "connectors.collector.intake", True),
    ("streams.core.prospect", "aiohttp", True),
    ("streams.core.prospect", "schemas.records", False),
    ("connectors.crm.sink", "connectors.collector.clock", True),
    ("connectors.crm.sink", "leadflow.clock", False),
    ("streams.web", "leadflow.cli", True),
    ("schemas.codec", "streams.core.model", True),
])
def test_the_rules_catch_what_they_should(importer, imported, broken):
    assert (violation(importer, imported) is not None) is broken
