"""BATON_NATS_INBOX_PREFIX: where a connection's replies arrive (docs/trust.md)."""

from __future__ import annotations

import pytest

from services.assigner.settings import AssignerSettings
from shared.runtime.settings import CommonSettings, SettingsError, load_settings


def test_empty_by_default_which_keeps_nats_pys_inbox() -> None:
    assert load_settings(CommonSettings, {}).nats_inbox_prefix == ""


@pytest.mark.parametrize("prefix", ["_INBOX_client", "_INBOX_webapp", "_INBOX.crm", "_INBOX"])
def test_subject_tokens_are_accepted(prefix: str) -> None:
    environ = {"BATON_NATS_INBOX_PREFIX": prefix}
    assert load_settings(CommonSettings, environ).nats_inbox_prefix == prefix
    assert load_settings(AssignerSettings, environ).nats_inbox_prefix == prefix


@pytest.mark.parametrize(
    "prefix",
    [
        "_INBOX.>",  # a wildcard would subscribe to other connections' replies
        ">",
        "*",
        "_INBOX.*",
        "_INBOX_*",
        "_INBOX_client.",  # nats-py adds the dot itself: `<prefix>.<nuid>`
        "._INBOX",
        "_INBOX..client",
        "_INBOX client",
        "_INBOX\tclient",
        "_INBOX\r\nPUB x 1",  # protocol injection
        "_INBOX\x00",
        " ",
        "baton.replies",  # services answer only subjects that start with _INBOX
        "client",
    ],
)
def test_wildcards_empty_tokens_and_whitespace_are_refused(prefix: str) -> None:
    with pytest.raises(SettingsError, match="BATON_NATS_INBOX_PREFIX"):
        load_settings(CommonSettings, {"BATON_NATS_INBOX_PREFIX": prefix})
    with pytest.raises(SettingsError, match="BATON_NATS_INBOX_PREFIX"):
        CommonSettings(nats_inbox_prefix=prefix).validate()
