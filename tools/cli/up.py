"""`baton up`: the whole system on this machine, stopped cleanly by Ctrl-C.

Services refuse to start without a key to verify tokens with. When the environment gives them
none, `baton up` makes a development secret under --data-dir once and keeps using it, so the
tokens `baton token` and `--as` mint from the same file stay valid across restarts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import asyncpg

from shared.runtime.commands import exit_codes
from shared.runtime.commands.credentials import (
    DEFAULT_DATA_DIR,
    ensure_dev_secret,
    services_have_a_key,
)
from shared.runtime.commands.running_up import FolderInUseError, announced, one_up_per_folder
from shared.runtime.deployed import PROVIDER_VARIABLE, bridge_configured
from shared.runtime.migrations import migrate_database
from tools.cli.local_stack import start_stack
from tools.cli.provider_simulator import (
    PROVIDER_SIMULATORS,
    ProviderConflictError,
    ProviderSimulator,
    simulator_account,
)
from tools.cli.supervisor import Restarter, service_processes, wait_ready
from tools.devservers.ports import free_port
from tools.devservers.postgres import DevServerError


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "up",
        help="start Postgres, NATS and the four services locally, and the provider bridge when "
        "one is configured (BATON_BRIDGE_PROVIDER, or --provider twilio-simulator or "
        "telnyx-simulator)",
        description="Start the whole system. Postgres and NATS come from BATON_DATABASE_URL and "
        "BATON_NATS_URL when set, otherwise from the pip-shipped servers, with data kept under "
        "--data-dir. Ctrl-C stops everything.",
    )
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--pg-port", type=int, default=55432, help="port of the local Postgres")
    parser.add_argument("--nats-port", type=int, default=54222, help="port of the local NATS")
    parser.add_argument(
        "--metrics-base-port", type=int, default=9101, help="assigner's port; the others follow"
    )
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.add_argument(
        "--provider",
        choices=PROVIDER_SIMULATORS,
        help="run the provider bridge against a simulated provider started beside Baton: each "
        "text takes every step a production text takes, to simulated phones, and `baton "
        "simulate` / `baton demo` go through it",
    )
    parser.add_argument(
        "--webhook-port", type=int, default=0, help="with --provider: the bridge's webhook "
        "listener (default: a free port)",
    )  # fmt: skip
    parser.add_argument(
        "--simulator-port", type=int, default=0, help="with --provider: the simulated "
        "provider's API (default: a free port)",
    )  # fmt: skip
    parser.set_defaults(run=run)


def print_line(text: str) -> None:
    print(text, flush=True)


def service_keys(data_dir: Path) -> dict[str, str]:
    """What the services verify tokens with: the environment's key, else the development secret."""
    if services_have_a_key(os.environ):
        print_line("tokens: the services verify with the BATON_AUTH_* key of this environment")
        return {}
    path = ensure_dev_secret(data_dir).resolve()
    print_line(f"tokens: the services verify with the development secret in {path}")
    return {"BATON_AUTH_SECRET_FILE": str(path)}


def token_hints(data_dir: Path) -> list[str]:
    """How to call the Baton just started: commands find its servers through `data_dir`."""
    where = "" if data_dir == DEFAULT_DATA_DIR else f" --data-dir {data_dir}"
    return [
        f"get a token: baton token --operator{where}   (creates organizations, first owners)",
        f"             baton token --user 1{where}     (acts as user 1)",
        f"or act directly: baton org create NAME --as operator{where}",
    ]


def run(args: argparse.Namespace) -> int:
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    try:
        with one_up_per_folder(args.data_dir):
            return _run(args, lambda: stopping)
    except FolderInUseError as exc:
        print(f"baton up: {exc}", file=sys.stderr)
        return exit_codes.USAGE


def provider_simulator(args: argparse.Namespace) -> ProviderSimulator | None:
    """The simulated provider `--provider` asks for, on its ports; None without the flag."""
    if not args.provider:
        if not bridge_configured():
            print_line(
                "provider bridge: none (BATON_BRIDGE_PROVIDER unset): `baton simulate` stands in "
                "for it; `baton up --provider twilio-simulator` (or telnyx-simulator) runs it "
                "against a simulator"
            )
        return None
    if bridge_configured():
        raise ProviderConflictError(
            f"{PROVIDER_VARIABLE} is set (a real provider's bridge): unset it to run the bridge "
            f"against --provider {args.provider}"
        )
    return ProviderSimulator(
        simulator_account(args.data_dir, args.provider.removesuffix("-simulator")),
        args.simulator_port or free_port(),
        args.webhook_port or free_port(),
    )


def _run(args: argparse.Namespace, stop_requested: Callable[[], bool]) -> int:
    try:
        keys = service_keys(args.data_dir)
        simulator = provider_simulator(args)
    except ProviderConflictError as exc:
        print(f"baton up: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    except OSError as exc:
        print(f"baton up: cannot write the development secret: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    try:
        stack = start_stack(args.data_dir, args.pg_port, args.nats_port)
    except (DevServerError, OSError, TimeoutError) as exc:
        print(f"baton up: could not start a server: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    for line in stack.started:
        print_line(f"started {line}")

    processes = []
    try:
        applied = asyncio.run(migrate_database(stack.database_url))
        print_line(f"migrations applied: {applied or 'none pending'}")
        bridge_env = {} if simulator is None else simulator.bridge_env()
        processes = service_processes(
            stack.database_url, stack.nats_url, args.metrics_base_port, {**keys, **bridge_env}
        )
        if simulator is not None:
            processes.insert(0, simulator.process(os.environ))  # before the bridge calls it
        for proc in processes:
            proc.start()
        failed = wait_ready(processes, args.ready_timeout)
        if failed:
            print(f"baton up: not ready: {', '.join(failed)}", file=sys.stderr)
            return exit_codes.FAILED
        for proc in processes:
            if simulator is not None and proc.name == simulator.name:
                print_line(
                    f"{proc.name} ready   {simulator.url} (account "
                    f"{simulator.account.label}; calls the bridge at "
                    f"{simulator.webhooks_url})"
                )
            else:
                print_line(f"{proc.name:<9} ready   {proc.metrics_url}")
        if keys:
            for line in token_hints(args.data_dir):
                print_line(line)
        restarter = Restarter({**stack.servers(), **{p.name: p for p in processes}}, print_line)
        # Announced before "Baton is up", so a script that waits for that line finds the servers.
        configured = os.environ.get(PROVIDER_VARIABLE, "").strip()
        with announced(
            args.data_dir,
            nats_url=stack.nats_url,
            database_url=stack.database_url,
            bridge=simulator.provider if simulator else configured,
            simulator_url=simulator.url if simulator else "",
        ):
            print_line("Baton is up. Ctrl-C stops it.")
            while not stop_requested():
                restarter.check()
                time.sleep(0.2)
        print_line("stopping")
        return exit_codes.OK
    except (OSError, asyncpg.PostgresError) as exc:
        print(f"baton up: {exc}", file=sys.stderr)
        return exit_codes.DEPENDENCY
    finally:
        for proc in processes:
            proc.terminate()
        for proc in processes:
            proc.wait(30)
        stack.stop()
