"""Run every server under the same load, in interleaved order, and print a table of medians.

Usage::

    bash benchmarks/setup.sh                  # once: the peers' environment
    python -m benchmarks.run [--rounds 3] [--duration 5] [--servers ours,python-socketio,node]
                             [--scenarios echo,fanout,fanout_acked,rooms,polling,
                             idle,binary] [--smoke] [--json PATH]
                             [--baseline REV]

Each (server, scenario) pair runs against a fresh server process pinned to CPU 0, with the load
generator (``loadgen.mjs``) pinned to CPU 1. Within a round the scenarios run in turn and, for
each, the servers in an order rotated every round, so that drifts in the machine's load fall on
every server alike. The table gives, for each figure, the median over the rounds and the ratio
of ours to each peer.

``--baseline REV`` adds our server as of git revision ``REV`` (checked out in a temporary
worktree) as one more peer, ``ours@REV``: an interleaved before/after of a change, in one run.
The server CPU per ack (or per delivery) is the steadier figure on a shared machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_PYTHON = HERE / ".venv" / "bin" / "python"

SERVERS: dict[str, list[str]] = {
    "ours": [sys.executable, "-m", "benchmarks.server", "--port", "{port}"],
    "python-socketio": [str(VENV_PYTHON), str(HERE / "peer_psio.py"), "--port", "{port}"],
    "node": ["node", str(HERE / "peer_node.mjs"), "{port}"],
}

# The load for each scenario; ``SMOKE`` shrinks it to seconds for CI.
SCENARIOS: dict[str, dict[str, Any]] = {
    "echo": {"clients": 50, "warmup": 1.0},
    "fanout": {"clients": 1000, "broadcasts": 200},
    "fanout_acked": {"clients": 1000, "broadcasts": 200},
    "rooms": {"clients": 1000, "rooms": 100, "warmup": 1.0, "seed": 1},
    "polling": {"clients": 20, "warmup": 1.0},
    "idle": {"connections": 5000, "concurrency": 100, "settle": 2.0},
    "binary": {"clients": 10, "size": 65536, "warmup": 1.0},
}
SMOKE: dict[str, dict[str, Any]] = {
    "echo": {"clients": 4, "warmup": 0.2, "duration": 0.5},
    "fanout": {"clients": 20, "broadcasts": 5},
    "fanout_acked": {"clients": 20, "broadcasts": 5},
    "rooms": {"clients": 20, "rooms": 4, "warmup": 0.2, "duration": 0.5, "seed": 1},
    "polling": {"clients": 3, "warmup": 0.2, "duration": 0.5},
    "idle": {"connections": 50, "concurrency": 25, "settle": 0.3},
    "binary": {"clients": 2, "size": 65536, "warmup": 0.2, "duration": 0.5},
}


@dataclass(frozen=True, slots=True)
class Figure:
    """One number in the table: which scenario and result key, and whether higher is better."""

    label: str
    scenario: str
    key: str
    higher_is_better: bool = True


FIGURES = [
    Figure("(a) WebSocket echo with ack, 50 clients: acks/s", "echo", "acks_per_s"),
    Figure("(a) echo p50 latency, ms", "echo", "p50_ms", False),
    Figure("(a) echo p99 latency, ms", "echo", "p99_ms", False),
    Figure("(a) server CPU per ack, µs", "echo", "cpu_us_per_ack", False),
    Figure("(b) fan-out, 1000 clients x 200 broadcasts: deliveries/s", "fanout",
           "deliveries_per_s"),
    Figure("(b) fan-out p99 delivery latency, ms", "fanout", "p99_ms", False),
    Figure("(b) server CPU per delivery, µs", "fanout", "cpu_us_per_delivery", False),
    Figure("(c) long-polling echo with ack, 20 clients: acks/s", "polling", "acks_per_s"),
    Figure("(c) server CPU per ack, µs", "polling", "cpu_us_per_ack", False),
    Figure("(d) 5000 idle WebSockets: server RSS per connection, KiB", "idle",
           "kib_per_connection", False),
    Figure("(d) connections/s while opening", "idle", "connections_per_s"),
    Figure("(e) 64 KiB binary echo with ack, 10 clients: MB/s", "binary", "mb_per_s"),
    Figure("(e) server CPU per 64 KiB echo, µs", "binary", "cpu_us_per_ack", False),
    Figure("(f) fan-out one at a time, 1000 clients x 200 broadcasts, each acked before the "
           "next: deliveries/s", "fanout_acked", "deliveries_per_s"),
    Figure("(f) one-at-a-time p99 delivery latency, ms", "fanout_acked", "p99_ms", False),
    Figure("(f) server CPU per delivery, µs", "fanout_acked", "cpu_us_per_delivery", False),
    Figure("(g) 1000 clients in 100 rooms of 10, broadcasts to random rooms one at a time: "
           "deliveries/s", "rooms", "deliveries_per_s"),
    Figure("(g) rooms p99 delivery latency, ms", "rooms", "p99_ms", False),
    Figure("(g) server CPU per delivery, µs", "rooms", "cpu_us_per_delivery", False),
]

# (scenario, key, peer, the least ratio ours/peer that meets the goal; a negative bound means
# "ours/peer at most |bound|", for figures where lower is better).
GOALS = [
    ("echo", "acks_per_s", "python-socketio", 2.0),
    ("fanout", "deliveries_per_s", "node", 1.0),
    ("fanout_acked", "deliveries_per_s", "node", 1.0),
    ("rooms", "deliveries_per_s", "node", 1.0),
    ("polling", "acks_per_s", "python-socketio", 2.0),
    ("idle", "kib_per_connection", "node", -0.8),
    ("binary", "mb_per_s", "python-socketio", 1.5),
]


class BenchmarkError(RuntimeError):
    """A server or the load generator failed; the message carries their output."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise BenchmarkError(f"server not listening on {port} after {timeout}s")


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _pin(cpu: int, pin: bool) -> list[str]:
    return ["taskset", "-c", str(cpu)] if pin else []


def per_unit(result: Mapping[str, Any]) -> dict[str, float]:
    """Server CPU per ack or per delivery, in µs, from a generator result that has a rate."""
    cpu = result.get("server_cpu")
    units = {"cpu_us_per_ack": result.get("acks_per_s"),
             "cpu_us_per_delivery": result.get("deliveries_per_s")}
    return {key: cpu / rate * 1e6 for key, rate in units.items() if cpu and rate}


def run_one(
    server: str,
    scenario: str,
    params: Mapping[str, Any],
    *,
    duration: float = 5.0,
    pin: bool = True,
    timeout: float = 120.0,
    cwd: Path = ROOT,
) -> dict[str, Any]:
    """Start ``server`` fresh, run one scenario of the load generator against it, stop it.

    ``cwd`` is where the server starts: another checkout runs that checkout's ``ours``.
    Returns the generator's JSON result (figures, plus ``gen_cpu`` and ``server_cpu`` in cores
    over the measured window, and the CPU per unit of ``per_unit``). Raises
    ``BenchmarkError`` when either side fails.
    """
    port = _free_port()
    command = [part.format(port=port) for part in SERVERS[server.partition("@")[0]]]
    options = {"scenario": scenario, "port": port, "duration": duration, "timeout": timeout,
               **params}
    with tempfile.TemporaryFile() as server_log:
        process = subprocess.Popen(
            [*_pin(0, pin), *command], cwd=cwd, stdout=server_log, stderr=server_log,
            preexec_fn=_raise_fd_limit)
        try:
            _wait_listening(port, process, 20.0)
            options["pid"] = process.pid
            generator = subprocess.run(
                [*_pin(1, pin), "node", str(HERE / "loadgen.mjs"), json.dumps(options)],
                cwd=ROOT, capture_output=True, text=True, timeout=timeout + 10,
                preexec_fn=_raise_fd_limit)
            if generator.returncode != 0:
                raise BenchmarkError(
                    f"{server}/{scenario}: load generator exited with {generator.returncode}: "
                    f"{generator.stderr.strip()[-2000:]}")
            result: dict[str, Any] = json.loads(generator.stdout.strip().splitlines()[-1])
        except BaseException as error:
            process.kill()
            process.wait()
            server_log.seek(0)
            output = server_log.read().decode(errors="replace").strip()[-2000:]
            if isinstance(error, BenchmarkError | subprocess.TimeoutExpired) and output:
                raise BenchmarkError(f"{error}\nserver output:\n{output}") from error
            raise
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    result.update(per_unit(result))
    result["server"] = server
    return result


@contextlib.contextmanager
def checkout(revision: str, repo: Path = ROOT) -> Iterator[Path]:
    """A temporary detached git worktree of ``repo`` at ``revision``, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as parent:
        path = Path(parent) / "tree"
        made = subprocess.run(["git", "-C", str(repo), "worktree", "add", "--detach",
                               "--quiet", str(path), revision], capture_output=True, text=True)
        if made.returncode != 0:
            raise BenchmarkError(f"cannot check out {revision!r}: {made.stderr.strip()}")
        try:
            yield path
        finally:
            subprocess.run(["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],
                           capture_output=True)


def run_all(
    servers: Sequence[str],
    scenarios: Sequence[str],
    *,
    rounds: int,
    duration: float,
    smoke: bool = False,
    pin: bool = True,
    timeout: float = 300.0,
    failures: list[str] | None = None,
    cwds: Mapping[str, Path] | None = None,
) -> list[dict[str, Any]]:
    """Every (server, scenario) pair ``rounds`` times, interleaved; returns the raw results.
    A run that fails is reported on stderr and named in ``failures``. ``cwds`` gives the
    checkout of a server named ``ours@REV``."""
    if failures is None:
        failures = []
    results = []
    for round_ in range(rounds):
        for scenario in scenarios:
            shift = round_ % len(servers)
            for server in [*servers[shift:], *servers[:shift]]:
                params = (SMOKE if smoke else SCENARIOS)[scenario]
                try:
                    result = run_one(server, scenario, params, duration=params.get(
                        "duration", duration), pin=pin, timeout=timeout,
                        cwd=(cwds or {}).get(server, ROOT))
                except BenchmarkError as error:
                    # One failed run leaves a hole in that median, not in the whole table.
                    print(f"round {round_ + 1}/{rounds} {scenario:8} {server:16} FAILED: "
                          f"{error}", file=sys.stderr, flush=True)
                    failures.append(f"{server}/{scenario} round {round_ + 1}")
                    continue
                result["round"] = round_
                results.append(result)
                print(f"round {round_ + 1}/{rounds} {scenario:8} {server:16} "
                      f"{_summary(result)}", file=sys.stderr, flush=True)
    return results


def _summary(result: Mapping[str, Any]) -> str:
    keys = [f.key for f in FIGURES if f.scenario == result["scenario"]]
    shown = " ".join(f"{k}={_fmt(result.get(k))}" for k in keys)
    return f"{shown} gen_cpu={result['gen_cpu']:.2f} server_cpu={result['server_cpu']:.2f}"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def medians(results: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], float]:
    """The median of each (server, scenario, key) over the rounds."""
    values: dict[tuple[str, str, str], list[float]] = {}
    for result in results:
        for key, value in result.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                values.setdefault((result["server"], result["scenario"], key), []).append(value)
    return {k: statistics.median(v) for k, v in values.items()}


def table(results: Sequence[Mapping[str, Any]], servers: Sequence[str]) -> str:
    """The markdown table of medians, with the ratio of ours to each peer."""
    med = medians(results)
    peers = [s for s in servers if s != "ours"]
    head = ["", *servers, *(f"ours / {p}" for p in peers if "ours" in servers)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for figure in FIGURES:
        row = [med.get((s, figure.scenario, figure.key)) for s in servers]
        if all(v is None for v in row):
            continue
        cells = [figure.label, *(_fmt(v) for v in row)]
        if "ours" in servers:
            ours = med.get(("ours", figure.scenario, figure.key))
            for peer in peers:
                theirs = med.get((peer, figure.scenario, figure.key))
                cells.append(f"{ours / theirs:.2f}x" if ours is not None and theirs else "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Load generator and server CPU over the measured window (cores, medians; the "
              "generator must stay below one core while the server is saturated):", "",
              "| scenario | " + " | ".join(f"{s}: generator / server" for s in servers) + " |",
              "|" + "---|" * (len(servers) + 1)]
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        cells = [scenario]
        for server in servers:
            gen = med.get((server, scenario, "gen_cpu"))
            srv = med.get((server, scenario, "server_cpu"))
            cells.append("-" if gen is None or srv is None else f"{gen:.2f} / {srv:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per goal of the issue: the measured ratio and whether it is met."""
    med = medians(results)
    lines = []
    for scenario, key, peer, bound in GOALS:
        ours, theirs = med.get(("ours", scenario, key)), med.get((peer, scenario, key))
        if ours is None or not theirs:
            continue
        ratio = ours / theirs
        met = ratio <= -bound if bound < 0 else ratio >= bound
        want = f"≤ {-bound:g}x" if bound < 0 else f"≥ {bound:g}x"
        lines.append(f"- {scenario} {key}: ours / {peer} = {ratio:.2f}x (goal {want}): "
                     f"{'met' if met else 'NOT met'}")
    return lines


def bottlenecked(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """Runs where the generator, not the server, may have been the limit."""
    return [f"- {r['server']}/{r['scenario']} round {r['round'] + 1}: generator "
            f"{r['gen_cpu']:.2f} cores, server {r['server_cpu']:.2f}"
            for r in results if r["gen_cpu"] >= 0.9 and r["server_cpu"] < 0.9]


def machine() -> str:
    """A one-line description of this machine and the runtimes."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}; "
            f"CPython {platform.python_version()}, Node {node}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0,
                        help="seconds measured per timed scenario (after its warm-up)")
    parser.add_argument("--servers", default=",".join(SERVERS))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--smoke", action="store_true", help="tiny loads, for CI")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the server and the generator to CPUs 0 and 1")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run our server as of this git revision, as ours@REV")
    args = parser.parse_args(argv)
    servers = [s for s in args.servers.split(",") if s]
    scenarios = [s for s in args.scenarios.split(",") if s]
    for name in servers:
        if name not in SERVERS:
            parser.error(f"unknown server {name!r}")
    if "python-socketio" in servers and not VENV_PYTHON.exists():
        parser.error("python-socketio needs benchmarks/.venv: run `bash benchmarks/setup.sh`")
    pin = args.pin and (os.cpu_count() or 1) >= 2
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    failures: list[str] = []
    with contextlib.ExitStack() as stack:
        cwds: dict[str, Path] = {}
        if args.baseline:
            name = f"ours@{args.baseline}"
            try:
                cwds[name] = stack.enter_context(checkout(args.baseline))
            except BenchmarkError as error:
                parser.error(str(error))
            servers.append(name)
        results = run_all(servers, scenarios, rounds=args.rounds, duration=args.duration,
                          smoke=args.smoke, pin=pin, failures=failures, cwds=cwds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(f"Medians of {args.rounds} interleaved rounds, {started}, on {machine()}; "
          f"{'server on CPU 0, generator on CPU 1' if pin else 'unpinned'}.\n")
    print(table(results, servers))
    if lines := goals(results):
        print("\nGoals:\n" + "\n".join(lines))
    if lines := bottlenecked(results):
        print("\nThe generator may have been the bottleneck in:\n" + "\n".join(lines))
    if lost := [f"- {r['server']} round {r['round'] + 1}: {r['lost']} of "
                f"{r['lost'] + r['deliveries']} never arrived"
                for r in results if r.get("lost")]:
        print("\nFan-out deliveries lost (clients dropped by the server):\n" + "\n".join(lost))
    if failures:
        print("\nFailed runs (left out of the medians): " + ", ".join(failures))


if __name__ == "__main__":
    main()
