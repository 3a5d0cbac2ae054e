"""The catalogue is the one place subjects are written, and what the services serve."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path
from typing import Any

import pytest

from services.registry import REGISTRY
from shared.contract import catalogue as api
from shared.contract.error_codes import TRANSPORT_CODES, ErrorCode, Retry
from shared.runtime.service import ServiceContext

ROOT = Path(__file__).resolve().parents[2]
# The first two tokens of every subject the catalogue declares (`baton.assign`, ...).
ROOTS = sorted({".".join(s.split(".")[:2]) for s in
                [r.subject for r in api.ROUTES] + [c.subject for c in api.CHANNELS]})  # fmt: skip
# A subject written as a string: a quote (or f-string) followed by one of those roots.
_ROOTS_PATTERN = "|".join(re.escape(r) for r in ROOTS)
SUBJECT_LITERAL = re.compile(rf"""["'](?:{_ROOTS_PATTERN})\b""")


def _sources() -> list[Path]:
    folders = ("shared", "services", "tools", "tests", "bench", "examples")
    found = [p for folder in folders for p in (ROOT / folder).rglob("*")
             if p.suffix in {".py", ".js", ".mjs"} and "node_modules" not in p.parts]  # fmt: skip
    return [p for p in found if p != ROOT / "shared" / "contract" / "catalogue.py"]


def test_no_subject_is_written_outside_the_catalogue() -> None:
    assert len(ROOTS) >= 8, ROOTS  # the pattern below is only as good as these
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if SUBJECT_LITERAL.search(line)
    ]
    assert offenders == [], "write subjects as shared/contract/catalogue.py's routes and channels"


def test_the_grep_would_find_a_subject_written_by_hand() -> None:
    baton = "baton"  # so that this test's own lines hold no subject
    assert SUBJECT_LITERAL.search(f'nc.request("{baton}.assign.request", b"{{}}")')
    assert SUBJECT_LITERAL.search(f"f'{baton}.outbound.sms.{{message_id}}'")
    assert not SUBJECT_LITERAL.search(f'"{baton}.json"')


def _served(name: api.ServiceName) -> list[Any]:
    definition = REGISTRY[name]
    # Endpoint lists only keep references to the context; nothing is connected here.
    context = ServiceContext(name, definition.settings_type(), None, None, None, None)  # type: ignore[arg-type]
    return definition.endpoints(context)


@pytest.mark.parametrize("name", api.SERVICE_NAMES)
def test_each_service_serves_exactly_its_catalogue_routes_with_their_types(
    name: api.ServiceName,
) -> None:
    endpoints = _served(name)
    # The status route is bound by shared/runtime/service.py for every service.
    routes = [r for r in api.served_by(name) if r.subject != api.STATUS[name].subject]
    assert sorted(e.subject for e in endpoints) == sorted(r.subject for r in routes)
    for endpoint in endpoints:
        route = api.BY_SUBJECT[endpoint.subject]
        hints = typing.get_type_hints(endpoint.handler)
        first = next(iter(inspect.signature(endpoint.handler).parameters))
        # What mypy checks through `bound`, checked again at run time.
        assert endpoint.request_type is route.request
        assert hints[first] is route.request, route.subject
        assert hints["return"] is route.reply, route.subject
        assert endpoint.access == route.access


def test_every_route_and_channel_is_declared_once() -> None:
    subjects = [r.subject for r in api.ROUTES] + [c.subject for c in api.CHANNELS]
    assert len(subjects) == len(set(subjects))
    assert set(api.BY_SUBJECT) == {r.subject for r in api.ROUTES}
    assert tuple(REGISTRY) == api.SERVICE_NAMES


def test_every_route_answers_the_request_layers_codes_and_guarded_ones_access_codes() -> None:
    for route in api.ROUTES:
        assert set(TRANSPORT_CODES) <= set(route.errors), route.subject
        guarded = {ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND} <= set(route.errors)
        assert guarded is not route.access.public, route.subject


def test_every_error_code_says_what_it_means_and_whether_a_retry_helps() -> None:
    for code in ErrorCode:
        assert len(code.meaning) > 20, code
        assert isinstance(code.retry, Retry)
    assert ErrorCode.UNAVAILABLE.retryable and not ErrorCode.BAD_REQUEST.retryable
    # Every code is one some subject may answer: none is declared for nothing.
    assert {c for r in api.ROUTES for c in r.errors} == set(ErrorCode)


@pytest.mark.parametrize("name", api.SERVICE_NAMES)
def test_every_code_a_handler_raises_by_name_is_declared_for_its_route(
    name: api.ServiceName,
) -> None:
    """A static check beside the live one (tests/support/baton_client.py asserts each refusal a
    test meets is declared): `ErrorCode.X` written in a handler's own body."""
    for endpoint in _served(name):
        source = inspect.getsource(endpoint.handler)
        raised = {ErrorCode[m] for m in re.findall(r"BatonError\(\s*ErrorCode\.([A-Z_]+)", source)}
        route = api.BY_SUBJECT[endpoint.subject]
        assert raised <= set(route.errors), (endpoint.subject, raised - set(route.errors))
