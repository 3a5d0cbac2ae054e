"""The Twilio simulator as a process of its own, beside `baton up --provider twilio-simulator`.

    python -m tools.simulation.simulator_process --port P --messages-url URL

The account is the one the bridge is given: BATON_TWILIO_ACCOUNT_SID and
BATON_TWILIO_AUTH_TOKEN_FILE (the bridge's own names; the token stays out of the command line).
It holds every number a simulation draws (tools/simulation/scenario.py), sends Twilio's status
callbacks for each text it accepts, and posts contacts' texts to `--messages-url` when `baton
simulate` asks (its control routes). It runs until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from pathlib import Path

from tools.simulation.scenario import every_sending_number
from tools.simulation.twilio_simulator import TwilioSimulator

ACCOUNT_VARIABLE = "BATON_TWILIO_ACCOUNT_SID"
TOKEN_FILE_VARIABLE = "BATON_TWILIO_AUTH_TOKEN_FILE"


def simulator_from_environment(messages_url: str) -> TwilioSimulator:
    token = Path(os.environ[TOKEN_FILE_VARIABLE]).read_text().strip()
    return TwilioSimulator(
        account_sid=os.environ[ACCOUNT_VARIABLE],
        auth_token=token,
        held_numbers=every_sending_number(),
        messages_url=messages_url,
        reports_statuses=True,
    )


async def serve(simulator: TwilioSimulator, port: int) -> None:
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
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--messages-url", required=True, help="the bridge's /twilio/messages")
    args = parser.parse_args(argv)
    asyncio.run(serve(simulator_from_environment(args.messages_url), args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
