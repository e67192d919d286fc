"""Run the soak scenarios against our server and the official Node server, side by side, and
print issue 17's table.

Usage::

    npm ci --prefix benchmarks                 # once: the Node server's socket.io
    python3 -m benchmarks.soak                 # every scenario at full size, both servers
    python3 -m benchmarks.soak --servers ours --scenarios churn,burst [--small] [--json PATH]

Each (scenario, server) pair gets a fresh server process pinned to CPU 0 (``taskset``; the load
and the health client run on CPU 1), ours first, then Node's. ``--small`` runs the CI sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from . import scenarios
from .hostile import hostile_mix
from .procs import ServerProcess

__all__ = ["FULL", "SMALL", "main", "run_scenario", "table"]

# The counts; ``SMALL`` is what tests/soak runs in CI.
FULL: dict[str, dict[str, Any]] = {
    "churn": {"warmup": 1000, "cycles": 20000, "checkpoints": (10000,), "concurrency": 20},
    "resets": {"each": 1000, "concurrency": 20, "settle": 10.0},
    "upgrade": {"upgrades": 200, "messages": 40, "concurrency": 10},
    "hostile": {"packets": 100_000, "seed": 17, "concurrency": 20, "slowloris": 50},
    "slow-websocket": {"transport": "websocket", "count": 500, "size": 100_000, "bound": 60.0},
    "slow-polling": {"transport": "polling", "count": 500, "size": 100_000, "bound": 60.0},
    "burst": {"count": 500, "size": 100_000, "bound": 60.0},
    "flood": {"connections": 3000},
}
SMALL: dict[str, dict[str, Any]] = {
    "churn": {"warmup": 60, "cycles": 240, "concurrency": 10},
    "resets": {"each": 40, "concurrency": 10, "settle": 10.0},
    "upgrade": {"upgrades": 20, "messages": 30, "concurrency": 5},
    "hostile": {"packets": 4000, "seed": 17, "concurrency": 10, "slowloris": 5},
    "slow-websocket": {"transport": "websocket", "count": 200, "size": 100_000, "bound": 15.0},
    "slow-polling": {"transport": "polling", "count": 200, "size": 100_000, "bound": 15.0},
    "burst": {"count": 500, "size": 100_000, "bound": 15.0},
    "flood": {"connections": 200},
}

Runner = Callable[..., Awaitable[dict[str, Any]]]
RUNNERS: dict[str, Runner] = {
    "churn": scenarios.churn,
    "resets": scenarios.resets,
    "upgrade": scenarios.upgrade_order,
    "hostile": hostile_mix,
    "slow-websocket": scenarios.slow_reader,
    "slow-polling": scenarios.slow_reader,
    "burst": scenarios.burst,
    "flood": scenarios.flood,
}
PINNED = {"resets", "hostile", "flood"}  # those that start a health client


async def run_scenario(kind: str, scenario: str, params: dict[str, Any], *,
                       pin: bool = False, gc_threshold: str | None = None,
                       gc_freeze: bool = False) -> dict[str, Any]:
    """One scenario against a fresh server of ``kind``; adds the server's exit status, its
    crashes and (ours) its ERROR records. ``gc_threshold``, ``gc_freeze``: ours runs with
    them."""
    extra: tuple[str, ...] = ()
    if kind == "ours":
        extra = (*(("--gc-threshold", gc_threshold) if gc_threshold else ()),
                 *(("--gc-freeze",) if gc_freeze else ()))
    server = ServerProcess(kind, pin=pin, extra=extra)
    server.start()
    try:
        extra = {"pin": pin} if scenario in PINNED else {}
        result = await RUNNERS[scenario](server, **params, **extra)
    finally:
        status = server.stop()
        records = server.error_records() if kind == "ours" else []
        crashes = server.crashes
        server.cleanup()
    result.setdefault("crashes", crashes)
    result["error_records"] = records
    result["exit_status"] = status
    return result


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _s(value: float | None, bound: float) -> str:
    return f"kept > {bound:.0f} s" if value is None else f"dropped in {value:.1f} s"


def describe(scenario: str, r: dict[str, Any], params: dict[str, Any]) -> str:
    """One cell of the table."""
    errors = f", {len(r['error_records'])} error records" if r.get("error_records") else ""
    if scenario == "churn":
        marks = r["marks"]
        rss = " → ".join(f"{m['rss_kib'] / 1024:.1f}" for m in marks)
        growth = ""
        if len(marks) >= 3:
            late = 100 * (marks[-1]["rss_kib"] - marks[-2]["rss_kib"]) / marks[-2]["rss_kib"]
            growth = f"; {marks[-2]['cycles']}→{marks[-1]['cycles']}: {late:+.1f}%"
        first_pct = 100 * (marks[1]["rss_kib"] - marks[0]["rss_kib"]) / marks[0]["rss_kib"]
        tasks = ("" if r["tasks_growth"] is None
                 else f", tasks {marks[0]['tasks']}→{marks[-1]['tasks']}")
        return (f"{r['failed']} failed, {r['sessions_after']} sessions after, fds "
                f"{marks[0]['fds']}→{marks[-1]['fds']}{tasks}; RSS MB {rss} "
                f"({marks[1]['cycles']}: {first_pct:+.1f}% over the warm-up{growth}){errors}")
    if scenario == "resets":
        kinds = [k for k in r if isinstance(r[k], dict) and "left" in r[k]]
        left = ", ".join(f"{k} {r[k]['left']}" for k in kinds)
        h = r["health"]
        return (f"left 10 s after: {left}; lost by a reset during the probe: {r['lost']} of "
                f"{params['each']}; health: {h['unanswered']} unanswered, p99 "
                f"{_ms(h['p99_ms'])}{errors}")
    if scenario == "upgrade":
        return (f"{r['upgrades']} upgrades: {r['failed']} failed, lost {r['lost']}, duplicated "
                f"{r['duplicated']}, reordered {r['reordered']}, server saw out of order "
                f"{r['server_out_of_order']}{errors}")
    if scenario == "hostile":
        h = r["health"]
        return (f"{r['packets']} packets: {r['crashes']} crashes, health {h['unanswered']} "
                f"unanswered (p99 {_ms(h['p99_ms'])}), {len(r['error_records'])} error records")
    if scenario in ("slow-websocket", "slow-polling"):
        return (f"{_s(r['dropped_after_s'], params['bound'])}; peak RSS "
                f"{r['peak_growth_mb']:+.0f} MB for {r['sent_mb']:.0f} MB sent{errors}")
    if scenario == "burst":
        fast = f"fast reader {r['fast_received']}/{params['count']}"
        fast += ", stays" if r["fast_stays"] else f", dropped ({r['fast_error']})"
        return (f"{fast}; slow one {_s(r['slow_dropped_after_s'], params['bound'])}; peak RSS "
                f"{r['peak_growth_mb']:+.0f} MB for {r['sent_mb']:.0f} MB sent{errors}")
    if scenario == "flood":
        h = r["health"]
        cpu = r.get("cpu_ms_per_accept")
        cost = f" ({cpu:.2f} ms CPU each)" if cpu is not None else ""
        return (f"{r['served']}/{r['connections']} served, {r['per_s']:.0f}/s{cost}; established "
                f"client's echo p50 {_ms(h['p50_ms'])}, p99 {_ms(h['p99_ms'])}, "
                f"{h['unanswered']} unanswered{errors}")
    raise ValueError(scenario)


def goal(scenario: str, ours: dict[str, Any], node: dict[str, Any] | None,
         params: dict[str, Any]) -> tuple[str, bool | None]:
    """The goal of a row and whether our figures meet it (``None``: cannot tell)."""
    clean = not ours.get("error_records") and not ours.get("crashes")
    if scenario == "churn":
        marks = ours["marks"]
        first = 100 * (marks[1]["rss_kib"] - marks[0]["rss_kib"]) / marks[0]["rss_kib"]
        later = (100 * (marks[-1]["rss_kib"] - marks[-2]["rss_kib"]) / marks[-2]["rss_kib"]
                 if len(marks) >= 3 else 0.0)
        met = (ours["failed"] == 0 and ours["sessions_after"] == 0 and first <= 5.0
               and later <= 1.0 and ours["fds_growth"] <= 0 and clean)
        return "0 failed, 0 sessions after, ≤ +5%, no growth from 10k to 20k", met
    if scenario == "resets":
        met = ours["left"] == 0 and ours["lost"] == 0 and ours["health"]["unanswered"] == 0
        return "0 left 10 s after; 0 lost; health served", met and clean
    if scenario == "upgrade":
        met = not any(ours[k] for k in ("failed", "lost", "duplicated", "reordered",
                                        "server_out_of_order"))
        return "nothing lost, duplicated or reordered", met and clean
    if scenario == "hostile":
        met = ours["crashes"] == 0 and ours["health"]["unanswered"] == 0
        return "0 crashes, 0 error records", met and clean
    if scenario in ("slow-websocket", "slow-polling"):
        met = ours["dropped_after_s"] is not None and ours["peak_growth_mb"] <= 25
        return "dropped; peak ≤ +25 MB", met and clean
    if scenario == "burst":
        met = (ours["fast_received"] == params["count"] and ours["fast_stays"]
               and ours["slow_dropped_after_s"] is not None
               and ours["peak_growth_mb"] <= ours["sent_mb"] / 2)
        return "fast reader all and stays; slow one dropped; peak ≤ half of what was sent", (
            met and clean)
    if scenario == "flood":
        p99 = ours["health"]["p99_ms"]
        met = p99 is not None and p99 <= 100 and ours["served"] == ours["connections"]
        if node is not None:
            met = met and ours["per_s"] >= node["per_s"]
        return "established p99 ≤ 100 ms; accept rate ≥ Node's", met and clean
    raise ValueError(scenario)


def table(results: dict[str, dict[str, dict[str, Any]]],
          sizes: dict[str, dict[str, Any]]) -> str:
    """Issue 17's table: a row per scenario, ours and Node's figures, the goal, met or not."""
    lines = ["| scenario | ours | Node | goal | met |", "|---|---|---|---|---|"]
    for scenario, by_server in results.items():
        params = sizes[scenario]
        ours = by_server.get("ours")
        node = by_server.get("node")
        cells = [describe(scenario, r, params) if r is not None else "—" for r in (ours, node)]
        if ours is not None:
            text, met = goal(scenario, ours, node, params)
            verdict = "?" if met is None else "yes" if met else "**no**"
        else:
            text, verdict = "", "—"
        lines.append(f"| {scenario} | {cells[0]} | {cells[1]} | {text} | {verdict} |")
    return "\n".join(lines)


async def _main(args: argparse.Namespace) -> dict[str, dict[str, dict[str, Any]]]:
    sizes = SMALL if args.small else FULL
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for scenario in args.scenarios:
        results[scenario] = {}
        for kind in args.servers:
            started = time.monotonic()
            print(f"# {scenario} on {kind} ...", file=sys.stderr, flush=True)
            result = await run_scenario(kind, scenario, sizes[scenario], pin=args.pin,
                                        gc_threshold=args.gc_threshold,
                                        gc_freeze=args.gc_freeze)
            result["seconds"] = time.monotonic() - started
            results[scenario][kind] = result
            print(f"#   {describe(scenario, result, sizes[scenario])}", file=sys.stderr,
                  flush=True)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--servers", default="ours,node",
                        type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--scenarios", default=",".join(FULL),
                        type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--small", action="store_true", help="the CI sizes")
    parser.add_argument("--no-pin", dest="pin", action="store_false")
    parser.add_argument("--json", help="write every figure here")
    parser.add_argument("--gc-threshold", metavar="N,N,N",
                        help="run our server with these garbage collector thresholds (as "
                             "socketio-core serve --gc-threshold); Python's own by default")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="run our server with gc.freeze() once it listens")
    args = parser.parse_args(argv)
    for name in args.scenarios:
        if name not in FULL:
            parser.error(f"unknown scenario {name!r} (known: {', '.join(FULL)})")
    if args.pin and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the load; the servers go to CPU 0
    results = trio.run(_main, args)
    sizes = SMALL if args.small else FULL
    print(table(results, sizes))
    for scenario, by_server in results.items():
        for kind, result in by_server.items():
            for record in result["error_records"][:5]:
                print(f"\n{scenario} / {kind}: {record}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1, default=str)
