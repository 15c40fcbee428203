"""The `leadflow` command: `up` for the embedded stack, one command per production process, and admin tools.

This module is the argument parser and the dispatch, and the commands that only start something or print a
line or two. The admin tools that read the worker's changelog or a topic have their bodies in modules named
for what they show: explain_commands (explain, rescore), automation_commands (automations), dlq_commands
(dlq list, dlq replay), tuning_commands (backtest, tune), history_import (import); they are imported when their
command runs, so `leadflow up` does not load them.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Callable

from leadflow.command_settings import MissingSetting, load_for, require, settings_parent
from leadflow.config import SETTINGS, Config
from leadflow.errors import LeadflowError, UsageError
from leadflow.process import StartupError
from streams.core.yaml_lines import ModelError



def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadflow", description="Real-time lead scoring and CRM hand-off on Kafka.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("up", parents=[settings_parent("up")], help="run the whole stack; embedded Kafka and PostgreSQL "
                        "unless LEADFLOW_KAFKA_BOOTSTRAP / LEADFLOW_CRM_DSN are set")
    demo = commands.add_parser("demo", parents=[settings_parent("demo")], help="run the embedded stack with a minute of realistic "
                               "prospect journeys: leads promoted, SLA clocks met and breached, a lead recycled")
    demo.add_argument("--prospects", type=int, default=30, help="journeys to play (at least 6, one of each kind)")
    demo.add_argument("--keep", action="store_true", help="keep the stack running after the summary")
    commands.add_parser("collector", parents=[settings_parent("collector")], help="run the HTTP collector (one process)")
    commands.add_parser("worker", parents=[settings_parent("worker")], help="run the stream processor (one process)")
    commands.add_parser("sink", parents=[settings_parent("sink")], help="run the CRM sink (one process)")
    commands.add_parser("actions", parents=[settings_parent("actions")],
                        help="run the action delivery (one process): emails, notifications, CRM tasks, webhooks")
    outbox = commands.add_parser("outbox", parents=[settings_parent("outbox")],
                                 help="list what the embedded default wrote instead of sending (newest first)")
    outbox.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    outbox.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    topics = commands.add_parser("topics", help="create or describe the Kafka topics")
    topics_commands = topics.add_subparsers(dest="topics_command", required=True, metavar="ACTION")
    topics_commands.add_parser("create", parents=[settings_parent("topics create")], help="create missing topics (idempotent)")
    topics_commands.add_parser("describe", parents=[settings_parent("topics describe")], help="list the topics and their partitions")
    commands.add_parser("migrate", parents=[settings_parent("migrate")], help="apply pending CRM schema migrations (idempotent)")
    link = commands.add_parser("link", parents=[settings_parent("link")], help="print a signed tracked-click URL for an email")
    link.add_argument("--email", required=True)
    link.add_argument("--url", required=True, help="where the click redirects")
    link.add_argument("--message-id")
    explain = commands.add_parser("explain", parents=[settings_parent("explain")],
                                  help="print a prospect's score, stage, timeline and the ledger of every point")
    explain.add_argument("target", help="an email address or a prospect id (p_...) or anon:<id>")
    explain.add_argument("--json", action="store_true", help="print JSON instead of a table")
    rescore = commands.add_parser("rescore", parents=[settings_parent("rescore", exclude=("LEADFLOW_MODEL",))],
                                  help="replay every prospect under a new model; report who would change stage")
    rescore.add_argument("--model", dest="new_model", required=True,
                         help="the candidate model YAML (the current one is LEADFLOW_MODEL)")
    automations = commands.add_parser(
        "automations", parents=[settings_parent("automations")],
        help="list the automations and programs with what they did (enrolled, active, completed, exited by reason, "
             "actions by type); with --dry-run, what a candidate file would have done")
    automations.add_argument("--dry-run", dest="dry_run", metavar="FILE",
                             help="replay every prospect's retained history under this automation file instead")
    from leadflow.tuning_commands import add_parsers as add_tuning_parsers

    add_tuning_parsers(commands, settings_parent)  # backtest, tune
    dlq = commands.add_parser("dlq", help="inspect and re-drive the records the CRM sink could not deliver")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True, metavar="ACTION")
    dlq_list = dlq_commands.add_parser("list", parents=[settings_parent("dlq list")], help="print every dead letter with its error")
    dlq_list.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    dlq_replay = dlq_commands.add_parser("replay", parents=[settings_parent("dlq replay")],
                                         help="put dead letters back on their source topic for the sink to retry")
    dlq_replay.add_argument("ids", nargs="*", metavar="EVENT_ID",
                            help="replay just these (default: every dead letter not replayed yet)")
    history = commands.add_parser(
        "import", parents=[settings_parent("import")],
        help="publish a history file (interactions and CRM outcomes from another system, .jsonl or .csv, optionally "
             ".gz) to the input topics; the whole file is checked first and any bad row refuses it")
    history.add_argument("file", metavar="FILE", help="the history file (see \"Importing history\" in the README)")
    history.add_argument("--dry-run", action="store_true",
                         help="check the file and print what it holds; publish nothing")
    history.add_argument("--skip-bad", action="store_true",
                         help="import the good rows of a file with bad ones (the bad ones are listed)")
    synthetic = commands.add_parser(
        "synthetic", parents=[settings_parent("synthetic")],
        help="write a seeded synthetic history file with a known ground truth (what predicts won deals), for "
             "backtests, tuning and benchmarks")
    synthetic.add_argument("out", metavar="OUT", help="the file to write (.jsonl or .jsonl.gz)")
    synthetic.add_argument("--prospects", type=int, required=True, help="how many prospects")
    synthetic.add_argument("--seed", type=int, default=1, help="same seed, same file (default 1)")
    synthetic.add_argument("--months", type=int, default=12, help="months of history (default 12)")
    synthetic.add_argument("--end", default=None,
                           help="the date the history ends, YYYY-MM-DD (default 2026-01-01, fixed so the file is "
                                "reproducible)")
    pixel = commands.add_parser("pixel", parents=[settings_parent("pixel")], help="print a signed email-open pixel URL")
    pixel.add_argument("--email", required=True)
    pixel.add_argument("--message-id")
    pixel.add_argument("--campaign")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {s.env: getattr(args, s.env, None) for s in SETTINGS}
    command = {"topics": f"topics {getattr(args, 'topics_command', '')}",
               "dlq": f"dlq {getattr(args, 'dlq_command', '')}"}.get(args.command, args.command)
    try:
        config = load_for(command, os.environ, overrides)
    except LeadflowError as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        return exc.exit_code
    _setup_logging(config)
    try:
        if command in ("link", "pixel"):
            return cmd_signed_url(config, args)
        if command == "demo":
            return cmd_demo(config, args.prospects, args.keep)
        if command in ("explain", "rescore"):
            from leadflow import explain_commands

            return explain_commands.cmd_explain(config, args.target, args.json) if command == "explain" else \
                explain_commands.cmd_rescore(config, args.new_model)
        if command == "automations":
            from leadflow.automation_commands import cmd_automations

            return cmd_automations(config, args.dry_run)
        if command in ("backtest", "tune"):
            from leadflow import tuning_commands

            return tuning_commands.cmd_backtest(config, args) if command == "backtest" else \
                tuning_commands.cmd_tune(config, args)
        if command == "outbox":
            return cmd_outbox(config, args.limit, args.json)
        if command == "import":
            return cmd_import(config, args.file, args.dry_run, args.skip_bad)
        if command == "synthetic":
            return cmd_synthetic(args.out, args.prospects, args.seed, args.months, args.end)
        if command in ("dlq list", "dlq replay"):
            from leadflow import dlq_commands

            return dlq_commands.cmd_dlq_list(config, args.json) if command == "dlq list" else \
                dlq_commands.cmd_dlq_replay(config, args.ids)
        return COMMANDS[command](config)
    except (LeadflowError, ModelError) as exc:  # the one place a command's error becomes a line and an exit code
        print(f"leadflow: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", UsageError.exit_code)  # a model or automation file error: fix the file
    except KeyboardInterrupt:
        return 0


def _setup_logging(config: Config) -> None:
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if config.log_level != "debug":
        for chatty in ("kafka", "aiokafka"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _not_running_yet(data_dir: Path) -> None:
    """One `up` per data dir: a second would fight the first over its PostgreSQL data and its stack file."""
    from leadflow.stack_file import running, shown, stack_path

    stack, _ = running(stack_path(data_dir))
    if stack is not None:
        raise StartupError(f"`leadflow up` already runs under {shown(data_dir)} (pid {stack.pid}): stop it first "
                           "or set another LEADFLOW_DATA_DIR")


def cmd_up(config: Config) -> int:
    from leadflow.supervisor import run_up

    _not_running_yet(config.data_dir)
    return run_up(_ready_to_run(config))


def cmd_demo(config: Config, prospects: int, keep: bool) -> int:
    from leadflow.demo import demo_config, run_demo
    from leadflow.stack_file import DEMO_DIR

    if prospects < 6:
        print("leadflow: demo --prospects must be at least 6 (one journey of each kind)", file=sys.stderr)
        return 2
    if config.kafka.bootstrap or config.crm_dsn:
        print("leadflow: the demo runs on its own embedded broker and PostgreSQL; unset LEADFLOW_KAFKA_BOOTSTRAP "
              "and LEADFLOW_CRM_DSN", file=sys.stderr)
        return 2
    _not_running_yet(config.data_dir / DEMO_DIR)
    return run_demo(_ready_to_run(demo_config(config)), prospects, keep)


def _ready_to_run(config: Config) -> Config:
    """The files checked before anything starts (ModelError: reported with the file and line by main), and the
    secrets `up` generates and keeps. Without LEADFLOW_AUTOMATIONS the stack runs the shipped example file."""
    from connectors.collector.event_names import load_event_names
    from leadflow.config import DEFAULT_AUTOMATIONS
    from leadflow.secrets_file import ensure_secrets, secrets_path
    from streams.core.automation_index import load_engine
    from streams.core.model import load_model

    if config.automations_path is None:
        config = config.with_changes(automations_path=DEFAULT_AUTOMATIONS)
    load_engine(config.automations_path, load_model(config.model_path))
    load_event_names(config.collector.event_names_path)
    secret_settings = [s for s in SETTINGS if s.secret]
    try:
        generated = ensure_secrets(secrets_path(config.data_dir), {s.env: s.get(config) for s in secret_settings})
    except OSError as exc:
        raise StartupError(f"cannot write secrets to {config.data_dir} (LEADFLOW_DATA_DIR): {exc.strerror}") from None
    config = config.with_changes(**{s.attr: generated[s.env] for s in secret_settings if s.env in generated})
    from connectors.actions.email.providers import provider_for

    provider_for(config)  # an email provider without its key or domain stops `up` here, naming the setting
    return config


def cmd_import(config: Config, path: str, dry_run: bool, skip_bad: bool) -> int:
    from leadflow.history_import import run_import

    if not dry_run:
        require(config, "import", kafka=True)
    return run_import(config, path, dry_run, skip_bad)


def cmd_synthetic(out: str, prospects: int, seed: int, months: int, end: str | None) -> int:
    from leadflow.synthetic_file import write_cli

    return write_cli(Path(out), prospects, seed, months, end)


def cmd_signed_url(config: Config, args: argparse.Namespace) -> int:
    from leadflow.signed_links import LinkError, click_url, pixel_url
    from streams.core.identity import InvalidEmail

    secret = config.secrets.link_secret
    if not secret:
        raise MissingSetting("LEADFLOW_LINK_SECRET", args.command, config.data_dir)
    try:
        if args.command == "link":
            print(click_url(config.public_url, secret, args.email, args.url, args.message_id,
                            config.collector.link_ttl_days))
        else:
            print(pixel_url(config.public_url, secret, args.email, args.message_id, args.campaign))
    except (LinkError, InvalidEmail) as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_collector(config: Config) -> int:
    from connectors.collector.event_names import load_event_names
    from connectors.collector.processes import run_collector

    require(config, "collector", kafka=True)
    load_event_names(config.collector.event_names_path)  # a bad file stops it here, naming the file and line
    return run_collector(config)  # refuses to start with an unprotected write endpoint


def cmd_worker(config: Config) -> int:
    from schemas.codec import Codec
    from streams.core.automation_index import load_engine
    from streams.core.model import load_model

    require(config, "worker", kafka=True)
    model = load_model(config.model_path)
    engine = load_engine(config.automations_path, model)  # a bad file stops the worker here, file:line:automation
    from leadflow.topics import create_topics
    from streams.worker import Worker

    create_topics(config)  # the changelog above all: recovery reads it, and it must be compacted
    return _run_until_signal(Worker(config, model, Codec.for_config(config), engine).run)


def cmd_sink(config: Config) -> int:
    from prometheus_client import start_http_server

    from connectors.crm.sink import CrmSink
    from schemas.codec import Codec

    require(config, "sink", kafka=True, crm=config.sink.target == "postgres")
    if config.sink_metrics_port:
        start_http_server(config.sink_metrics_port, addr=config.internal_host)
    sink = CrmSink(config, Codec.for_config(config))
    return _run_until_signal(sink.run)


def cmd_actions(config: Config) -> int:
    from prometheus_client import start_http_server

    from connectors.actions.delivery import ActionDelivery
    from schemas.codec import Codec
    from streams.core.automation_index import load_engine
    from streams.core.model import load_model

    require(config, "actions", kafka=True, crm=True)  # its log of what it delivered is in the CRM database
    engine = load_engine(config.automations_path, load_model(config.model_path))  # quiet hours, cap, templates
    delivery = ActionDelivery(config, Codec.for_config(config), engine)  # a bad provider setting stops it here
    if config.actions_metrics_port:
        start_http_server(config.actions_metrics_port, addr=config.internal_host)
    return _run_until_signal(delivery.run)


def cmd_outbox(config: Config, limit: int, as_json: bool) -> int:
    import json
    from datetime import datetime, timezone

    from connectors.actions.outbox import entries, listing, outbox_dir
    from leadflow.terminal import printable

    directory = outbox_dir(config.data_dir)
    found = entries(directory, limit=max(limit, 0) or None)  # --limit 0: all of them
    if not found:
        where = "" if directory.is_dir() else " (it does not exist yet)"
        # with --json, stdout stays JSON lines (none); the line goes to stderr
        print(printable(f"the outbox is empty: nothing in {directory}{where}"), file=sys.stderr if as_json else None)
        return 0
    for entry in found:
        if as_json:
            print(json.dumps(entry.as_dict()))
            continue
        when = datetime.fromtimestamp(entry.time, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        # escaped: addresses, subjects and causes quote what prospects and senders wrote
        print(printable(f"{when}  {entry.kind:<8}  {entry.to}  {entry.subject}"))
        print(printable(f"    action {entry.action_id}  from {entry.cause}  ({entry.file})"))
    if not as_json:
        print(printable(f"{len(found)} of {len(listing(directory))} in {directory}, newest first"), file=sys.stderr)
    return 0


def _run_until_signal(main: Callable[[asyncio.Event], object]) -> int:
    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
    return 0


def cmd_topics_create(config: Config) -> int:
    from leadflow.topics import create_topics

    require(config, "topics create", kafka=True)
    created = create_topics(config)
    for name in created:
        print(f"created {name} ({config.partitions} partitions, replication factor {config.replication_factor})")
    if not created:
        print("all topics exist")
    return 0


def cmd_topics_describe(config: Config) -> int:
    from leadflow.topics import describe_topics

    require(config, "topics describe", kafka=True)
    missing = 0
    for info in describe_topics(config):
        state = f"{info.partitions} partitions" if info.partitions is not None else "MISSING"
        missing += info.partitions is None
        print(f"{info.name:<40} {state}")
    return 1 if missing else 0


def cmd_migrate(config: Config) -> int:
    from connectors.crm.migrations import migrate

    require(config, "migrate", crm=True)
    applied = migrate(config.crm_dsn)  # type: ignore[arg-type]
    for migration in applied:
        print(f"applied {migration.version:04d}_{migration.name}")
    if not applied:
        print("CRM schema is up to date")
    return 0


COMMANDS: dict[str, Callable[[Config], int]] = {
    "up": cmd_up,
    "collector": cmd_collector,
    "worker": cmd_worker,
    "sink": cmd_sink,
    "actions": cmd_actions,
    "topics create": cmd_topics_create,
    "topics describe": cmd_topics_describe,
    "migrate": cmd_migrate,
}
