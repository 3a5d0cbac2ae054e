"""A small client for tests: send a request, get the data or the BatonError."""

from __future__ import annotations

from typing import Any

import msgspec
from nats.aio.client import Client as NatsClient

from shared.envelope import decode_reply, unwrap
from shared.errors import BatonError


class Baton:
    def __init__(self, nc: NatsClient, timeout: float = 10.0) -> None:
        self.nc = nc
        self.timeout = timeout

    async def call(self, subject: str, **payload: Any) -> Any:
        reply = await self.nc.request(subject, msgspec.json.encode(payload), timeout=self.timeout)
        return unwrap(reply.data)

    async def error(self, subject: str, **payload: Any) -> BatonError:
        """Send a request that must be refused; return the refusal."""
        reply = await self.nc.request(subject, msgspec.json.encode(payload), timeout=self.timeout)
        decoded = decode_reply(reply.data)
        assert not decoded.ok, f"{subject} succeeded but should have been refused: {decoded.data}"
        assert decoded.error is not None
        return BatonError(decoded.error.code, decoded.error.message, decoded.error.details)


async def campaign_with_texters(
    baton: Baton, texters: int, contacts: int, *, batch_size: int = 300, self_assign: bool = True
) -> dict[str, Any]:
    """An active campaign with `contacts` Unassigned conversations and `texters` texters."""
    org = (await baton.call("baton.admin.org.create", name="Org"))["org_id"]
    owner = (await baton.call("baton.admin.user.create", org_id=org, name="Owner", role="owner"))[
        "user_id"
    ]
    texter_ids = [
        (await baton.call("baton.admin.user.create", actor_id=owner, org_id=org,
                          name=f"Texter {i}", role="texter"))["user_id"]
        for i in range(texters)
    ]  # fmt: skip
    campaign = (await baton.call("baton.admin.campaign.create", actor_id=owner, org_id=org,
                                 title="Campaign"))["campaign_id"]  # fmt: skip
    await baton.call("baton.admin.campaign.update", actor_id=owner, campaign_id=campaign,
                     status="active", self_assign=self_assign, batch_size=batch_size)  # fmt: skip
    if texter_ids:
        await baton.call("baton.admin.campaign.texters.add", actor_id=owner, campaign_id=campaign,
                         user_ids=texter_ids)  # fmt: skip
    for start in range(0, contacts, 5000):
        rows = [{"phone": f"+1415555{n:04d}" if n < 10000 else f"+1650555{n - 10000:04d}"}
                for n in range(start, min(contacts, start + 5000))]  # fmt: skip
        result = await baton.call("baton.admin.contacts.import", actor_id=owner,
                                  campaign_id=campaign, contacts=rows)  # fmt: skip
        assert result["rejected"] == [], result["rejected"][:3]
    return {"org": org, "owner": owner, "texters": texter_ids, "campaign": campaign}
