import pytest

from connectors.collector.event_names import EventNamesError, load_event_names
from leadflow.config import DEFAULT_EVENT_NAMES


def test_the_shipped_table_loads_and_matches_loosely():
    names = load_event_names(DEFAULT_EVENT_NAMES)
    assert names.type_for("Email Opened") == names.type_for("email_opened") == "email.opened"
    assert names.type_for("EMAIL-LINK  clicked") == "email.clicked"
    assert names.type_for("Form Submitted") == "form.submitted"
    assert names.type_for("Demo Requested") == "event.tracked"
    assert names.type_for("webinar.attended") == "webinar.attended"  # a canonical type is itself
    assert names.type_for("profile.updated") == "event.tracked"  # made by identify, never by a name


@pytest.mark.parametrize("text, error", [
    ("version: 1\nevents:\n  Opened: email.open\n", "names.yaml:3: event 'Opened': unknown interaction type"),
    ("version: 1\nevents:\n  Opened: email.opened\n  opened: email.clicked\n", "names.yaml:4: event 'opened' is listed twice"),
    ("version: 1\n", "names.yaml:1: 'events' is required"),
    ("version: 1\nevent:\n  a: page.viewed\n", "names.yaml:2: unknown key(s) event"),
    ("events: [a, b]\n", "names.yaml:1: 'events' must map event names to types"),
    ("events:\n  a: [page.viewed]\n", "names.yaml:2: each entry is"),
    ("events: {a: b\n", "names.yaml:2: not valid YAML"),
])
def test_errors_name_the_file_and_line(tmp_path, text, error):
    path = tmp_path / "names.yaml"
    path.write_text(text)
    with pytest.raises(EventNamesError) as exc:
        load_event_names(path)
    assert str(exc.value).startswith(error), str(exc.value)
