"""``socketio-core serve MODULE:ATTR``: a user's server, reached by the official JS client."""

from __future__ import annotations

import gc
import re
import signal
import ssl
import sys
from pathlib import Path

import pytest
import trio

from socketio_core import connect
from tests.interop.conftest import _require_node_modules, run_scenario
from tests.tls_cert import make_cert

from .proc import Proc, console_script, run_command

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
        assert proc.finish(sig) == (130 if sig == signal.SIGINT else 0)
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


@pytest.mark.parametrize(("option", "threshold"), [([], list(gc.get_threshold())),
                                                   (["--gc-threshold", "700,10,1000"],
                                                    [700, 10, 1000])])
def test_serve_leaves_the_gc_thresholds_alone_unless_told(
        option: list[str], threshold: list[int]) -> None:
    proc = Proc([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                 "--stats", "0", *option])
    try:
        url = f"http://127.0.0.1:{proc.expect(LISTENING).group(1)}"

        async def ask() -> object:
            with trio.fail_after(10):
                async with connect(url, transports=("websocket",), reconnection=False) as c:
                    return await c.emit_with_ack("gc-threshold")

        assert trio.run(ask) == threshold
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
    completed = run_command([console_script(), "serve", target, "--port", "0"])
    assert completed.returncode == 2
    assert completed.stderr.startswith("socketio-core: ")
    assert message in completed.stderr


def test_serve_reports_a_port_in_use() -> None:
    first = Proc([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0"])
    try:
        port = first.expect(LISTENING).group(1)
        completed = run_command(
            [console_script(), "serve", "tests.cli.tiny_app:sio", "--port", port])
        assert completed.returncode == 1
        assert completed.stderr == (
            f"socketio-core: cannot listen on 127.0.0.1:{port}: Address already in use\n")
    finally:
        first.kill()


def test_serve_explains_a_missing_certificate(tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    completed = run_command([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                             "--ssl-certfile", str(missing)])
    assert completed.returncode == 1
    assert completed.stderr == f"socketio-core: {missing}: no such file\n"
    not_a_key = tmp_path / "not-a-key.pem"
    not_a_key.write_text("hello\n")
    completed = run_command([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                             "--ssl-certfile", str(not_a_key)])
    assert completed.returncode == 1
    assert completed.stderr.startswith("socketio-core: cannot use the TLS certificate or key: ")
    assert len(completed.stderr.splitlines()) == 1


def test_serve_over_tls_to_the_official_client_and_ours(tmp_path: Path) -> None:
    _require_node_modules()
    cert, key = make_cert(tmp_path)
    proc = Proc([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                 "--stats", "0", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)])
    try:
        port = proc.expect(r"listening on https://127\.0\.0\.1:(\d+)/socket\.io/").group(1)
        url = f"https://127.0.0.1:{port}"
        for transport in ("polling", "websocket", "upgrade"):
            result = run_scenario(transport, url, ca_file=cert)
            assert result["acked"] == "hi"
        # Node refuses the certificate it was not told to trust (a connect_error, not a timeout).
        refused = run_scenario("polling", url)
        assert refused["error"].startswith("Error: xhr poll error")

        async def ours() -> list[str]:
            trusted = ssl.create_default_context(cafile=str(cert))
            seen = []
            with trio.fail_after(15):
                for transports in (("polling",), ("websocket",), ("polling", "websocket")):
                    async with connect(url, transports=transports, ssl_context=trusted) as c:
                        seen.append(await c.emit_with_ack("echo", "secure"))
            return seen

        assert trio.run(ours) == ["secure"] * 3
        proc.expect(r"connect \S+ on / from 127\.0\.0\.1 over websocket")
        assert proc.finish(signal.SIGTERM) == 0
    finally:
        proc.kill()


def test_serve_at_debug_logs_handshakes_packets_and_closes() -> None:
    proc = Proc([console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                 "--stats", "0", "--log-level", "debug"])
    try:
        url = f"http://127.0.0.1:{proc.expect(LISTENING).group(1)}"

        async def client() -> None:
            with trio.fail_after(15):
                async with connect(url, transports=("websocket",), reconnection=False) as s:
                    assert await s.emit_with_ack("echo", "hi") == "hi"

        trio.run(client)
        proc.expect(r"DEBUG engineio_core: handshake: session (\S+) over websocket from "
                    r"127\.0\.0\.1")
        proc.expect(r"DEBUG socketio_core: session \S+: received '20\[\"echo\",\"hi\"\]'")
        proc.expect(r"DEBUG socketio_core: session \S+: sending '30\[\"hi\"\]'")
        proc.expect(r"DEBUG socketio_core: socket \S+ left /: client namespace disconnect")
        proc.expect(r"DEBUG engineio_core: session \S+ closed: ")
        assert proc.finish(signal.SIGTERM) == 0
    finally:
        proc.kill()
    assert "Traceback" not in "".join(proc.lines)
