from __future__ import annotations

import pytest

from services.inbound.settings import InboundSettings
from services.reaper.settings import ReaperSettings
from shared.runtime.settings import CommonSettings, SettingsError, load_settings
from shared.runtime.tokens import KeyConfigError, verifier_from_settings


def test_defaults_work_locally() -> None:
    settings = load_settings(CommonSettings, {})
    assert settings.database_url.startswith("postgresql://")
    assert settings.nats_url == "nats://127.0.0.1:4222"


def test_each_service_has_its_own_metrics_port() -> None:
    assert load_settings(ReaperSettings, {}).metrics_port == 9104
    assert load_settings(InboundSettings, {}).metrics_port == 9103


def test_environment_overrides_and_types() -> None:
    settings = load_settings(
        ReaperSettings,
        {
            "BATON_REAP_INTERVAL_SECONDS": "2.5",
            "BATON_METRICS_PORT": "8000",
            "BATON_LOG_LEVEL": "debug",
        },
    )
    assert settings.reap_interval_seconds == 2.5
    assert settings.metrics_port == 8000
    assert settings.log_level == "debug"


def test_settings_are_frozen() -> None:
    settings = load_settings(CommonSettings, {})
    with pytest.raises(AttributeError):
        settings.nats_url = "nats://elsewhere:4222"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("BATON_METRICS_PORT", "eighty", "BATON_METRICS_PORT='eighty' is not a valid int"),
        ("BATON_METRICS_PORT", "70000", "BATON_METRICS_PORT must be a port"),
        ("BATON_LOG_FORMAT", "xml", "BATON_LOG_FORMAT must be one of"),
        ("BATON_DATABASE_URL", "mysql://x", "BATON_DATABASE_URL must be a postgresql:// URL"),
        ("BATON_REAP_INTERVAL_SECONDS", "0", "BATON_REAP_INTERVAL_SECONDS must be greater than 0"),
        ("BATON_STREAM_REPLICAS", "2", "BATON_STREAM_REPLICAS must be 1, 3 or 5"),
    ],
)
def test_bad_values_fail_with_a_clear_message(variable: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(ReaperSettings, {variable: value})


def test_keys_for_tokens_come_from_the_environment() -> None:
    settings = load_settings(
        CommonSettings,
        {
            "BATON_AUTH_SECRET_FILE": "/run/secrets/baton-auth",
            "BATON_AUTH_PUBLIC_KEYS": "/etc/baton/auth/old.pem,/etc/baton/auth/new.pem",
            "BATON_AUTH_ISSUER": "https://id.example.org",
            "BATON_AUTH_AUDIENCE": "baton",
        },
    )
    assert settings.auth_secret == "" and settings.auth_secret_file == "/run/secrets/baton-auth"
    assert settings.auth_public_keys.split(",") == [
        "/etc/baton/auth/old.pem",
        "/etc/baton/auth/new.pem",
    ]
    assert (settings.auth_issuer, settings.auth_audience) == ("https://id.example.org", "baton")


def test_the_defaults_configure_no_key_so_a_service_refuses_to_start() -> None:
    # No default secret that every installation would share: the operator must choose one.
    with pytest.raises(KeyConfigError, match="BATON_AUTH_PUBLIC_KEYS"):
        verifier_from_settings(load_settings(CommonSettings, {}))
