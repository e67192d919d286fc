"""Servers for the client tests, as real processes on loopback: ours (tests/client/server_app.py)
and the official Node socket.io 4.8 (conformance/js/client_test_server.mjs), one contract."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "conformance"
NODE_SERVER = CONFORMANCE / "js" / "client_test_server.mjs"
KINDS = ("ours", "node")
TRANSPORTS = {
    "upgrade": ("polling", "websocket"),
    "websocket": ("websocket",),
    "polling": ("polling",),
}
# Small delays so that reconnection tests take a fraction of a second.
FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.2}


class ServerProcess:
    """One contract server in a child process; can be stopped, restarted on the same port,
    paused (SIGSTOP) and resumed."""

    def __init__(self, kind: str, **config: Any) -> None:
        self.kind = kind
        self.config = {"port": 0, **config}
        self.port = 0
        self.process: subprocess.Popen[str] | None = None
        self._log = tempfile.TemporaryFile("w+")

    @property
    def url(self) -> str:
        scheme = "https" if self.config.get("cert") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self.kind == "node" and not (CONFORMANCE / "node_modules" / "socket.io").is_dir():
            pytest.fail("run `npm ci` in conformance/ first (bash .ci/test does it)")
        config = json.dumps({**self.config, "port": self.port})
        if self.kind == "node":
            command, cwd = ["node", str(NODE_SERVER), config], CONFORMANCE
        else:
            command, cwd = [sys.executable, "-m", "tests.client.server_app", config], ROOT
        self.process = subprocess.Popen(
            command, cwd=cwd, stdout=subprocess.PIPE, stderr=self._log, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            self.process.kill()
            self._log.seek(0)
            pytest.fail(f"{self.kind} server did not start: {line!r} {self._log.read()}")
        self.port = int(line.split()[1])

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    def pause(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    async def astart(self) -> None:
        await trio.to_thread.run_sync(self.start)

    async def astop(self) -> None:
        await trio.to_thread.run_sync(self.stop)

    def close(self) -> None:
        self.stop()
        self._log.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, ServerProcess]]:
    """One long-lived server of each kind (tests that stop servers start their own)."""
    started: dict[str, ServerProcess] = {}
    try:
        for kind in KINDS:
            started[kind] = ServerProcess(kind)
            started[kind].start()
        yield started
    finally:
        for server in started.values():
            server.close()


@pytest.fixture
def make_server() -> Iterator[Callable[..., ServerProcess]]:
    """Start a server of one kind with its own options; stopped after the test."""
    made: list[ServerProcess] = []

    def make(kind: str, **config: Any) -> ServerProcess:
        server = ServerProcess(kind, **config)
        made.append(server)
        server.start()
        return server

    yield make
    for server in made:
        server.close()


def run(fn: Callable[[], Awaitable[None]], *, limit: float = 20) -> None:
    """Run ``fn`` under trio with a hard time limit."""
    async def bounded() -> None:
        with trio.fail_after(limit):
            await fn()

    trio.run(bounded)


class Recorder:
    """Records ``(name, *args)`` from handlers; tests wait for what they expect."""

    def __init__(self) -> None:
        self.items: list[tuple[Any, ...]] = []
        self._changed = trio.Event()

    def __call__(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.items.append((name, *args))
            self._changed.set()
            self._changed = trio.Event()

        return record

    def names(self) -> list[str]:
        return [item[0] for item in self.items]

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [item[1:] for item in self.items if item[0] == name]

    async def wait(self, name: str, count: int = 1) -> list[tuple[Any, ...]]:
        """Wait until ``name`` was recorded ``count`` times; its argument tuples."""
        while len(self.of(name)) < count:
            await self._changed.wait()
        return self.of(name)
