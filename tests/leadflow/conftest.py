import pytest

from tests.leadflow.stacks import live_supervisor


@pytest.fixture
def supervisor():
    """A live process standing in for `leadflow up` (its pid)."""
    with live_supervisor() as pid:
        yield pid
