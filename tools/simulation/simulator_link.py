"""`baton simulate`'s side of the provider simulator beside a `baton up --provider
twilio-simulator` (or `telnyx-simulator`): its control routes (tools/simulation/
control_routes.py), called with the simulated account's credentials. Through it the simulation's
contacts text Baton (the simulator posts each text, signed, to the bridge's webhook) and the run
counts what reached the provider."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from shared.runtime.backoff import Backoff
from tools.simulation.control_routes import CONTROL_ARRIVALS, CONTROL_CONTACT_TEXTS

# Twilio's wait for a webhook's answer (15 s), the longer of the two providers' (Telnyx: 2 s).
from tools.simulation.twilio_simulator import WEBHOOK_TIMEOUT_SECONDS

# How long a contact's text is posted again while the bridge does not take it: a STOP is not
# given up on after one busy moment (a real bridge has a fallback URL as well), as a texter's app
# rides out a service restart (shared/runtime/client.py's PATIENT).
WEBHOOK_PATIENCE_SECONDS = 120.0


def _worth_again(status: int, answered: int | None) -> bool:
    """Unanswered (504), or answered 5xx or 408 by the bridge: sent again. A refusal (403, a
    bad signature) would be refused again."""
    return status == 504 or (answered is not None and (answered >= 500 or answered == 408))


class ContactTextRefusedError(RuntimeError):
    """The bridge did not answer a contact's text 2xx: the text did not reach Baton."""


@dataclass
class SimulatorLink:
    url: str
    # The simulated account's credentials, as its provider's API takes them (Twilio: Basic with
    # the SID and token; Telnyx: Bearer with the API key).
    authorization: str = field(repr=False)
    # A new message id as the provider makes them (a contact's text keeps its id when sent again).
    new_id: Callable[[], str] = field(repr=False)
    _session: aiohttp.ClientSession | None = field(default=None, repr=False)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers={"Authorization": self.authorization},
                # Past the simulator's own wait for the webhook (Twilio's 15 s).
                timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS + 5),
            )
        return self._session

    async def contact_text(self, from_: str, to: str, body: str) -> str:
        """A contact (`from_`) texts `to`; the message's id once the bridge took it. A webhook
        that failed or went unanswered is sent again under the same id, as Twilio's connection
        overrides (`#rc=`) and Telnyx's retries do: the bridge keeps one message per id."""
        form = {"From": from_, "To": to, "Body": body, "MessageSid": self.new_id()}
        backoff = Backoff(base=0.5, cap=5.0)
        give_up = time.monotonic() + WEBHOOK_PATIENCE_SECONDS
        while True:
            try:
                found, status = await self._post(CONTROL_CONTACT_TEXTS, form)
            except (TimeoutError, aiohttp.ClientError) as exc:
                found, status = {"error": type(exc).__name__}, 504
            if status == 201:
                return str(found["sid"])
            answered = found.get("webhook_status")
            if not _worth_again(status, answered) or time.monotonic() > give_up:
                raise ContactTextRefusedError(
                    f"the bridge answered a contact's text with HTTP {answered}"
                    if answered
                    else f"the provider simulator could not deliver a contact's text: {found}"
                )
            await backoff.wait()

    async def _post(self, path: str, form: dict[str, str]) -> tuple[dict[str, Any], int]:
        async with self._client().post(self.url + path, data=form) as answer:
            return await answer.json(), answer.status

    async def sids_from(self, number: str) -> list[str]:
        """The provider's ids of every text the simulator accepted from `number`, oldest
        first."""
        url = self.url + CONTROL_ARRIVALS
        async with self._client().get(url, params={"From": number}) as answer:
            answer.raise_for_status()
            found: dict[str, Any] = await answer.json()
        return [str(arrival["sid"]) for arrival in found["arrivals"]]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
