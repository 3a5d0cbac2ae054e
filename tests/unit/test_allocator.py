"""shared/runtime/allocator.py: freed large buffers go back to the system, in a process of their own
(an allocator's state is the process's whole history)."""

from __future__ import annotations

import subprocess
import sys

# 16 MiB mapped and freed raises glibc's default threshold above 2 MiB; ten 2 MiB buffers then
# come from the heap. Prints the resident MiB before, while they are held, after they are freed.
SCRIPT = """
import sys
from shared.runtime.allocator import return_large_buffers
def resident():
    return [int(l.split()[1]) // 1024 for l in open("/proc/self/status") if l.startswith("VmRSS")][0]
if sys.argv[1] == "fixed":
    assert return_large_buffers()
big = b"x" * (16 * 2**20)
del big
before = resident()
buffers = [b"x" * (2 * 2**20) for _ in range(10)]
held = resident()
del buffers
print(before, held, resident())
"""


def _resident(mode: str) -> tuple[int, int, int]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    ).stdout
    before, held, after = (int(n) for n in out.split())
    return before, held, after


def test_freed_large_buffers_are_given_back_once_the_thresholds_are_fixed() -> None:
    before, held, after = _resident("fixed")
    assert held - before >= 18, (before, held, after)  # the buffers were resident
    assert after - before <= 4, (before, held, after)


def test_without_it_the_heap_keeps_them() -> None:
    """The cause, as glibc behaves by default: what the soak saw grow."""
    before, held, after = _resident("default")
    assert after - before >= 15, (before, held, after)
