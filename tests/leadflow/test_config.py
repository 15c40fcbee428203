from pathlib import Path

import pytest

from leadflow.config import DEFAULT_MODEL, SETTINGS, Config, ConfigError, load_config


def test_defaults_without_env():
    config = load_config({})
    assert config.kafka.bootstrap is None and config.crm_dsn is None
    assert config.topic("interactions") == "leadflow.interactions"
    assert config.model_path == DEFAULT_MODEL and DEFAULT_MODEL.is_file()
    assert config.kafka.idempotence is True


def test_env_then_flags_win():
    config = load_config({"LEADFLOW_HTTP_PORT": "9000", "LEADFLOW_TOPIC_PREFIX": "acme"},
                         {"LEADFLOW_HTTP_PORT": "9100"})
    assert config.http_port == 9100
    assert config.topic("leads") == "acme.leads"


@pytest.mark.parametrize("env, setting, fragment", [
    ({"LEADFLOW_HTTP_PORT": "http"}, "LEADFLOW_HTTP_PORT", "invalid literal"),
    ({"LEADFLOW_HTTP_PORT": "70000"}, "LEADFLOW_HTTP_PORT", "0-65535"),
    ({"LEADFLOW_PARTITIONS": "0"}, "LEADFLOW_PARTITIONS", "at least 1"),
    ({"LEADFLOW_KAFKA_BOOTSTRAP": "localhost"}, "LEADFLOW_KAFKA_BOOTSTRAP", "host:port"),
    ({"LEADFLOW_CRM_DSN": "mysql://x"}, "LEADFLOW_CRM_DSN", "postgresql://"),
    ({"LEADFLOW_MODEL": "/nonexistent.yaml"}, "LEADFLOW_MODEL", "no such file"),
    ({"LEADFLOW_KAFKA_SECURITY_PROTOCOL": "TLS"}, "LEADFLOW_KAFKA_SECURITY_PROTOCOL", "must be one of"),
    ({"LEADFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "LEADFLOW_KAFKA_SASL_MECHANISM", "required"),
    ({"LEADFLOW_KAFKA_IDEMPOTENCE": "maybe"}, "LEADFLOW_KAFKA_IDEMPOTENCE", "true or false"),
    ({"LEADFLOW_SINK_METRICS_PORT": "8080"}, "LEADFLOW_SINK_METRICS_PORT", "already used"),
    ({"LEADFLOW_KAFKA_HEARTBEAT_INTERVAL": "60"}, "LEADFLOW_KAFKA_HEARTBEAT_INTERVAL", "shorter"),
    ({"LEADFLOW_RATE_LIMIT_PER_IP": "lots"}, "LEADFLOW_RATE_LIMIT_PER_IP", "N/period"),
    ({"LEADFLOW_FORM_CAPTCHA_VERIFY_URL": "https://challenges.cloudflare.com/turnstile/v0/siteverify"},
     "LEADFLOW_FORM_CAPTCHA_SECRET", "go together"),
])
def test_invalid_settings_name_the_setting(env, setting, fragment):
    with pytest.raises(ConfigError) as err:
        load_config(env)
    assert err.value.setting == setting
    assert setting in str(err.value) and fragment in str(err.value)


def test_sasl_settings_reach_the_clients():
    config = load_config({
        "LEADFLOW_KAFKA_BOOTSTRAP": "k1:9092,k2:9092", "LEADFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "LEADFLOW_KAFKA_SASL_MECHANISM": "scram-sha-512", "LEADFLOW_KAFKA_SASL_USERNAME": "u",
        "LEADFLOW_KAFKA_SASL_PASSWORD": "p",
    })
    kwargs = config.kafka.client_kwargs()
    assert kwargs["bootstrap_servers"] == "k1:9092,k2:9092"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("u", "p")


def test_as_env_round_trips(tmp_path: Path):
    config = Config().with_changes(bootstrap="h:1", crm_dsn="postgresql://x@y/z", http_port=1234,
                                   data_dir=tmp_path, idempotence=False, session_timeout_s=6.0)
    assert load_config(config.as_env()) == config


def test_every_setting_has_a_flag_and_help():
    flags = [s.flag for s in SETTINGS]
    assert len(flags) == len(set(flags))
    assert all(s.help for s in SETTINGS)


def test_readme_documents_every_setting():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [s.env for s in SETTINGS if f"| `{s.env}` |" not in readme]
    assert missing == []


def test_a_secret_can_come_from_a_file_named_by_its_FILE_variable(tmp_path):
    (tmp_path / "wk").write_text("wk_from_a_file_0123456789\n")
    config = load_config({"LEADFLOW_WRITE_KEY_FILE": str(tmp_path / "wk"), "LEADFLOW_DATA_DIR": str(tmp_path)})
    assert config.secrets.write_key == "wk_from_a_file_0123456789"
    with pytest.raises(ConfigError, match="LEADFLOW_LINK_SECRET_FILE: cannot read"):
        load_config({"LEADFLOW_LINK_SECRET_FILE": str(tmp_path / "missing"), "LEADFLOW_DATA_DIR": str(tmp_path)})
