"""Where our server's memory goes under churn: at each churn mark, tracemalloc snapshots of
``server.py --tracemalloc`` and what grew between two of them, or (``--heap``) the process's
heap figures (``heap.py``: glibc's arenas, pymalloc's, the resident set by mapping).

Usage: ``python3 -m benchmarks.soak.memory [--warmup 1000] [--cycles 20000] [--marks 10000]
[--heap]`` prints the RSS and the traced Python memory (or the heap figures) at each mark,
then (tracemalloc) the lines whose allocations grew most between the last two marks.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import trio

from .procs import ServerProcess
from .scenarios import churn
from .wire import http_request, open_conn

__all__ = ["main"]


async def _get(server: ServerProcess, target: str) -> bytes:
    conn = await open_conn(server.port)
    try:
        with trio.fail_after(120):
            answer = await http_request(conn, "GET", target)
    finally:
        await conn.aclose()
    assert answer.status == 200, answer
    return answer.body


async def _run(args: argparse.Namespace, snapshots: Path) -> dict[str, Any]:
    server = ServerProcess("ours", pin=True, extra=() if args.heap else ("--tracemalloc",))
    server.start()
    heaps: dict[int, Any] = {}

    async def mark(cycles: int) -> None:
        if args.born:
            if cycles == 0:
                await _get(server, "/soak/born?mark")
            else:
                heaps[cycles] = json.loads(await _get(server, "/soak/born"))
        elif args.heap:
            heaps[cycles] = json.loads(await _get(server, "/soak/heap"))
        else:
            await _get(server, f"/soak/snapshot?file={snapshots}/mark-{cycles}.snap")

    samples: list[dict[str, Any]] = []

    async def sample() -> None:
        # The figures while the churn runs, not only once it settled: what a peak left.
        start = trio.current_time()
        while True:
            await trio.sleep(args.every)
            try:
                figures = json.loads(await _get(server, "/soak/heap"))
            except (OSError, AssertionError, trio.TooSlowError):
                continue
            samples.append({"t": round(trio.current_time() - start, 1),
                            **figures, "rss": server.rss_kib()})

    try:
        async with trio.open_nursery() as nursery:
            if args.heap and args.every:
                nursery.start_soon(sample)
            result = await churn(server, warmup=args.warmup, cycles=args.cycles,
                                 checkpoints=tuple(args.marks), on_mark=mark)
            nursery.cancel_scope.cancel()
    finally:
        server.cleanup()
    result["heaps"] = heaps
    result["samples"] = samples
    return result


def _print_heaps(result: dict[str, Any]) -> None:
    for sample in result["samples"]:
        mi, py, watch = sample["mallinfo2"] or {}, sample["pymalloc"], sample["watch"]
        print(f"  t={sample['t']:>6}: RSS {sample['rss']:>6} KiB, glibc arena "
              f"{mi.get('arena', 0) // 1024} used {mi.get('uordblks', 0) // 1024}, pymalloc "
              f"arenas {py.get('arenas')} used {py.get('allocated', 0) // 1024}; watch {watch}")
    for m in result["marks"]:
        print(f"  mark {m['cycles']}: watch {result['heaps'][m['cycles']]['watch']}")
    print(f"{result['failed']} failed; per mark (cycles after the warm-up), KiB:")
    print(f"  {'cycles':>6} {'RSS':>7} | rss: {'heap':>6} {'anon':>6} {'file':>6} | glibc: "
          f"{'arena':>6} {'used':>6} {'free':>6} {'top':>6} {'mmap':>6} | pymalloc: "
          f"{'arenas':>6} {'used':>6} {'free':>6}")
    for m in result["marks"]:
        h = result["heaps"][m["cycles"]]
        rss, mi, py = h["rss_kib"], h["mallinfo2"] or {}, h["pymalloc"]
        k = 1024
        print(f"  {m['cycles']:>6} {m['rss_kib']:>7} | {rss['heap']:>10} {rss['anon']:>6} "
              f"{rss['file']:>6} | {mi.get('arena', 0) // k:>13} {mi.get('uordblks', 0) // k:>6} "
              f"{mi.get('fordblks', 0) // k:>6} {mi.get('keepcost', 0) // k:>6} "
              f"{mi.get('hblkhd', 0) // k:>6} | {py.get('arenas', 0) * 1024:>16} "
              f"{py.get('allocated', 0) // k:>6} "
              f"{(py.get('available', 0) + py.get('unused_pools', 0) * 16384) // k:>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=20000)
    parser.add_argument("--marks", type=lambda s: [int(x) for x in s.split(",") if x],
                        default=[10000])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--heap", action="store_true",
                        help="no tracemalloc: the heap figures of heap.py at each mark")
    parser.add_argument("--born", action="store_true",
                        help="the objects born since the warm-up and alive at each later mark "
                             "(gc-tracked ones), by type and (tracemalloc) where made")
    parser.add_argument("--every", type=float, default=0.0,
                        help="with --heap: also sample the figures every so many seconds")
    parser.add_argument("--json", type=Path, help="write the result there too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = trio.run(_run, args, Path(tmp))
        if args.json is not None:
            args.json.write_text(json.dumps(result, indent=1))
        if args.heap:
            _print_heaps(result)
            return
        if args.born:
            print(json.dumps(result["heaps"], indent=1))
            return
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
