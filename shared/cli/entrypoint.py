"""The container image's entry point: one argument names what to run."""

from __future__ import annotations

import sys

from shared.cli.main import main as baton_main
from shared.cli.supervisor import SERVICE_NAMES


def main() -> int:
    args = sys.argv[1:]
    if len(args) == 1 and args[0] in SERVICE_NAMES:
        return baton_main(["service", args[0]])
    return baton_main(args)


if __name__ == "__main__":
    sys.exit(main())
