from pathlib import Path

import pytest

from leadflow.config import DEFAULT_MODEL
from streams.core.model import ModelError, load_model, parse_model

VALID = """\
version: v1
thresholds:
  promote: 50
rules:
  - id: pricing
    when: {type: page.viewed, url_contains: /pricing}
    points: 20
  - id: open
    when: {type: email.opened}
    points: 5
"""


def test_shipped_model_loads():
    model = load_model(DEFAULT_MODEL)
    assert model.promote_threshold == 50
    points = {rule.id: rule.points for rule in model.rules}
    assert points["email-open"] == 5 and points["pricing-page"] == 20 and points["email-bounce"] == -10
    assert points["unsubscribe"] < 0


def test_valid_model():
    model = parse_model(VALID)
    assert model.version == "v1"
    assert [r.id for r in model.rules] == ["pricing", "open"]
    assert model.rules[0].matches("page.viewed", "https://a.io/pricing", None, None)
    assert not model.rules[0].matches("page.viewed", "https://a.io/blog", None, None)


@pytest.mark.parametrize("broken, expected", [
    (VALID.replace("url_contains", "url_contain"), "m.yaml:6: rule 'pricing': unknown condition(s) url_contain"),
    (VALID.replace("    points: 5", "    points: 5\n    bonus: 1"), "m.yaml:8: rule 'open': unknown key(s) bonus"),
    (VALID.replace("id: open", "id: pricing"), "m.yaml:8: rule 'pricing': duplicate id (first defined on line 5)"),
    (VALID.replace("url_contains: /pricing", "url_regex: '(unclosed'"), "m.yaml:6: rule 'pricing': bad url_regex"),
    (VALID.replace("email.opened", "email.read"), "m.yaml:9: rule 'open': unknown interaction type 'email.read'"),
    (VALID.replace("points: 20", "points: lots"), "m.yaml:5: rule 'pricing': points must be a number"),
    (VALID.replace("promote: 50", "promote: high"), "m.yaml:3: thresholds.promote must be a number"),
    (VALID.replace("version: v1", "versoin: v1"), "m.yaml:1: model: unknown key(s) versoin"),
    ("rules: [\n  - id: x\n   bad", "m.yaml:2: not valid YAML"),
])
def test_errors_name_file_line_and_rule(broken, expected):
    with pytest.raises(ModelError) as err:
        parse_model(broken, "m.yaml")
    assert str(err.value).startswith(expected), str(err.value)


def test_missing_file_is_a_model_error(tmp_path: Path):
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "nope.yaml")
