"""What `explain` and `dlq list` print: untrusted text with its control characters escaped."""

from leadflow.terminal import printable, printable_lines


def test_control_characters_and_terminal_escapes_are_shown_not_interpreted():
    assert printable("a\x1b[2J\x00b\x9b31m\u202egnp.exe") == "a\\x1b[2J\\x00b\\x9b31m\\u202egnp.exe"
    assert printable_lines("one\ntwo\rthree") == "one\ntwo\\x0dthree"


def test_ordinary_text_is_left_alone():
    text = "Zoë Ünal, 東京, שלום, مرحبا, 🚀, \"quotes\", back\\slash, %s; DROP TABLE crm_leads;--"
    assert printable(text) == text
