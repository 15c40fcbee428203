"""`leadflow automations` against the broker: the counts from the prospect states, and a dry run of a candidate."""

import pytest

from tests.leadflow.test_cli import run

pytestmark = pytest.mark.integration


def test_automations_reports_what_ran_and_dry_runs_a_candidate_file(config, tmp_path):
    """The counts come from the prospect states on the changelog; a dry run replays their histories."""
    import asyncio
    import shutil

    from leadflow.config import DEFAULT_AUTOMATIONS, DEFAULT_MODEL
    from leadflow.kafka import new_producer
    from schemas.records import Interaction
    from streams.core.automation_index import load_engine
    from streams.core.automations import step
    from streams.core.model import load_model
    from streams.core.prospect import ProspectState
    from streams.state_codec import dump_state

    model = load_model(DEFAULT_MODEL)
    engine = load_engine(DEFAULT_AUTOMATIONS, model)
    state = ProspectState("p_ada")
    for n, url in enumerate(["https://a.io/", "https://a.io/pricing", "https://a.io/pricing"]):
        at = 1_767_600_000_000 + n * 60_000
        step(state, Interaction(event_id=f"e{n}", prospect_key="p_ada", prospect_id="p_ada", email="ada@a.io",
                                type="page.viewed", occurred_at=at, received_at=at, source="test", url=url),
             model, engine)

    async def store():
        producer = new_producer(config)
        await producer.start()
        await producer.send_and_wait(config.topic("prospect-state"), key=b"p_ada", value=dump_state(state))
        await producer.stop()

    asyncio.run(store())
    env = {k: v for k, v in config.as_env().items()}
    listed = run(["automations"], env)
    assert listed.returncode == 0, listed.stderr
    assert "1 prospects; file automations-1" in listed.stdout and "pricing-twice" in listed.stdout
    assert any(line.startswith("welcome ") and line.split()[1] == "1" for line in listed.stdout.splitlines())
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(DEFAULT_AUTOMATIONS.read_text().replace("automations-1", "automations-2")
                         .replace("count: 2", "count: 3"))
    shutil.copytree(DEFAULT_AUTOMATIONS.parent / "templates", tmp_path / "templates")
    dry = run(["automations", "--dry-run", str(candidate)], env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith(f"dry run: {candidate}") and "file automations-2" in dry.stdout
    row = next(line for line in dry.stdout.splitlines() if line.startswith("pricing-twice"))
    assert row.split()[-1] == "-"  # twice is not three times: the candidate would not have notified
