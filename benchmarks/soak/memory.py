"""Where our server's memory goes under churn: tracemalloc snapshots of ``server.py
--tracemalloc`` at each churn mark, and what grew between two of them.

Usage: ``python3 -m benchmarks.soak.memory [--warmup 1000] [--cycles 20000] [--marks 10000]``
prints the RSS and the traced Python memory at each mark, then the lines whose allocations
grew most between the last two marks.
"""

from __future__ import annotations

import argparse
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import trio

from .procs import ServerProcess
from .scenarios import churn
from .wire import http_request, open_conn

__all__ = ["main"]


async def _run(args: argparse.Namespace, snapshots: Path) -> dict[str, Any]:
    server = ServerProcess("ours", pin=True, extra=("--tracemalloc",))
    server.start()

    async def snapshot(mark: int) -> None:
        conn = await open_conn(server.port)
        try:
            with trio.fail_after(120):
                answer = await http_request(
                    conn, "GET", f"/soak/snapshot?file={snapshots}/mark-{mark}.snap")
        finally:
            await conn.aclose()
        assert answer.status == 200, answer

    try:
        return await churn(server, warmup=args.warmup, cycles=args.cycles,
                           checkpoints=tuple(args.marks), on_mark=snapshot)
    finally:
        server.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--marks", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[10000])
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = trio.run(_run, args, Path(tmp))
        marks = [m["cycles"] for m in result["marks"]]
        snaps = {m: tracemalloc.Snapshot.load(f"{tmp}/mark-{m}.snap") for m in marks}
    print(f"{result['failed']} failed; per mark (cycles after {args.warmup} warm-up):")
    for mark in result["marks"]:
        traced = sum(s.size for s in snaps[mark["cycles"]].statistics("filename"))
        print(f"  {mark['cycles']:>6}: RSS {mark['rss_kib'] / 1024:.1f} MB, traced "
              f"{traced / 1e6:.2f} MB, fds {mark['fds']}, tasks {mark['tasks']}")
    first, last = snaps[marks[-2]], snaps[marks[-1]]
    print(f"\ngrowth from {marks[-2]} to {marks[-1]} cycles, by line:")
    for stat in last.compare_to(first, "lineno")[: args.top]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
              f"{stat.traceback[0]}")
    first0 = snaps[marks[0]]
    print(f"\ngrowth from {marks[0]} to {marks[-1]} cycles, by line:")
    for stat in last.compare_to(first0, "lineno")[: args.top]:
        print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks  "
              f"{stat.traceback[0]}")


if __name__ == "__main__":
    main()
