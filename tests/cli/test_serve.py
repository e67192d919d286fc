"""``socketio-core serve MODULE:ATTR``: a user's server, reached by the official JS client."""

from __future__ import annotations

import re
import signal
import subprocess
import sys

import pytest

from tests.interop.conftest import ROOT, _require_node_modules, run_scenario

from .proc import Proc, console_script

LISTENING = r"listening on http://127\.0\.0\.1:(\d+)/socket\.io/"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_runs_a_users_server_and_logs_what_it_does(sig: int) -> None:
    _require_node_modules()
    proc = Proc([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                 "--stats", "0.2", "--log-level", "info"])
    try:
        url = f"http://127.0.0.1:{proc.expect(LISTENING).group(1)}"
        for transport in ("polling", "websocket", "upgrade"):
            result = run_scenario(transport, url)
            assert result["acked"] == "hi"
        proc.expect(r"INFO socketio_core\.cli: connect \S+ on / from 127\.0\.0\.1 over polling")
        proc.expect(r"INFO socketio_core\.cli: disconnect \S+ from /: client namespace disconnect")
        # Three clients came: the activity lines add up to that, none is left out. (Not all
        # are seen to go: a polling client's last POST may die with its Node process, and its
        # session then waits for the ping timeout.)
        stats = re.compile(r"INFO socketio_core\.cli: \d+ clients, \d+ sockets, \d+ rooms; "
                           r"\+(\d+) -\d+ connections; events [\d.]+/s in, [\d.]+/s out")
        for _ in range(100):
            came = sum(int(m.group(1)) for line in proc.lines if (m := stats.search(line)))
            if came >= 3:
                break
            proc.expect(stats.pattern)
        assert came == 3
        assert proc.finish(sig) == 0
    finally:
        proc.kill()
    output = "".join(proc.lines)
    assert f"{signal.Signals(sig).name}: shutting down" in output
    assert "Traceback" not in output


def test_serve_with_a_factory_and_python_dash_m() -> None:
    proc = Proc([sys.executable, "-m", "socketio_core", "serve", "tests.cli.tiny_app:make",
                 "--factory", "--port", "0", "--stats", "0"])
    try:
        proc.expect(LISTENING)
        assert proc.finish() == 0
    finally:
        proc.kill()


@pytest.mark.parametrize(("target", "message"), [
    ("tests.cli.tiny_app", "expected MODULE:ATTR"),
    ("tests.cli.no_such_module:sio", "cannot import 'tests.cli.no_such_module'"),
    ("tests.cli.tiny_app:nope", "has no attribute 'nope'"),
    ("tests.cli.tiny_app:not_a_server", "is a object, not a socketio_core.Server"),
    ("tests.asgi.app:app", "hypercorn -k trio tests.asgi.app:app"),
])
def test_serve_explains_a_bad_target(target: str, message: str) -> None:
    completed = subprocess.run([console_script(), "serve", target, "--port", "0"], cwd=ROOT,
                               capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2
    assert completed.stderr.startswith("socketio-core: ")
    assert message in completed.stderr


def test_serve_reports_a_port_in_use() -> None:
    first = Proc([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0"])
    try:
        port = first.expect(LISTENING).group(1)
        completed = subprocess.run(
            [console_script(), "serve", "tests.cli.tiny_app:sio", "--port", port],
            cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert completed.returncode == 1
        assert "address already in use" in completed.stderr.lower()
    finally:
        first.kill()
