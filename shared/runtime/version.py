"""Baton's release, from one place: the installed package's metadata (pyproject's `version`).

`baton --version`, `baton status`, each service's status reply and `/metrics`
(`baton_service_info`) all show this; CHANGELOG.md says what each release changed.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def baton_version() -> str:
    try:
        return version("baton")
    except PackageNotFoundError:
        return "0+unknown"
