"""Processes that die with the process that started them.

`baton up` starts Postgres, NATS and the four services in sessions of their own (so a Ctrl-C
meant for it does not stop them out of order). If `baton up` itself is killed (`kill -9`, the
OOM killer), they would live on unsupervised, holding their ports and data folders, and the next
`baton up` would find its ports taken. Linux's parent-death signal ends each of them instead.
Elsewhere nothing is armed.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def dies_with_parent(sent: signal.Signals) -> Callable[[], None] | None:
    """A `preexec_fn` for `subprocess.Popen`: the child gets `sent` when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sent), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sent)

    return arm
