from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from services.api_docs import catalog, render

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_api_md_is_up_to_date() -> None:
    assert API_MD.read_text() == render(), "run: python -m services.api_docs > docs/api.md"


def test_every_subject_is_documented_once_with_its_reply_type() -> None:
    subjects = [e.subject for e in catalog()]
    assert len(subjects) == len(set(subjects))
    assert "baton.assign.request" in subjects
    # Every handler declares what it answers with; an unannotated one would document nothing.
    unannotated = [e.subject for e in catalog() if e.reply is Any]
    assert unannotated == []


ASYNCAPI = API_MD.parent / "asyncapi.yaml"


def test_docs_asyncapi_yaml_is_up_to_date_and_complete() -> None:
    from services.api_docs import render_asyncapi

    assert ASYNCAPI.read_text() == render_asyncapi(), (
        "run: python -m services.api_docs --asyncapi > docs/asyncapi.yaml"
    )
    document = yaml.safe_load(ASYNCAPI.read_text())
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {e.subject for e in catalog()} <= addresses
    assert {
        "baton.inbound.sms",
        # What the outbox publishes is one message per subject, its id last.
        "baton.outbound.sms.{message_id}",
        "baton.events.conversation.assigned.{event_id}",
    } <= addresses
    parameters = {
        name
        for channel in document["channels"].values()
        if "{" in channel["address"]
        for name in channel["parameters"]
    }
    assert parameters == {"message_id", "event_id"}
    # Every reference points at something the document defines.
    text = ASYNCAPI.read_text()
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = document
        for part in ref.split("/"):
            node = node[part]
        assert node, ref
