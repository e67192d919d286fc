"""The cluster benchmark: two nodes on one Redis (the ``pubsub`` adapter), 500 clients on each
in one room, broadcasts one at a time from a client of node A (the next once every client of
both nodes got the last). Our two Python nodes against two Node nodes (``socket.io`` 4.8 with
``@socket.io/redis-adapter`` 8.3), interleaved in one run.

Usage::

    npm ci --prefix conformance && npm ci --prefix benchmarks   # once
    python3 -m benchmarks.cluster [--rounds 3] [--clients 500] [--broadcasts 300] [--json PATH]

The nodes are the cluster test nodes (``python -m conformance.cluster_node`` and
``conformance/js/cluster_node.mjs``), each serving the same contract; a fresh redis-server (no
persistence) runs per measurement. Figures: deliveries/s over both nodes, p99 delivery latency
(send to arrival) overall and per node, and CPU per broadcast of node A (local delivery plus the
publication), node B (one message from Redis, delivered to its clients: the cost of a
cross-node message) and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KINDS = {
    "ours": [sys.executable, "-m", "conformance.cluster_node"],
    "node": ["node", str(ROOT / "conformance" / "js" / "cluster_node.mjs")],
}
FIGURES = [
    ("deliveries/s (both nodes)", "deliveries_per_s", True),
    ("p99 delivery latency, ms", "p99_ms", False),
    ("p99 on node A (local), ms", "p99_a_ms", False),
    ("p99 on node B (through Redis), ms", "p99_b_ms", False),
    ("node A CPU per broadcast, µs", "cpu_a_us_per_broadcast", False),
    ("node B CPU per cross-node message, µs", "cpu_b_us_per_broadcast", False),
    ("Redis CPU per broadcast, µs", "cpu_redis_us_per_broadcast", False),
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _redis() -> Iterator[tuple[str, int]]:
    port = _free_port()
    directory = tempfile.mkdtemp(prefix="redis-bench-")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", directory], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True,
                             text=True).stdout.strip() != "PONG":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(directory, ignore_errors=True)


def _node(kind: str, redis_url: str, name: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*KINDS[kind], "--port", "0", "--redis", redis_url, "--adapter", "pubsub",
         "--name", name], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening "):
        process.kill()
        raise RuntimeError(f"{kind} node did not start: {line!r}")
    process.port = int(line.split()[1])  # type: ignore[attr-defined]
    return process


def measure(kind: str, clients: int, broadcasts: int) -> dict[str, Any]:
    """One measurement: a fresh Redis and two fresh nodes of ``kind``."""
    with _redis() as (url, redis_pid):
        nodes = [_node(kind, url, f"node-{index}") for index in range(2)]
        try:
            options = {"ports": [n.port for n in nodes],  # type: ignore[attr-defined]
                       "pids": [nodes[0].pid, nodes[1].pid, redis_pid],
                       "clients": clients, "broadcasts": broadcasts, "warmup": 20,
                       "timeout": 300}
            completed = subprocess.run(
                ["node", str(HERE / "cluster_loadgen.mjs"), json.dumps(options)],
                cwd=HERE, capture_output=True, text=True, timeout=330)
            if completed.returncode != 0:
                raise RuntimeError(f"loadgen failed: {completed.stderr}")
            result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
            return result
        finally:
            for process in nodes:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=500, help="per node")
    parser.add_argument("--broadcasts", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    order = list(KINDS)
    for round_ in range(args.rounds):
        for kind in order[round_ % 2:] + order[:round_ % 2]:
            result = measure(kind, args.clients, args.broadcasts)
            results[kind].append(result)
            print(f"round {round_ + 1} {kind}: {result['deliveries_per_s']:,.0f} deliveries/s",
                  file=sys.stderr, flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"Medians of {args.rounds} interleaved rounds, {stamp}, {platform.processor() or ''}"
          f" {os.cpu_count()} cores; CPython {platform.python_version()}; "
          f"{args.clients} clients per node, {args.broadcasts} broadcasts one at a time.\n")
    print("|  | ours (2 Python nodes) | node (2 Node nodes) | ours / node |")
    print("|---|---|---|---|")
    for label, key, _higher in FIGURES:
        ours = statistics.median(r[key] for r in results["ours"])
        node = statistics.median(r[key] for r in results["node"])
        print(f"| {label} | {_number(ours)} | {_number(node)} | {ours / node:.2f}x |")


if __name__ == "__main__":
    main()
