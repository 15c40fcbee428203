"""The core's deterministic ids are the very UUIDs ``uuid.uuid5`` gives, as text: ids the CRM, the sink and
the action delivery already hold stay the same."""

import uuid

from hypothesis import given
from hypothesis import strategies as st

from streams.core.ids import uuid5


@given(namespace=st.uuids(), name=st.text())
def test_the_same_text_as_uuid5(namespace, name):
    assert uuid5(namespace.bytes, name) == str(uuid.uuid5(namespace, name))
