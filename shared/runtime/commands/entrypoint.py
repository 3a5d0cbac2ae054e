"""The container image's entry point: one argument names what to run."""

from __future__ import annotations

import sys

from shared.contract.catalogue import SERVICE_NAMES
from tools.cli.main import main as baton_main


def main() -> int:
    """A service name runs that service in this process (PID 1's signals reach it); anything
    else is a `baton` command (`migrate`, `simulate`, ...)."""
    args = sys.argv[1:]
    if len(args) == 1 and args[0] in SERVICE_NAMES:
        from services.registry import run  # the services' modules only when running one

        run(args[0])
        return 0
    return baton_main(args)


if __name__ == "__main__":
    sys.exit(main())
