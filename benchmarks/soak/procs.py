"""The processes of a soak run: the server under test (ours or Node's), restarted after a crash,
with its log kept; and its figures read from ``/proc`` and its ``/soak/stats``."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trio

from .wire import Gone, http_request, open_conn

__all__ = ["HERE", "ROOT", "HealthClient", "ServerProcess", "free_port", "latency_summary"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

COMMANDS: dict[str, list[str]] = {
    "ours": [sys.executable, "-m", "benchmarks.soak.server", "--port", "{port}"],
    "node": ["node", str(HERE / "node_server.mjs"), "{port}"],
}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """The server under test, on a fixed port for the whole run.

    ``crashes`` counts the times it exited on its own; ``ensure_running`` starts it again on the
    same port. Its stdout and stderr go to one log file per start, kept in ``logs``.
    """

    def __init__(self, kind: str, *, pin: bool = False, extra: tuple[str, ...] = (),
                 env: dict[str, str] | None = None) -> None:
        self.kind = kind
        self.port = free_port()
        self.pin = pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
        self.extra = extra
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.crashes = 0
        self.logs: list[Path] = []
        self._dir = Path(tempfile.mkdtemp(prefix=f"soak-{kind}-"))

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        command = [part.format(port=self.port) for part in COMMANDS[self.kind]] + list(self.extra)
        if self.pin:
            command = ["taskset", "-c", "0", *command]
        log = self._dir / f"{self.kind}-{len(self.logs)}.log"
        self.logs.append(log)
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(self.env or {}))
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                            env=env)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited at start:\n{log.read_text()}")
            if b"listening" in log.read_bytes():
                return
            time.sleep(0.05)
        self.process.kill()
        raise RuntimeError(f"{self.kind} server did not start:\n{log.read_text()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self) -> bool:
        """Start it again if it exited (a crash); returns whether it had."""
        if self.alive():
            return False
        self.crashes += 1
        self.start()
        return True

    def stop(self) -> int | None:
        """SIGTERM, then SIGKILL after 10 s; returns the exit status."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())

    def error_records(self) -> list[str]:
        """The ERROR and CRITICAL records of our log (each with the traceback that followed)."""
        records: list[str] = []
        current: list[str] | None = None
        for line in self.log_text().splitlines():
            if line.startswith("LOG "):
                if current is not None:
                    records.append("\n".join(current))
                current = [line] if line.startswith(("LOG ERROR", "LOG CRITICAL")) else None
            elif line.startswith("Traceback") and current is None:
                current = [line]  # an exception printed without a record (an unhandled one)
            elif current is not None:
                current.append(line)
        if current is not None:
            records.append("\n".join(current))
        return records

    def rss_kib(self) -> int:
        return _status_field(self.pid, "VmRSS")

    def hwm_kib(self) -> int:
        return _status_field(self.pid, "VmHWM")

    def reset_hwm(self) -> bool:
        """Reset the peak RSS (VmHWM) to the current RSS; False when the kernel refuses."""
        try:
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        except OSError:
            return False
        return True

    def cpu_seconds(self) -> float:
        """The CPU time (user + system) the server process used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    async def stats(self) -> dict[str, Any]:
        """``/soak/stats`` plus RSS (KiB) and open fds."""
        with trio.fail_after(10):
            conn = await open_conn(self.port)
            try:
                answer = await http_request(conn, "GET", "/soak/stats")
            finally:
                await conn.aclose()
        if answer.status != 200:
            raise Gone(f"stats: {answer.status}")
        stats: dict[str, Any] = json.loads(answer.body)
        stats["rss_kib"] = self.rss_kib()
        stats["fds"] = self.fds()
        return stats

    async def wait_sessions(self, target: int, timeout: float) -> tuple[int, float]:
        """Poll until at most ``target`` sessions are open or ``timeout`` passes; returns the
        count last seen and the seconds waited."""
        start = trio.current_time()
        while True:
            sessions = (await self.stats())["sessions"]
            waited = trio.current_time() - start
            if sessions <= target or waited >= timeout:
                return sessions, waited
            await trio.sleep(0.05)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise KeyError(name)


class HealthClient:
    """``health.py`` in a process of its own (on CPU 1 when pinning), echoing every
    ``interval`` until ``stop``."""

    def __init__(self, port: int, *, interval: float = 0.02, pin: bool = False) -> None:
        command = [sys.executable, "-m", "benchmarks.soak.health", "--port", str(port),
                   "--interval", str(interval)]
        if pin and shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1:
            command = ["taskset", "-c", "1", *command]
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        assert self.process.stderr is not None
        ready, _, _ = select.select([self.process.stderr], [], [], 30)
        line = self.process.stderr.readline() if ready else b""
        if b"ready" not in line:
            self.process.kill()
            raise RuntimeError(f"health client did not start: {line!r}")

    def stop(self) -> dict[str, Any]:
        """Its samples: ``{"samples": [[sent, rtt or None], ...], "disconnects": n}``."""
        out, err = self.process.communicate(timeout=60)
        if self.process.returncode != 0:
            raise RuntimeError(f"health client failed: {err.decode(errors='replace')}")
        result: dict[str, Any] = json.loads(out)
        return result


def latency_summary(health: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    """p50/p99/max echo round trip (ms) of the echoes sent in ``[start, end]`` (monotonic
    seconds), how many, and how many went unanswered."""
    rtts = [rtt for sent, rtt in health["samples"] if start <= sent <= end]
    answered = sorted(r for r in rtts if r is not None)

    def pick(q: float) -> float | None:
        if not answered:
            return None
        return float(answered[min(len(answered) - 1, int(q * len(answered)))]) * 1000

    return {"echoes": len(rtts), "unanswered": len(rtts) - len(answered),
            "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "max_ms": answered[-1] * 1000 if answered else None,
            "disconnects": health["disconnects"]}
