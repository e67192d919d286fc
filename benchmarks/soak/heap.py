"""Where a process's memory is, in figures a soak run can compare between two moments: glibc's
heap (``mallinfo2``), Python's small-object allocator (``sys._debugmallocstats``) and the
resident set by kind of mapping (``/proc/self/smaps``).

RSS alone cannot tell a leak (memory in use growing) from fragmentation (memory free but kept:
glibc's ``fordblks``, pymalloc's free pools and blocks) or from pages of the interpreter's
files touched for the first time (``rss_file``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import re
import sys
import tempfile
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["Births", "heap_figures"]


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _libc()


def _mallinfo() -> dict[str, int] | None:
    """glibc's main figures: ``arena`` (bytes the heap took with brk/mmap for arenas),
    ``uordblks`` (in use), ``fordblks`` (free inside them), ``hblkhd`` (large blocks mmapped
    apart), ``keepcost`` (free at the heap's top, which malloc_trim could return)."""
    if _LIBC is None:
        return None
    info = _LIBC.mallinfo2()
    return {name: int(getattr(info, name)) for name, _ in _Mallinfo2._fields_}


def _pymalloc() -> dict[str, int]:
    """pymalloc's arenas and how full they are, from ``sys._debugmallocstats`` (C's stderr)."""
    saved = os.dup(2)
    with tempfile.TemporaryFile() as out:
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read().decode(errors="replace")
    figures: dict[str, int] = {}
    for key, pattern in (
            ("arenas", r"# arenas allocated current\s*=\s*([\d,]+)"),
            ("arenas_peak", r"# arenas highwater mark\s*=\s*([\d,]+)"),
            ("allocated", r"# bytes in allocated blocks\s*=\s*([\d,]+)"),
            ("available", r"# bytes in available blocks\s*=\s*([\d,]+)"),
            ("unused_pools", r"(\d+) unused pools \*")):
        match = re.search(pattern, text)
        if match:
            figures[key] = int(match[1].replace(",", ""))
    return figures


def _smaps() -> dict[str, int]:
    """Resident KiB by mapping: ``heap`` (brk), ``anon`` (other anonymous mappings: pymalloc's
    arenas, glibc's mmapped blocks and thread arenas), ``file``, ``stack``."""
    rss = {"heap": 0, "anon": 0, "file": 0, "stack": 0, "anon_maps": 0}
    kind = "anon"
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if not parts[0].endswith(":"):  # a mapping's first line: address, perms, ..., path
            path = parts[5] if len(parts) > 5 else ""
            kind = ("heap" if path == "[heap]" else "stack" if path.startswith("[stack")
                    else "file" if path.startswith("/") else "anon")
            if kind == "anon" and not path:
                rss["anon_maps"] += 1
        elif line.startswith("Rss:"):
            rss[kind] += int(line.split()[1])
    return rss


def heap_figures() -> dict[str, Any]:
    """All of the above, with ``sys.getallocatedblocks()``."""
    return {"mallinfo2": _mallinfo(), "pymalloc": _pymalloc(), "rss_kib": _smaps(),
            "blocks": sys.getallocatedblocks()}


if __name__ == "__main__":
    import json

    print(json.dumps(heap_figures(), indent=1))


class Births:
    """The objects the garbage collector tracks that were born since ``mark()`` and are still
    alive: the long-lived objects a churn leaves among short-lived ones (each keeps its
    allocator's pool, and arena, from being freed)."""

    def __init__(self) -> None:
        self._seen: dict[int, type] = {}

    def mark(self) -> int:
        gc.collect()
        self._seen = {id(o): type(o) for o in gc.get_objects()}
        return len(self._seen)

    def report(self, top: int = 40) -> dict[str, Any]:
        """Counts by type, and (under tracemalloc) by where they were allocated."""
        gc.collect()
        seen = self._seen
        born = [o for o in gc.get_objects() if seen.get(id(o)) is not type(o)]
        types = Counter(type(o).__qualname__ for o in born)
        sites: Counter[str] = Counter()
        if tracemalloc.is_tracing():
            for o in born:
                trace = tracemalloc.get_object_traceback(o)
                where = ("?" if trace is None else " < ".join(
                    f"{Path(f.filename).name}:{f.lineno}" for f in list(trace)[::-1][:4]))
                sites[f"{type(o).__qualname__} @ {where}"] += 1
        return {"born": len(born), "types": types.most_common(top),
                "sites": sites.most_common(top)}
