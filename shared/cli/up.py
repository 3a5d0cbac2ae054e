"""`baton up`: the whole system on this machine, stopped cleanly by Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import asyncpg

from shared.cli import exit_codes
from shared.cli.local_stack import start_stack
from shared.cli.supervisor import service_processes, wait_ready
from shared.devservers.postgres import DevServerError
from shared.migrations import migrate_database

# A service that keeps dying is restarted at most this often.
RESTART_BACKOFF_SECONDS = 2.0


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "up",
        help="start Postgres, NATS and the four services locally",
        description="Start the whole system. Postgres and NATS come from BATON_DATABASE_URL and "
        "BATON_NATS_URL when set, otherwise from the pip-shipped servers, with data kept under "
        "--data-dir. Ctrl-C stops everything.",
    )
    parser.add_argument("--data-dir", type=Path, default=Path(".baton"))
    parser.add_argument("--pg-port", type=int, default=55432, help="port of the local Postgres")
    parser.add_argument("--nats-port", type=int, default=54222, help="port of the local NATS")
    parser.add_argument(
        "--metrics-base-port", type=int, default=9101, help="assigner's port; the others follow"
    )
    parser.add_argument("--ready-timeout", type=float, default=90.0)
    parser.set_defaults(run=run)


def print_line(text: str) -> None:
    print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

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
        processes = service_processes(stack.database_url, stack.nats_url, args.metrics_base_port)
        for proc in processes:
            proc.start()
        failed = wait_ready(processes, args.ready_timeout)
        if failed:
            print(f"baton up: not ready: {', '.join(failed)}", file=sys.stderr)
            return exit_codes.FAILED
        for proc in processes:
            print_line(f"{proc.name:<9} ready   {proc.metrics_url}")
        print_line("Baton is up. Ctrl-C stops it.")
        while not stopping:
            for proc in processes:
                code = proc.exited()
                if (
                    code is not None
                    and time.monotonic() - proc.started_at > RESTART_BACKOFF_SECONDS
                ):
                    print_line(f"{proc.name} exited with {code}; restarting")
                    proc.start()
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
