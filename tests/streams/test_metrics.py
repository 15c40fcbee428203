"""The automation series exist at 0 before the first action, enrollment or exit (rates and alerts read 0)."""

from prometheus_client import REGISTRY

from streams import metrics
from streams.core.automation_model import ACTION_TYPES, SUPPRESSION_REASONS


def _value(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_start_at_zero_creates_every_action_type_and_suppression_reason() -> None:
    metrics.start_at_zero()
    for kind in ACTION_TYPES:
        assert _value("leadflow_automation_actions_total", type=kind) is not None, kind
    for reason in SUPPRESSION_REASONS:
        assert _value("leadflow_automation_actions_suppressed_total", reason=reason) is not None, reason
    assert _value("leadflow_automation_timers_pending") is not None
    assert _value("leadflow_automation_timer_lateness_seconds_count") is not None


def test_start_programs_at_zero_creates_enrollments_and_the_reasonless_exits_per_program() -> None:
    before = _value("leadflow_automation_enrollments_total", program="zero-test-welcome")
    assert before is None
    metrics.start_programs_at_zero(["zero-test-welcome", "zero-test-reengage"])
    metrics.start_programs_at_zero(["zero-test-welcome"])  # again (a reloaded file): the series stay, still 0
    for program in ("zero-test-welcome", "zero-test-reengage"):
        assert _value("leadflow_automation_enrollments_total", program=program) == 0
        for outcome in ("completed", "exhausted"):
            assert _value("leadflow_automation_exits_total", program=program, outcome=outcome, reason="") == 0
        assert _value("leadflow_automation_exits_total", program=program, outcome="exited", reason="") is None
