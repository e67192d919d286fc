"""Real processes on loopback: our interop app, the official Node server, the official client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "conformance"
SCENARIOS_JS = CONFORMANCE / "js" / "client_scenarios.mjs"


def _require_node_modules() -> None:
    if not (CONFORMANCE / "node_modules" / "socket.io-client").is_dir():
        pytest.fail("run `npm ci` in conformance/ first (bash .ci/test does it)")


def _start(command: list[str], cwd: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening "):
        process.kill()
        rest = process.stdout.read()
        pytest.fail(f"{command} did not start: {line}{rest}")
    return process, f"http://127.0.0.1:{int(line.split()[1])}"


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def our_server() -> Iterator[str]:
    _require_node_modules()
    process, url = _start([sys.executable, "-m", "tests.interop.app", "0"], ROOT)
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def our_recovery_server() -> Iterator[str]:
    """Ours with connection state recovery on (sessions kept 3 s)."""
    _require_node_modules()
    process, url = _start([sys.executable, "-m", "tests.interop.app", "0", "recovery"], ROOT)
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def reference_recovery_server() -> Iterator[str]:
    """The official server with ``connectionStateRecovery`` on (sessions kept 3 s)."""
    _require_node_modules()
    process, url = _start(
        ["node", str(CONFORMANCE / "js" / "reference_server.mjs"), "0", "recovery"], CONFORMANCE)
    yield url
    _stop(process)


@pytest.fixture(scope="session")
def reference_server() -> Iterator[str]:
    _require_node_modules()
    process, url = _start(["node", str(CONFORMANCE / "js" / "reference_server.mjs"), "0"],
                          CONFORMANCE)
    yield url
    _stop(process)


def run_scenario(name: str, url: str, *, ca_file: Path | None = None) -> Any:
    """Run one scenario of client_scenarios.mjs with the official client; its JSON result.
    ``ca_file``: a certificate Node trusts (an https server's self-signed one)."""
    env = None if ca_file is None else {**os.environ, "NODE_EXTRA_CA_CERTS": str(ca_file)}
    completed = subprocess.run(
        ["node", str(SCENARIOS_JS), name, url], cwd=CONFORMANCE,
        capture_output=True, text=True, timeout=30, env=env,
    )
    lines = completed.stdout.strip().splitlines()
    assert lines, f"scenario {name} printed nothing; stderr: {completed.stderr}"
    return json.loads(lines[-1])
