"""The provider simulators' control routes (not a provider's API): how `baton simulate`, in a
process of its own, plays the contacts through a simulator beside `baton up --provider
...-simulator` (tools/simulation/simulator_link.py), whichever provider it simulates.

- `GET /readyz`: at the path every Baton process answers it, so `baton up` waits for it alike.
- `GET /simulator/arrivals?From=`: the texts the simulator accepted from one number, oldest
  first: `{"arrivals": [{"sid", "to", "from"}]}` (`sid`: the provider's id for it).
- `POST /simulator/contact-texts` (form `From`, `To`, `Body`, and `MessageSid` to send one
  again): the contact's text posted now to the bridge's webhook as the provider posts it; 201
  `{"sid", "webhook_status"}` when the webhook answered 2xx, else 502 with the status it
  answered (or 504 when it did not answer within the provider's patience).

Each is called with the simulated account's own credentials, as its API is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiohttp import ClientError, web

CONTROL_READY = "/readyz"
CONTROL_ARRIVALS = "/simulator/arrivals"
CONTROL_CONTACT_TEXTS = "/simulator/contact-texts"


class Played(Protocol):
    """A simulator the control routes play: its messaging webhook, its accepted texts, its
    credentials."""

    messages_url: str

    def accepted_from(self, number: str | None) -> list[tuple[str, str, str | None]]:
        """(provider id, to, from) of each text accepted from `number` (any: None), oldest
        first."""
        ...

    async def contact_text(self, from_: str, to: str, body: str, sid: str = "") -> tuple[str, int]:
        """A contact's text to the messaging webhook: its id, and the status answered."""
        ...

    def control_authorized(self, request: web.Request) -> bool: ...


def add_control_routes(
    app: web.Application, simulator: Played, refused: Callable[[], web.Response]
) -> None:
    """The three routes, answering `refused()` (the provider's own 401) to other credentials."""

    async def ready(request: web.Request) -> web.Response:
        return web.Response(text="ready")

    async def arrivals(request: web.Request) -> web.Response:
        if not simulator.control_authorized(request):
            return refused()
        found = simulator.accepted_from(request.query.get("From"))
        return web.json_response(
            {"arrivals": [{"sid": sid, "to": to, "from": from_} for sid, to, from_ in found]}
        )

    async def contact_texts(request: web.Request) -> web.Response:
        if not simulator.control_authorized(request):
            return refused()
        form = await request.post()
        if not simulator.messages_url:
            return web.json_response({"error": "no messaging webhook is configured"}, status=400)
        try:
            sid, status = await simulator.contact_text(
                str(form.get("From", "")),
                str(form.get("To", "")),
                str(form.get("Body", "")),
                str(form.get("MessageSid", "")),
            )
        except (TimeoutError, OSError, ClientError):
            return web.json_response({"webhook_status": None}, status=504)
        answer = {"sid": sid, "webhook_status": status}
        return web.json_response(answer, status=201 if 200 <= status < 300 else 502)

    app.router.add_get(CONTROL_READY, ready)
    app.router.add_get(CONTROL_ARRIVALS, arrivals)
    app.router.add_post(CONTROL_CONTACT_TEXTS, contact_texts)
