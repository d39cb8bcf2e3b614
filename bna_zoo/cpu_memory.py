"""glibc's allocator set to keep freed memory, for training on CPU (what ``bna-zoo`` does).

A training step allocates and frees the same large activations every step. With glibc's
defaults, blocks above its mmap threshold (at most 32 MiB) are unmapped when freed and the heap
is trimmed when its free top grows, so the next step page-faults the same memory in again, often
in 4 KiB pages: one [480, 16, 32, 32] gradient of dvsgesture-cnn took 25 ms to write, 2.5 ms into
memory already mapped. Keeping freed memory (no mmap for blocks, no trim) makes every step after
the first reuse mapped memory: nmnist-cnn's NA step 162-175 -> 140-142 ms on 2 cores
(benchmarks/README.md). The price: the process keeps its peak heap until it exits.

There is no setting in torch for this (its CPU allocator is malloc), and the ``MALLOC_*``
environment variables act only when set before the process starts, so it calls ``mallopt``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

#: mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
#: the largest trim threshold mallopt takes (an int): the heap is never trimmed in practice
_NEVER = 2**31 - 1
#: set to 0 to leave glibc's allocator as it is
ENV = "BNA_ZOO_KEEP_MEMORY"


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve every block from its heap and never return freed memory.

    Returns:
        Whether the settings were applied: ``False`` off Linux/glibc (musl, macOS, Windows have
        no such knobs), when ``BNA_ZOO_KEEP_MEMORY=0``, or when ``mallopt`` refused.
    """
    if os.environ.get(ENV, "1").strip() == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        _ = libc.gnu_get_libc_version  # glibc only: musl's mallopt does nothing
    except (OSError, AttributeError):
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # mallopt returns 1 on success
    return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER))
