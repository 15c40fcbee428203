"""Every kind of effect the core returns has its one handler in the worker's batch."""

from typing import get_args

from streams.batch import EFFECT_HANDLERS
from streams.core.prospect import Effect


def test_every_core_effect_has_a_handler():
    assert set(get_args(Effect)) == set(EFFECT_HANDLERS)
