"""`baton simulate` (against a running Baton) and `baton demo` (Baton started for it).

The simulated parties call with tokens minted here: against a running Baton with the key it
verifies (BATON_AUTH_* in the environment, else the development secret of a local `baton up`);
in the demo with a fresh secret handed to the Baton it starts.

The texts go through the Baton's own provider bridge and the simulator it sends to, when it runs
them (`baton up --provider twilio-simulator` or `telnyx-simulator`; the demo starts one so),
else through the simulation's in-process stand-in (tools/cli/running_bridge.py finds which, from
the Baton).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nats.errors

from shared.contract import catalogue as api
from shared.contract.catalogue import SERVICE_NAMES, ServiceName
from shared.contract.errors import BatonError
from shared.contract.schemas.system import StatusRequest
from shared.domain.redaction import redacted
from shared.runtime.client import PATIENT, BatonClient
from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import add_data_dir, local_signer
from shared.runtime.commands.running_up import CliSettings, announcement, cli_settings
from shared.runtime.settings import SettingsError
from shared.runtime.tokens import KeyConfigError, TokenSigner
from tools.cli.client import cli_connection, waiting_policy
from tools.cli.provider_simulator import PROVIDER_SIMULATORS
from tools.cli.running_bridge import RealProviderError, running_services, simulator_link
from tools.devservers.ports import free_port, free_port_run
from tools.simulation.progress import ProgressLine
from tools.simulation.run import Report, render, simulate
from tools.simulation.scenario import Scenario

# Through the bridge, the number's 100 texts/s (a short code's) paces the 10,000 initials: on 2
# cores shared with other work (load 10 to 20) a run took 319 s, every invariant true.
DEMO = Scenario(contacts=10_000, texters=20, time_limit_seconds=480)
NO_PROVIDER = "none"


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = commands.add_parser(
        "simulate", help="drive a realistic campaign through a running Baton over NATS"
    )
    for field in dataclasses.fields(Scenario):
        flag = "--" + field.name.replace("_", "-")
        kind = float if field.type in ("float", "float | None") else int
        sim.add_argument(flag, type=kind, default=field.default)
    sim.add_argument("--json", action="store_true")
    sim.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    add_data_dir(sim)
    sim.set_defaults(run=run_simulate)
    demo = commands.add_parser(
        "demo",
        help="start Baton on its own fresh servers and run a small campaign through it (2-5 min)",
    )
    demo.add_argument("--json", action="store_true")
    demo.add_argument("--quiet", action="store_true", help="no live progress on stderr")
    demo.add_argument(
        "--provider",
        choices=(*PROVIDER_SIMULATORS, NO_PROVIDER),
        default=PROVIDER_SIMULATORS[0],
        help="the provider the demo's Baton sends to through its bridge (default: the Twilio "
        f"simulator); {NO_PROVIDER}: no bridge, the demo's own in-process one stands in",
    )
    demo.set_defaults(run=run_demo)


def _scenario(args: argparse.Namespace) -> Scenario:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(Scenario)}
    # `--release-after-minutes 0` switches Release Unhandled Replies off.
    values["release_after_minutes"] = values["release_after_minutes"] or None
    return Scenario(**values)


def _print_waiting_tasks() -> None:
    """Each task's chain of awaits, outermost first, to the line each one waits at."""
    for task in asyncio.all_tasks():
        print(f"-- task {task.get_name()}", file=sys.stderr)
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is None:
                print(f"   waiting on {awaited!r}", file=sys.stderr)
                break
            code = frame.f_code
            print(f"   {code.co_filename}:{frame.f_lineno} in {code.co_name}", file=sys.stderr)
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    sys.stderr.flush()


async def _simulate(
    settings: CliSettings, signer: TokenSigner, scenario: Scenario, quiet: bool, data_dir: Path
) -> Report:
    # SIGUSR1 prints where every task of the simulation waits: a test whose simulation ran past
    # its time asks for it before killing it (tests/support/baton_up.py finished_report).
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, _print_waiting_tasks)
    nc = await cli_connection(settings, "baton-simulate", reconnect_attempts=3)
    # Progress goes to stderr: stdout carries the report (or the JSON) alone.
    progress = None if quiet else ProgressLine(sys.stderr)
    link = None
    try:
        services = await running_services(nc, data_dir, settings.nats_url)
        link = await simulator_link(nc, data_dir, settings.nats_url)
        print(
            f"texts go through Baton's provider bridge to the simulator at {link.url}"
            if link is not None
            else "no provider bridge runs in this Baton: the simulation's own in-process bridge "
            "takes its texts (`baton up --provider twilio-simulator` or `telnyx-simulator` runs "
            "the real one)",
            file=sys.stderr,
            flush=True,
        )
        client = BatonClient(nc, timeout=5, retry=waiting_policy(settings))
        await _every_service_answers(client, services)
        return await simulate(
            nc, BatonClient(nc, timeout=10, retry=PATIENT), signer, scenario, progress, link
        )
    finally:
        if progress is not None:
            progress.close()
        if link is not None:
            await link.close()
        await nc.close()


async def _every_service_answers(client: BatonClient, services: tuple[ServiceName, ...]) -> None:
    """Before the campaign starts: each service listens (or NoServiceError, after the CLI's
    patience), so a Baton that is not there is reported at once, not as a stalled campaign."""
    for name in services:
        await client.call(api.STATUS[name], StatusRequest())


def _print(report: Report, as_json: bool) -> int:
    print(json.dumps(dataclasses.asdict(report), indent=2) if as_json else render(report))
    return exit_codes.OK if report.ok else exit_codes.FAILED


def run_simulate(args: argparse.Namespace) -> int:
    try:
        settings = cli_settings(args.data_dir)
        signer = local_signer(settings, args.data_dir)
    except (SettingsError, KeyConfigError) as exc:
        print(f"baton simulate: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        report = asyncio.run(
            _simulate(settings, signer, _scenario(args), args.quiet, args.data_dir)
        )
    except RealProviderError as exc:
        print(f"baton simulate: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except BatonError as refusal:
        # Setting up its campaign was refused: said as every command says it, no traceback
        # (a Baton whose bridge's account holds none of the simulation's numbers refuses them).
        print(f"baton simulate: {refusal.code}: {refusal.message}", file=sys.stderr)
        return exit_codes.REFUSED
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        where = redacted(settings.nats_url)
        print(f"baton simulate: cannot reach Baton over NATS at {where}: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    return _print(report, args.json)


def run_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="baton-demo-") as tmp:
        log = Path(tmp) / "up.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env["BATON_REAP_INTERVAL_SECONDS"] = "2"  # releases show up within the demo
        # A key of this demo's own: its Baton trusts only tokens minted here.
        secret = secrets.token_urlsafe(48)
        env["BATON_AUTH_SECRET"] = secret
        data_dir = Path(tmp) / "data"
        command = [
            sys.executable, "-m", "tools.cli.main", "up", "--data-dir", str(data_dir),
            "--pg-port", str(free_port()), "--nats-port", str(free_port()),
            "--metrics-base-port", str(free_port_run(len(SERVICE_NAMES))),
        ]  # fmt: skip
        if args.provider == NO_PROVIDER:
            print("starting Baton (Postgres, NATS, four services)...", flush=True)
        else:
            command += ["--provider", args.provider]
            print(
                f"starting Baton (Postgres, NATS, four services, and the provider bridge "
                f"sending to the {args.provider})...",
                flush=True,
            )
        with log.open("wb") as out:
            up = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "Baton is up" not in log.read_text():
                if up.poll() is not None or time.monotonic() > deadline:
                    print(
                        f"baton demo: Baton did not start:\n{log.read_text()[-3000:]}",
                        file=sys.stderr,
                    )
                    return exit_codes.DEPENDENCY
                time.sleep(0.2)
            print(f"running {DEMO.contacts:,} contacts with {DEMO.texters} texters...", flush=True)
            signer = TokenSigner.from_secret(secret)
            # Its own servers, as its `baton up` announced them (not this environment's).
            settings = CliSettings(nats_url=announcement(data_dir)["nats_url"])
            report = asyncio.run(_simulate(settings, signer, DEMO, args.quiet, data_dir))
            return _print(report, args.json)
        finally:
            up.send_signal(signal.SIGINT)
            up.wait(60)
