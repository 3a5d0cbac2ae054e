"""`baton simulate`'s side of the provider simulator beside a `baton up --provider
twilio-simulator`: its control routes (shared/simulation/twilio_simulator.py), called with the
simulated account's credentials. Through it the simulation's contacts text Baton (the simulator
posts each text, signed, to the bridge's webhook) and the run counts what reached "Twilio"."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from shared.simulation.twilio_simulator import CONTROL_ARRIVALS, CONTROL_CONTACT_TEXTS


class ContactTextRefusedError(RuntimeError):
    """The bridge did not answer a contact's text 2xx: the text did not reach Baton."""


@dataclass
class SimulatorLink:
    url: str
    account_sid: str
    auth_token: str = field(repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            pair = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            self._session = aiohttp.ClientSession(
                headers={"Authorization": f"Basic {pair}"},
                timeout=aiohttp.ClientTimeout(total=30),
            )
        return self._session

    async def contact_text(self, from_: str, to: str, body: str) -> str:
        """A contact (`from_`) texts `to`; the message's SID once the bridge took it."""
        form = {"From": from_, "To": to, "Body": body}
        async with self._client().post(self.url + CONTROL_CONTACT_TEXTS, data=form) as answer:
            found: dict[str, Any] = await answer.json()
        if answer.status != 201:
            raise ContactTextRefusedError(
                f"the bridge answered a contact's text with HTTP {found.get('webhook_status')}"
                if "webhook_status" in found
                else f"the provider simulator refused a contact's text: {found}"
            )
        return str(found["sid"])

    async def sids_from(self, number: str) -> list[str]:
        """The SIDs of every text the simulator accepted from `number`, oldest first."""
        url = self.url + CONTROL_ARRIVALS
        async with self._client().get(url, params={"From": number}) as answer:
            answer.raise_for_status()
            found: dict[str, Any] = await answer.json()
        return [str(arrival["sid"]) for arrival in found["arrivals"]]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
