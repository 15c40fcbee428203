"""The admin commands as a platform team runs them against its own Kafka and PostgreSQL."""

import os
import subprocess
import sys
import uuid

import pytest

from leadflow.kafka import TOPICS

pytestmark = pytest.mark.integration


def run(args, env):
    return subprocess.run([sys.executable, "-m", "leadflow", *args], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=60)


def test_topics_create_is_idempotent_and_describe_lists_them(infra):
    env = {"LEADFLOW_KAFKA_BOOTSTRAP": infra.bootstrap, "LEADFLOW_TOPIC_PREFIX": f"cli{uuid.uuid4().hex[:8]}",
           "LEADFLOW_PARTITIONS": "4"}
    before = run(["topics", "describe"], env)
    assert before.returncode == 1 and "MISSING" in before.stdout
    first = run(["topics", "create"], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("created ") == len(TOPICS) and f"created {env['LEADFLOW_TOPIC_PREFIX']}.interactions" in first.stdout
    again = run(["topics", "create"], env)
    assert (again.returncode, again.stdout.strip()) == (0, "all topics exist")
    described = run(["topics", "describe"], env)
    assert described.returncode == 0
    assert described.stdout.count("4 partitions") == len(TOPICS)


def test_migrate_applies_once(crm_dsn):
    first = run(["migrate"], {"LEADFLOW_CRM_DSN": crm_dsn})
    assert (first.returncode, first.stdout.split()) == (0, ["applied", "0001_crm_leads", "applied",
                                                            "0002_crm_sla_timers", "applied",
                                                            "0003_crm_ownership_and_feedback", "applied",
                                                            "0004_activity_event_name", "applied", "0005_crm_tasks",
                                                            "applied", "0006_action_deliveries"]), first.stderr
    again = run(["migrate"], {"LEADFLOW_CRM_DSN": crm_dsn})
    assert (again.returncode, again.stdout.strip()) == (0, "CRM schema is up to date")


@pytest.mark.parametrize("command, setting", [
    (["collector"], "LEADFLOW_KAFKA_BOOTSTRAP"), (["worker"], "LEADFLOW_KAFKA_BOOTSTRAP"),
    (["sink"], "LEADFLOW_KAFKA_BOOTSTRAP"), (["migrate"], "LEADFLOW_CRM_DSN"),
    (["topics", "create"], "LEADFLOW_KAFKA_BOOTSTRAP"),
])
def test_production_commands_say_what_they_need(command, setting, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    result = subprocess.run([sys.executable, "-m", "leadflow", *command], env=env, capture_output=True, text=True,
                            timeout=30, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"leadflow: no running `leadflow up` under ./.leadflow and {setting} is not set: "
                                      f"`leadflow {' '.join(command)}` needs it (start `leadflow up` or set it)")


def test_a_production_collector_refuses_to_run_unprotected(infra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(LEADFLOW_KAFKA_BOOTSTRAP=infra.bootstrap, LEADFLOW_DATA_DIR="/nonexistent-leadflow")
    result = subprocess.run([sys.executable, "-m", "leadflow", "collector"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip() == ("leadflow: invalid configuration: LEADFLOW_WRITE_KEY: required: "
                                     "the events API must not run unprotected")
    env["LEADFLOW_WRITE_KEY"] = "wk_0123456789abcdef"
    result = subprocess.run([sys.executable, "-m", "leadflow", "collector"], env=env, capture_output=True, text=True,
                            timeout=30)
    assert "LEADFLOW_LINK_SECRET: required: tracked links must not run unprotected" in result.stderr


def test_link_and_pixel_print_signed_urls_without_the_email(tmp_path):
    from urllib.parse import parse_qs, urlsplit

    from leadflow.signed_links import verify_click, verify_pixel

    secret = "cli-link-secret-0123456789"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    env.update(LEADFLOW_LINK_SECRET=secret, LEADFLOW_PUBLIC_URL="https://t.example.com")
    link = subprocess.run([sys.executable, "-m", "leadflow", "link", "--email", "Ann@Example.com", "--url",
                           "https://a.io/pricing", "--message-id", "m1"], env=env, capture_output=True, text=True)
    pixel = subprocess.run([sys.executable, "-m", "leadflow", "pixel", "--email", "ann@example.com"], env=env,
                           capture_output=True, text=True)
    assert link.returncode == pixel.returncode == 0, link.stderr + pixel.stderr
    for output, verify in ((link.stdout, lambda q: verify_click(secret, q, 0)), (pixel.stdout,
                                                                                 lambda q: verify_pixel(secret, q))):
        url = output.strip()
        assert url.startswith("https://t.example.com/t/") and "ann" not in url.lower().split("a.io")[0]
        verify({k: v[0] for k, v in parse_qs(urlsplit(url).query).items()})
    del env["LEADFLOW_LINK_SECRET"]
    env["LEADFLOW_DATA_DIR"] = str(tmp_path)
    missing = subprocess.run([sys.executable, "-m", "leadflow", "link", "--email", "a@b.io", "--url", "https://a.io"],
                             env=env, capture_output=True, text=True)
    assert missing.returncode == 2 and "LEADFLOW_LINK_SECRET is not set: `leadflow link` needs it" in missing.stderr


def test_a_bad_event_name_file_stops_up_and_the_collector_naming_the_line(infra, tmp_path):
    names = tmp_path / "names.yaml"
    names.write_text("version: 1\nevents:\n  Email Opened: email.open\n")
    env = {"LEADFLOW_EVENT_NAMES": str(names), "LEADFLOW_DATA_DIR": str(tmp_path / "data")}
    for command in (["up"], ["collector"]):
        extra = {"LEADFLOW_KAFKA_BOOTSTRAP": infra.bootstrap} if command == ["collector"] else {}
        result = run(command, {**env, **extra})
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("leadflow: names.yaml:3: event 'Email Opened': unknown interaction type "
                                        "'email.open'"), result.stderr


def test_a_bad_automation_file_stops_up_and_the_worker_naming_the_line_and_the_automation(infra, tmp_path):
    automations = tmp_path / "automations.yaml"
    automations.write_text("version: a1\nautomations:\n  - id: hello\n    trigger: {stage: promoted}\n"
                           "    actions: [{send_email: welcome}]\n")  # no templates/ next to it
    env = {"LEADFLOW_AUTOMATIONS": str(automations), "LEADFLOW_DATA_DIR": str(tmp_path / "data")}
    for command in (["up"], ["worker"]):
        extra = {"LEADFLOW_KAFKA_BOOTSTRAP": infra.bootstrap} if command == ["worker"] else {}
        result = run(command, {**env, **extra})
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"leadflow: {automations}:5: automation 'hello': send_email: unknown "
                                        "template 'welcome'"), result.stderr
