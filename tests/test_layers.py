"""Imports point down the layers: schemas <- streams.core <- shells (streams, connectors) <- the CLI.

Read from the source (every import statement, module level or inside a function), so a
violation fails here naming the file and line instead of surfacing as a cycle later:

- ``schemas`` imports nothing of ours;
- ``streams.core`` is the pure core: only ``schemas`` and itself, and no I/O library;
- shells (``streams`` outside the core, ``connectors``) use the core, and from ``leadflow``
  only the shared runtime pieces (configuration, Kafka clients, clock, HTTP auth, ...),
  never the CLI, the supervisor or the demo;
- the collector, the CRM side and the action delivery do not import each other: what two of them share
  (the signed links the delivery makes and the collector follows, the CRM database connection) is a shared
  runtime piece in ``leadflow``, and a shared piece imports no shell (or it would carry one into the others);
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
          "leadflow.process", "leadflow.private_files", "leadflow.stage", "leadflow.outbound", "leadflow.webhooks", "leadflow.database",
          "leadflow.signed_links", "leadflow.redirects", "leadflow.errors"}
# the three connectors: each runs as its own process and none imports another
CONNECTORS = ("connectors.collector", "connectors.crm", "connectors.actions")
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
    shell_imported = within(imported, "streams", "connectors") and not within(imported, "streams.core")
    if within(importer, *SHARED) and shell_imported:
        return "a shared runtime piece imports no shell: every shell imports it"
    if shells and within(imported, "leadflow") and not within(imported, *SHARED):
        return f"shells use only leadflow's shared runtime pieces ({', '.join(sorted(SHARED))})"
    for side in CONNECTORS:
        others = [other for other in CONNECTORS if other != side]
        if within(importer, side) and within(imported, *others):
            return ("the collector, the CRM side and the action delivery do not import each other "
                    "(what two of them share is a runtime piece in leadflow)")
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
    ("connectors.collector.pixel", "connectors.crm.sink", True),
    ("connectors.actions.channels", "connectors.crm.tasks", True),
    ("connectors.actions.email.tracking", "connectors.collector.links", True),
    ("connectors.collector.clicks", "connectors.actions.email.tracking", True),
    ("connectors.crm.sink", "connectors.actions.log", True),
    ("connectors.actions.email.tracking", "leadflow.signed_links", False),
    ("connectors.actions.channels", "connectors.actions.crm_tasks", False),
    ("leadflow.signed_links", "connectors.collector.redirects", True),
    ("leadflow.signed_links", "streams.core.identity", False),
    ("streams.web", "leadflow.cli", True),
    ("schemas.codec", "streams.core.model", True),
])
def test_the_rules_catch_what_they_should(importer, imported, broken):
    assert (violation(importer, imported) is not None) is broken
