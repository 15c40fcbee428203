"""Templates: merge fields (missing ones render as nothing), autoescaped HTML, the sandbox, and one error class
naming the template for whatever makes an email impossible."""

import os
from pathlib import Path

import pytest

from connectors.actions.email.render import TemplateFailed, Templates, merge_fields
from leadflow.outbound import AttemptFailed

SHIPPED = Path(__file__).resolve().parents[4] / "leadflow" / "models" / "templates"
UNSUBSCRIBE = "https://c.example.com/t/u?p=p_1&m=a_1&s=sig"


def fields(**payload):
    return merge_fields(payload, email="ann@example.com", prospect_id="p_1", unsubscribe_url=UNSUBSCRIBE)


@pytest.fixture
def templates(tmp_path):
    def make(**files):
        for name, text in files.items():
            (tmp_path / name.replace("__", ".")).write_text(text)
        return Templates(tmp_path)
    return make


def test_every_shipped_template_renders_with_and_without_a_profile():
    templates = Templates(SHIPPED)
    names = sorted({p.stem for p in SHIPPED.glob("*.txt")})
    assert names
    for name in names:
        bare = templates.render(name, fields())
        assert bare.subject and "there" in bare.text and bare.html and "there" in bare.html
        ann = templates.render(name, fields(**{"profile.first_name": "Ann"}))
        assert "Hi Ann," in ann.text and "Hi Ann," in ann.html


def test_merge_fields_profile_data_email_prospect_and_unsubscribe(templates):
    loaded = templates(m__txt="Subject: {{ subject_prefix }} for {{ first_name }}\n\n"
                              "{{ first_name }}/{{ profile.first_name }}/{{ profile.company }}/{{ company }}/"
                              "{{ email }}/{{ prospect_id }}/{{ plan }}/{{ data.plan }}/{{ unsubscribe_url }}\n")
    rendered = loaded.render("m", fields(**{"profile.first_name": "Ann", "profile.company": "Acme",
                                            "subject_prefix": "News", "plan": "pro", "transactional": "false"}))
    assert rendered.subject == "News for Ann"
    assert rendered.text == f"Ann/Ann/Acme/Acme/ann@example.com/p_1/pro/pro/{UNSUBSCRIBE}\n"
    assert rendered.html is None


def test_the_automations_data_wins_over_a_profile_attribute_and_nothing_overrides_the_fixed_fields():
    merged = merge_fields({"profile.plan": "free", "plan": "pro", "profile.email": "x@evil.test",
                           "unsubscribe_url": "https://evil.test"}, email="ann@example.com", prospect_id="p_1",
                          unsubscribe_url=UNSUBSCRIBE)
    assert merged["plan"] == "pro" and merged["profile"]["plan"] == "free"
    assert merged["email"] == "ann@example.com" and merged["unsubscribe_url"] == UNSUBSCRIBE


def test_missing_fields_render_as_nothing_and_default_fills_them_in_chains_included(templates):
    loaded = templates(m__txt="Subject: Hi {{ first_name | default('there') }}\n\n"
                              "[{{ first_name }}][{{ company.name }}][{{ profile.title.upper }}]"
                              "[{{ company.name | default('your team') }}][{{ profile.country | default('?') }}]\n")
    rendered = loaded.render("m", fields())
    assert rendered.subject == "Hi there"
    assert rendered.text == "[][][][your team][?]\n"


def test_html_is_autoescaped_the_text_part_and_subject_are_not(templates):
    rendered = templates(m__txt="Subject: Hi {{ first_name }}\n\nHi {{ first_name }}\n",
                         m__html="<p>Hi {{ first_name }}</p><a href=\"{{ unsubscribe_url }}\">u</a>").render(
        "m", fields(**{"profile.first_name": "<script>alert(1)</script>"}))
    assert rendered.html.startswith("<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>")
    assert 'href="https://c.example.com/t/u?p=p_1&amp;m=a_1&amp;s=sig"' in rendered.html
    assert rendered.text == "Hi <script>alert(1)</script>\n"
    assert rendered.subject == "Hi <script>alert(1)</script>"


def test_the_subject_is_one_line_whatever_a_field_holds(templates):
    rendered = templates(m__txt="Subject: Hi {{ first_name }}\n\nbody\n").render(
        "m", fields(**{"profile.first_name": "Ann\r\nBcc: everyone@example.com\x00"}))
    assert rendered.subject == "Hi Ann Bcc: everyone@example.com"


@pytest.mark.parametrize("body", ["{{ ''.__class__.__mro__ }}", "{{ first_name.__class__ }}",
                                  "{{ cycler.__init__.__globals__ }}"])
def test_the_sandbox_refuses_python_internals_as_a_final_error_naming_the_template(templates, body):
    with pytest.raises(TemplateFailed) as caught:
        templates(evil__txt=f"Subject: hi\n\n{body}\n").render("evil", fields(**{"profile.first_name": "Ann"}))
    failure = caught.value
    assert isinstance(failure, AttemptFailed) and not failure.retryable and failure.template == "evil"
    assert failure.reason.startswith("email template 'evil': evil.txt: SecurityError: ")
    assert "unsafe" in failure.reason


def test_a_missing_template_a_syntax_error_or_a_failing_render_is_one_final_error(templates, tmp_path):
    with pytest.raises(TemplateFailed, match=r"'nope': missing: neither nope.txt nor nope.html in "):
        templates().render("nope", fields())
    broken = templates(b__txt="Subject: hi\n\nline three\n{% if %}\n", c__html="<p>{{ 1 / 0 }}</p>")
    with pytest.raises(TemplateFailed, match=r"'b': b.txt line 4: Expected an expression"):
        broken.render("b", fields())
    with pytest.raises(TemplateFailed, match=r"'c': c.html: ZeroDivisionError"):
        broken.render("c", fields())
    with pytest.raises(TemplateFailed, match="not a template name"):
        broken.render("../secrets", fields())
    with pytest.raises(TemplateFailed, match="the subject is empty"):
        templates(e__txt="no subject line here\n").render("e", fields())


def test_an_html_only_template_gets_a_text_part_and_its_title_as_subject(templates):
    rendered = templates(h__html="<html><head><title>Hello {{ first_name | default('there') }}</title>"
                                 "<style>p { color: red }</style></head><body><h1>News</h1>"
                                 "<p>Read <a href=\"https://example.com/guide?a=1&amp;b=2\">the guide</a>.</p>"
                                 "<p>Or <a href=\"mailto:help@example.com\">write</a></p></body></html>").render(
        "h", fields(**{"profile.first_name": "Ann"}))
    assert rendered.subject == "Hello Ann"
    assert rendered.text == "News\n\nRead the guide (https://example.com/guide?a=1&b=2).\n\nOr write\n"


def test_compiled_templates_are_cached_until_their_file_changes(templates, tmp_path, monkeypatch):
    loaded = templates(m__txt="Subject: one\n\nfirst\n")
    compiled = []
    original = type(loaded)._compile
    monkeypatch.setattr(type(loaded), "_compile", staticmethod(lambda *a: compiled.append(a[1]) or original(*a)))
    assert loaded.render("m", fields()).text == "first\n"
    assert loaded.render("m", fields()).text == "first\n"
    assert compiled == ["m.txt", "m.txt"]  # subject and body, compiled by the first render only
    path = tmp_path / "m.txt"
    path.write_text("Subject: two\n\nsecond, longer\n")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert loaded.render("m", fields()).subject == "two"
    assert compiled == ["m.txt"] * 4  # compiled again, once
