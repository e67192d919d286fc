"""``socketio-core connect URL``, typed at like a person would, against our server and against
the official Node server (both implement the contract of tests/interop/app.py)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.interop.conftest import CONFORMANCE, ROOT, _require_node_modules, _start, _stop

from .proc import Proc, console_script


@pytest.fixture(scope="module", params=["ours", "node"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    _require_node_modules()
    if request.param == "ours":
        process, url = _start([sys.executable, "-m", "tests.interop.app", "0"], ROOT)
    else:
        process, url = _start(
            ["node", str(CONFORMANCE / "js" / "reference_server.mjs"), "0"], CONFORMANCE)
    yield url
    _stop(process)


@pytest.mark.parametrize("transport", ["polling", "websocket", "both"])
def test_emit_ack_and_every_incoming_event(server_url: str, transport: str) -> None:
    proc = Proc([console_script(), "connect", server_url, "--transport", transport,
                 "--ack-timeout", "5", "--no-reconnect"])
    try:
        expected_transport = "polling" if transport == "polling" else r"\w+"
        proc.expect(rf"^\* connected / id=\S+ transport={expected_transport}$")
        proc.send('emit echo "hi" 1 {"deep": [true, null]}')
        proc.expect(r'^< / echo \["hi",1,\{"deep":\[true,null\]\}\]$')
        proc.send('ack echo {"a": {"$bin": "0102ff"}} "text"')
        proc.expect(r'^= / echo \[\{"a":\{"\$bin":"0102ff"\}\},"text"\]$')
        proc.send("emit send-binary")
        proc.expect(r'^< / binary-from-server \[\{"x":\{"\$bin":"0708"\},'
                    r'"nested":\[\{"\$bin":"00"\}\]\}\]$')
        proc.send('ack join "r1"')
        proc.expect(r"^= / join \[true\]$")
        proc.send('ack to-all "hello all"')
        proc.expect(r'^< / room-message \["hello all"\]$')
        proc.send("please-ask-nothing")
        proc.expect(r"^! unknown command 'please-ask-nothing'")
        proc.send("emit echo {not json")
        proc.expect(r"^! not JSON at '\{not json'")
        proc.send("emit disconnect-me")
        proc.expect(r"^\* disconnected /: io server disconnect$")
        proc.send("quit")
        assert proc.finish(None) == 0
    finally:
        proc.kill()


def test_namespaces_auth_and_ack_timeout(server_url: str) -> None:
    proc = Proc([console_script(), "connect", server_url + "/admin", "--auth",
                 '{"token": "secret"}', "--ack-timeout", "0.5", "--no-reconnect"])
    try:
        proc.expect(r"^\* connected /admin id=\S+")
        proc.send("ack whoami")
        proc.expect(r'^= /admin whoami \["/admin"\]$')
        proc.send("ack never-ack")
        proc.expect(r"^! no ack within 0\.5s$")
        proc.send("namespace /")
        proc.expect(r"^\* connected / id=\S+")
        proc.send("ack whoami")
        proc.expect(r'^= / whoami \["/"\]$')
        assert proc.finish(None) == 0  # end of input ends the session
    finally:
        proc.kill()


def test_a_refused_namespace_is_shown(server_url: str) -> None:
    proc = Proc([console_script(), "connect", server_url, "--namespace", "/admin",
                 "--no-reconnect"])
    try:
        proc.expect(r'^! connect_error /admin: not authorized \{"code":42\}$')
        assert proc.finish(None) == 0
    finally:
        proc.kill()


def test_a_bad_url_is_a_usage_error() -> None:
    completed = subprocess.run([console_script(), "connect", "localhost:3000"], cwd=ROOT,
                               capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2
    assert "expected an http(s):// URL" in completed.stderr
