"""The one string check (pure): control characters refused or stripped, lengths bounded, the field named."""

import pytest

from schemas.records import Interaction
from streams.core.hygiene import MAX_KEY, MAX_VALUE, Unclean, checked, cleaned

NOW = 1_767_000_000_000
BASE = dict(event_id="e1", prospect_key="p_1", type="page.viewed", occurred_at=NOW, received_at=NOW, source="x")


@pytest.mark.parametrize("changes, field", [
    (dict(traits={"company": "a\x00"}), "traits.company"),
    (dict(properties={"note": "\x1b[2J"}), "properties.note"),
    (dict(properties={"k\x00": "v"}), "properties key"),
    (dict(title="x\x9b31m"), "title"),
    (dict(url="https://a.io/\n"), "url"),
    (dict(event="Demo\ud800"), "event"),
    (dict(traits={"k" * (MAX_KEY + 1): "v"}), "longer than 100"),
    (dict(properties={"k": "v" * (MAX_VALUE + 1)}), "longer than 8192"),
])
def test_checked_refuses_control_characters_and_overlong_text_naming_the_field(changes, field):
    with pytest.raises(Unclean) as err:
        checked(Interaction(**BASE, **changes))
    assert field in str(err.value)


def test_checked_keeps_free_text_and_cleans_header_fields():
    text = "Line one\nline two\tand \"quotes\", back\\slash, %s, 🚀, שלום, DROP TABLE x;--"
    interaction = checked(Interaction(**BASE, traits={"note": text}, user_agent="Mozilla\x9b/5.0", ip="1.2.3.0"))
    assert interaction.traits["note"] == text and interaction.user_agent == "Mozilla/5.0"


def test_cleaned_strips_what_vendors_send():
    dirty = Interaction(**BASE, url="https://a.io/\x00x", properties={"reason": "bad\x1b[31m mailbox", "k\x00": "v"})
    clean = cleaned(dirty)
    assert clean.url == "https://a.io/x" and clean.properties == {"reason": "bad[31m mailbox", "k": "v"}
    assert checked(clean) == clean
