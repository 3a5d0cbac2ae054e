"""glibc's malloc told to give large buffers back to the system when they are freed.

By default glibc raises its mmap threshold each time a large block it had mapped is freed (up to
32 MiB), so later buffers of that size come from the heap instead; freed there, they stay in the
process, between longer-lived small objects. A service that fetches a thousand messages at a time
grew that way by about 1 MiB a minute for its whole run, while the memory Python itself held did
not grow (tracemalloc, issue 29's soak). A fixed threshold keeps every block of 128 KiB or more
mapped on its own, returned when freed, and the heap's free top is given back above 256 KiB: the
same run of inbound then grew by less than half as much. Setting a threshold also turns off the
raising (glibc mallopt(3)). Where the C library is not glibc, nothing is changed.
"""

from __future__ import annotations

import ctypes

# mallopt(3)'s parameters (glibc malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's own starting value, kept from then on
TRIM_THRESHOLD_BYTES = 256 * 1024


def return_large_buffers() -> bool:
    """Fix the thresholds above; whether the C library took them (False: not glibc)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
