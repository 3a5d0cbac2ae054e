from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from shared.contract import catalogue as api
from shared.contract.catalogue import ROUTES
from tools.api_docs import render

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_api_md_is_up_to_date() -> None:
    assert API_MD.read_text() == render(), "run: python -m tools.api_docs > docs/api.md"


def test_every_subject_is_documented_once_with_its_reply_type() -> None:
    subjects = [e.subject for e in ROUTES]
    assert len(subjects) == len(set(subjects))
    assert api.ASSIGN_REQUEST.subject in subjects
    # Every handler declares what it answers with; an unannotated one would document nothing.
    unannotated = [e.subject for e in ROUTES if e.reply is Any]
    assert unannotated == []


ASYNCAPI = API_MD.parent / "asyncapi.yaml"


def test_docs_asyncapi_yaml_is_up_to_date_and_complete() -> None:
    from tools.api_docs import render_asyncapi

    assert ASYNCAPI.read_text() == render_asyncapi(), (
        "run: python -m tools.api_docs --asyncapi > docs/asyncapi.yaml"
    )
    document = yaml.safe_load(ASYNCAPI.read_text())
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {e.subject for e in ROUTES} <= addresses
    assert {
        api.INBOUND_SMS.subject,
        # What the outbox publishes is one message per subject, its id last.
        api.OUTBOUND_SMS.address,
        api.CONVERSATIONS_ASSIGNED.address,
    } <= addresses
    parameters = {
        name
        for channel in document["channels"].values()
        if "{" in channel["address"]
        for name in channel["parameters"]
    }
    assert parameters == {"message_id", "event_id", "source"}
    # Every reference points at something the document defines.
    text = ASYNCAPI.read_text()
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = document
        for part in ref.split("/"):
            node = node[part]
        assert node, ref
