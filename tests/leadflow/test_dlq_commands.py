"""`leadflow dlq list` and `dlq replay` against the broker: what the sink dead-lettered, listed and re-driven."""

import pytest

from tests.leadflow.test_cli import run

pytestmark = pytest.mark.integration


def test_dlq_list_and_replay_show_what_the_sink_dead_lettered(config):
    import asyncio

    from leadflow.kafka import new_producer

    async def poison():
        producer = new_producer(config)
        await producer.start()
        await producer.send_and_wait(config.topic("sink-dlq"), key=b"p_1", value=dead_letter_bytes(config))
        await producer.stop()

    def dead_letter_bytes(config):
        from aiokafka.structs import ConsumerRecord

        from leadflow.stage import dead_letter
        from schemas.codec import Codec

        record = ConsumerRecord(config.topic("leads"), 2, 41, 0, 0, b"p_1", b"\x00junk", None, 5, 0, ())
        return Codec().encode(dead_letter(record, "undecodable: junk", "postgres", 0, 1_767_000_000_000),
                              config.topic("sink-dlq"))

    env = {k: v for k, v in config.as_env().items() if k.startswith(("LEADFLOW_KAFKA", "LEADFLOW_TOPIC"))}
    assert run(["dlq", "list"], env).stderr.strip().endswith("0 dead letter(s), 0 not replayed")
    asyncio.run(poison())
    listed = run(["dlq", "list"], env)
    assert listed.returncode == 0 and "pending" in listed.stdout and "leads[2]@41" in listed.stdout, listed.stderr
    assert "undecodable: junk" in listed.stdout and "5 undecodable bytes" in listed.stdout
    replayed = run(["dlq", "replay"], env)
    assert replayed.returncode == 0 and "1 dead letter(s) replayed" in replayed.stderr, replayed.stderr
    assert '"replayed": true' in run(["dlq", "list", "--json"], env).stdout
    assert run(["dlq", "replay", "no-such-id"], env).returncode == 1
