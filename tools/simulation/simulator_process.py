"""A provider simulator as a process of its own, beside `baton up --provider twilio-simulator`
(or `telnyx-simulator`).

    python -m tools.simulation.simulator_process --provider twilio --port P --messages-url URL
    python -m tools.simulation.simulator_process --provider telnyx --port P --messages-url URL \
        --signing-seed-file FILE

The account is the one the bridge is given, read by the bridge's own names so that no secret is
on the command line: Twilio's BATON_TWILIO_ACCOUNT_SID and BATON_TWILIO_AUTH_TOKEN_FILE;
Telnyx's BATON_TELNYX_API_KEY_FILE, and the seed of the key it signs webhooks with (the bridge
has the public half). It holds every number a simulation draws (tools/simulation/scenario.py),
sends the provider's status events for each text it accepts, and posts contacts' texts to
`--messages-url` when `baton simulate` asks (its control routes). It runs until SIGTERM or
SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from nacl.signing import SigningKey

from tools.simulation.http_stub import StubServer
from tools.simulation.scenario import every_sending_number
from tools.simulation.telnyx_simulator import TelnyxSimulator
from tools.simulation.twilio_simulator import TwilioSimulator

ACCOUNT_VARIABLE = "BATON_TWILIO_ACCOUNT_SID"
TOKEN_FILE_VARIABLE = "BATON_TWILIO_AUTH_TOKEN_FILE"
TELNYX_KEY_FILE_VARIABLE = "BATON_TELNYX_API_KEY_FILE"


def _read(path: str) -> str:
    return Path(path).read_text().strip()


def simulator_from_environment(messages_url: str) -> TwilioSimulator:
    return TwilioSimulator(
        account_sid=os.environ[ACCOUNT_VARIABLE],
        auth_token=_read(os.environ[TOKEN_FILE_VARIABLE]),
        held_numbers=every_sending_number(),
        messages_url=messages_url,
        reports_statuses=True,
    )


def telnyx_from_environment(messages_url: str, signing_seed_file: str) -> TelnyxSimulator:
    return TelnyxSimulator(
        api_key=_read(os.environ[TELNYX_KEY_FILE_VARIABLE]),
        signing_key=SigningKey(bytes.fromhex(_read(signing_seed_file))),
        held_numbers=every_sending_number(),
        messages_url=messages_url,
        reports_statuses=True,
    )


async def serve(simulator: StubServer, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await simulator.start(port)
    try:
        await stop.wait()
    finally:
        await simulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--provider", choices=("twilio", "telnyx"), default="twilio")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--messages-url", required=True, help="the bridge's /twilio/messages or /telnyx/webhooks"
    )
    parser.add_argument("--signing-seed-file", help="telnyx: the webhook signing key's seed")
    args = parser.parse_args(argv)
    simulator: StubServer
    if args.provider == "telnyx":
        if not args.signing_seed_file:
            parser.error("--provider telnyx needs --signing-seed-file")
        simulator = telnyx_from_environment(args.messages_url, args.signing_seed_file)
    else:
        simulator = simulator_from_environment(args.messages_url)
    asyncio.run(serve(simulator, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
