"""`python -m services NAME`: run one of Baton's services in the foreground."""

import sys

from shared.contract.catalogue import SERVICE_NAMES

if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SERVICE_NAMES:
        print(f"usage: python -m services {{{','.join(SERVICE_NAMES)}}}", file=sys.stderr)
        raise SystemExit(2)
    # Imported after the check: a usage error needs none of the services' modules.
    from services.registry import run

    run(sys.argv[1])
