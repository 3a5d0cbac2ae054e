from __future__ import annotations

from pathlib import Path
from typing import Any

from services.api_docs import catalog, render

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def test_docs_api_md_is_up_to_date() -> None:
    assert API_MD.read_text() == render(), "run: python -m services.api_docs > docs/api.md"


def test_every_subject_is_documented_once_with_its_reply_type() -> None:
    subjects = [subject for _, subject, _, _ in catalog()]
    assert len(subjects) == len(set(subjects))
    assert "baton.assign.request" in subjects
    # Every handler declares what it answers with; an unannotated one would document nothing.
    unannotated = [subject for _, subject, _, reply in catalog() if reply is Any]
    assert unannotated == []
