"""Each service starts on real Postgres and NATS, answers its subjects, and survives bad input."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import asyncpg
import pytest
from nats.aio.client import Client as NatsClient
from nats.errors import MaxPayloadError

from services.registry import DEFINITIONS
from shared.contract.catalogue import ROUTES, status_route
from shared.runtime.endpoints import Endpoint
from shared.runtime.service import ServiceDefinition, run_service
from shared.runtime.settings import MAX_PAYLOAD_BYTES, CommonSettings
from tests.support.baton_client import OPERATOR, TEST_AUTH_SECRET, Caller, auth_headers
from tests.support.services import running
from tools.devservers.ports import free_port, port_accepts

pytestmark = pytest.mark.integration

MALFORMED = [b"not json", b"", b"[1, 2]", b'{"unexpected_field": true}', b"\xff\xfe"]


def _subjects(definition_name: str) -> list[tuple[str, Caller]]:
    """Each subject with a caller it lets past the token check (so the payload is what fails)."""
    return [(e.subject, None if e.access.public else OPERATOR if e.access.role is None else 1)
            for e in ROUTES if e.service == definition_name]  # fmt: skip


@pytest.mark.parametrize("definition", DEFINITIONS, ids=lambda d: d.name)
async def test_service_starts_and_reports_status(
    definition, settings: CommonSettings, nc: NatsClient
) -> None:
    async with running(definition, settings):
        reply = await nc.request(status_route(definition.name).subject, b"{}", timeout=5)
        body = json.loads(reply.data)
        assert body["ok"] is True
        assert body["data"]["service"] == definition.name
        assert body["data"]["schema_version"] >= 1


# The services with subjects of their own (the bridge has only its status, checked above).
@pytest.mark.parametrize(
    "definition", [d for d in DEFINITIONS if _subjects(d.name)], ids=lambda d: d.name
)
async def test_malformed_requests_on_every_subject_get_bad_request(
    definition, settings: CommonSettings, nc: NatsClient
) -> None:
    async with running(definition, settings):
        subjects = _subjects(definition.name)
        assert subjects
        for subject, caller in subjects:
            for payload in MALFORMED:
                reply = await nc.request(subject, payload, timeout=5, headers=auth_headers(caller))
                body = json.loads(reply.data)
                assert body["ok"] is False, (subject, payload)
                assert body["error"]["code"] == "bad_request", (subject, payload, body)
        # ...and it keeps serving.
        reply = await nc.request(status_route(definition.name).subject, b"{}", timeout=5)
        assert json.loads(reply.data)["ok"] is True


async def test_oversized_request_is_refused(settings: CommonSettings, nc: NatsClient) -> None:
    definition = DEFINITIONS[0]
    # NATS carries no more than the services take (tests/unit/test_nats_max_payload.py), so the
    # client learns of the limit before sending; a service set to take less refuses the rest.
    with pytest.raises(MaxPayloadError):
        await nc.request(status_route(definition.name).subject, b" " * (MAX_PAYLOAD_BYTES + 1))
    async with running(definition, replace(settings, max_request_bytes=4096)):
        reply = await nc.request(status_route(definition.name).subject, b" " * 5000, timeout=5)
        body = json.loads(reply.data)
        assert body["error"]["code"] == "payload_too_large"


async def test_a_failed_start_leaves_nothing_open(settings: CommonSettings) -> None:
    """A service that fails after its probes, pool and NATS connection started closes all
    three: the probe port is free again and no connection of its pool is left in Postgres."""

    def failing_endpoints(_: object) -> list[Endpoint[Any]]:
        raise RuntimeError("an endpoint could not be built")

    port = free_port()
    broken = ServiceDefinition(
        name="assigner", settings_type=CommonSettings, endpoints=failing_endpoints
    )
    own = replace(
        settings,
        metrics_port=port,
        metrics_host="127.0.0.1",
        db_pool_min=3,
        auth_secret=TEST_AUTH_SECRET,
    )
    with pytest.raises(RuntimeError, match="could not be built"):
        await run_service(broken, own, stop=asyncio.Event())
    assert not port_accepts(port), "the probe server still listens"
    conn = await asyncpg.connect(settings.database_url)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    assert left == 0, f"{left} connections of the failed service's pool are still open"


async def test_a_service_refuses_settings_of_another_type(settings: CommonSettings) -> None:
    """Each definition names its settings type; handed the common settings, a service refuses
    to start rather than run on defaults it was never given."""
    (assigner,) = [d for d in DEFINITIONS if d.name == "assigner"]
    with pytest.raises(TypeError, match="AssignerSettings"):
        await run_service(assigner, settings, stop=asyncio.Event())
