"""glibc keeps freed memory mapped once bna_zoo.cpu_memory (or the CLI) asks it to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# malloc 64 MiB, touch it, free it: how much of it is still resident (MiB), read off RSS.
_PROBE = """
import ctypes, ctypes.util
libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
page = __import__("os").sysconf("SC_PAGE_SIZE")
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * page
before = rss()
p = libc.malloc(64 << 20)
ctypes.memset(p, 1, 64 << 20)
libc.free(p)
print(KEPT, round((rss() - before) / 2**20))
"""

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not hasattr(os, "confstr")
    or "glibc" not in (os.confstr("CS_GNU_LIBC_VERSION") or ""),
    reason="glibc's allocator only",
)


def _probe(setup: str, env_value: str | None = None) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "BNA_ZOO_KEEP_MEMORY"}
    if env_value is not None:
        env["BNA_ZOO_KEEP_MEMORY"] = env_value
    out = subprocess.run([sys.executable, "-c", setup + _PROBE], env=env, capture_output=True,
                         text=True, check=True, cwd=ROOT)
    kept, mib = out.stdout.split()
    return kept, int(mib)


def test_keep_freed_memory_leaves_a_freed_block_resident() -> None:
    kept, mib = _probe("from bna_zoo.cpu_memory import keep_freed_memory\n"
                       "KEPT = keep_freed_memory()\n")
    assert kept == "True"
    assert mib >= 60  # the 64 MiB stayed mapped for the next allocation


def test_glibc_defaults_return_a_freed_block_and_the_variable_keeps_them() -> None:
    """The contrast that makes the test above a claim: by default the block is unmapped."""
    kept, mib = _probe("KEPT = None\n")
    assert mib < 8
    kept, mib = _probe("from bna_zoo.cpu_memory import keep_freed_memory\n"
                       "KEPT = keep_freed_memory()\n", env_value="0")
    assert (kept, mib < 8) == ("False", True)


def test_cli_keeps_freed_memory_without_importing_torch() -> None:
    kept, mib = _probe("import sys, bna_zoo.cli\nKEPT = 'torch' not in sys.modules\n")
    assert (kept, mib >= 60) == ("True", True)
