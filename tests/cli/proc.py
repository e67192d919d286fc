"""A subprocess whose output lines a test waits for, each wait under a deadline."""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import time

import pytest

from tests.interop.conftest import ROOT


def console_script() -> str:
    path = shutil.which("socketio-core")
    if path is None:
        pytest.fail("the socketio-core console script is missing: `python3 -m pip install -e .`")
    return path


def run_command(command: list[str], timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to its end from the repository root (this checkout's packages first);
    its output captured as text."""
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


class Proc:
    """``command`` with stdin piped and stdout+stderr merged into ``lines``."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, bufsize=1,
            env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"},
        )
        assert self.process.stdout is not None
        self._fd = self.process.stdout.fileno()
        self._partial = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(self._fd, selectors.EVENT_READ)
        self.lines: list[str] = []
        self._seen = 0

    def expect(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        """Wait for the next line (after the last one matched) matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for index in range(self._seen, len(self.lines)):
                if match := regex.search(self.lines[index]):
                    self._seen = index + 1
                    return match
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.selector.select(timeout=remaining):
                pytest.fail(f"no line matching {pattern!r}; output:\n{''.join(self.lines)}")
            # Raw reads: a buffered readline() could hold lines the selector no longer sees.
            chunk = os.read(self._fd, 65536)
            if not chunk:
                pytest.fail(f"exited before {pattern!r}; output:\n{''.join(self.lines)}")
            self._partial += chunk
            *complete, self._partial = self._partial.split(b"\n")
            self.lines.extend(line.decode(errors="replace") + "\n" for line in complete)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, sig: int | None = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Signal (or close stdin when ``sig`` is None), wait, collect the rest; exit code."""
        if sig is not None and self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            rest = self._rest(sig, timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"did not exit; output:\n{''.join(self.lines)}")
        self.lines.extend(line + "\n" for line in rest.splitlines())
        return self.process.returncode

    def _rest(self, sig: int | None, timeout: float) -> str:
        """Close stdin (for ``sig=None``), read the output to its end, reap the process."""
        assert self.process.stdin is not None
        if sig is None:
            self.process.stdin.close()
        deadline = time.monotonic() + timeout
        data = self._partial
        self._partial = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.selector.select(timeout=remaining):
                raise subprocess.TimeoutExpired(self.process.args, timeout)
            chunk = os.read(self._fd, 65536)
            if not chunk:
                break
            data += chunk
        self.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
        return data.decode(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
