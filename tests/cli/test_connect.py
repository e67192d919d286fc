"""``socketio-core connect URL``, typed at like a person would, against our server and against
the official Node server (both implement the contract of tests/interop/app.py)."""

from __future__ import annotations

import io
import socket
import sys
from collections.abc import Iterator

import pytest
import trio

from socketio_core import ConnectError, Manager
from socketio_core.cli_connect import Console, parse_values
from tests.interop.conftest import CONFORMANCE, ROOT, _require_node_modules, _start, _stop

from .proc import Proc, console_script, run_command


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
        proc.send('emit echo say hi 42 true "two words" 1e3x')  # bare words are strings
        proc.expect(r'^< / echo \["say","hi",42,true,"two words","1e3x"\]$')
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
        proc.expect(r"^! no ack for never-ack within 0\.5s$")
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


def test_acks_are_answered_while_typing_goes_on(server_url: str) -> None:
    proc = Proc([console_script(), "connect", server_url, "--ack-timeout", "3",
                 "--no-reconnect"])
    try:
        proc.expect(r"^\* connected / ")
        proc.send("ack never-ack")
        proc.send("emit echo after")
        proc.send("ack whoami")
        # The echo and the other ack come (in either order: the echo handler awaits) while
        # the first ack still waits.
        either = r'^(< / echo \["after"\]|= / whoami \["/"\])$'
        assert {proc.expect(either).group(1), proc.expect(either).group(1)} == {
            '< / echo ["after"]', '= / whoami ["/"]'}
        proc.expect(r"^! no ack for never-ack within 3s$")
        assert proc.finish(None) == 0
    finally:
        proc.kill()


def test_a_ws_url_is_accepted(server_url: str) -> None:
    ws_url = server_url.replace("http://", "ws://")
    proc = Proc([console_script(), "connect", ws_url + "/admin", "--auth", '{"token": "secret"}',
                 "--transport", "websocket", "--no-reconnect"])
    try:
        proc.expect(r"^\* connected /admin id=\S+ transport=websocket$")
        assert proc.finish(None) == 0
    finally:
        proc.kill()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


REFUSED = (r"^! cannot connect to http://127\.0\.0\.1:{port} \(xhr poll error\): "
           r"Connection refused{retry}$")


def test_no_server_and_no_reconnect_is_one_line_and_exit_status_1() -> None:
    port = _free_port()
    proc = Proc([console_script(), "connect", f"http://127.0.0.1:{port}", "--no-reconnect"])
    try:
        proc.expect(REFUSED.format(port=port, retry=""))
        proc.process.wait(timeout=15)  # by itself: its input is still open
        assert proc.finish(None) == 1
    finally:
        proc.kill()
    assert len(proc.lines) == 1, proc.lines


def test_no_server_is_said_once_and_nothing_is_sent_until_it_comes() -> None:
    port = _free_port()
    proc = Proc([console_script(), "connect", f"http://127.0.0.1:{port}"])
    server = None
    try:
        proc.expect(REFUSED.format(port=port, retry="; retrying"))
        proc.send("emit echo hi")
        proc.expect(r"^! not connected to /: Connection refused; nothing was sent$")
        proc.send("ack echo hi")
        proc.expect(r"^! not connected to /: Connection refused; nothing was sent$")
        server, _ = _start([sys.executable, "-m", "tests.interop.app", str(port)], ROOT)
        # The manager's news and the namespace's come from two tasks, in either order.
        news = {proc.expect(r"^\* (connected / id=|reconnected after \d+ attempts?$)").group(1)
                for _ in range(2)}
        assert news == {"connected / id="} | {n for n in news if n.startswith("reconnected")}
        assert len(news) == 2
        proc.send("emit echo back")
        proc.expect(r'^< / echo \["back"\]$')
        assert proc.finish(None) == 0
    finally:
        proc.kill()
        if server is not None:
            _stop(server)
    assert sum("cannot connect" in line for line in proc.lines) == 1, proc.lines


def test_the_same_failure_is_said_once() -> None:
    async def main() -> list[str]:
        out = io.StringIO()
        async with Manager("http://127.0.0.1:1", auto_connect=False) as manager, \
                trio.open_nursery() as nursery:
            console = Console(manager, out, auth=None, ack_timeout=1, nursery=nursery)
            refused = ConnectError("xhr poll error", "all attempts failed: Connection refused")
            for error in (refused, refused, ConnectError("websocket error", "a: b: timed out")):
                console._on_engine_error(error)
            nursery.cancel_scope.cancel()
        return out.getvalue().splitlines()

    assert trio.run(main) == [
        "! cannot connect to http://127.0.0.1:1 (xhr poll error): Connection refused; retrying",
        "! cannot connect to http://127.0.0.1:1 (websocket error): timed out; retrying"]


@pytest.mark.parametrize(("args", "message"), [
    (["localhost:3000"], "expected an http(s):// or ws(s):// URL, got 'localhost:3000'"),
    (["http://127.0.0.1:notaport"], "bad port in 'http://127.0.0.1:notaport'"),
    (["http://127.0.0.1:3000", "--auth", "not json"], "--auth is not JSON: Expecting value"),
    (["http://127.0.0.1:3000", "--auth", "[1]"], "--auth must be a JSON object"),
    (["http://127.0.0.1:3000", "--query", "novalue"], "--query expects KEY=VALUE"),
])
def test_a_bad_command_line_is_one_line_and_exit_status_2(args: list[str], message: str) -> None:
    completed = run_command([console_script(), "connect", *args])
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"socketio-core: {message}")
    assert len(completed.stderr.splitlines()) == 1, completed.stderr


def test_values_are_json_or_bare_words() -> None:
    assert parse_values('say hi 42 -1.5 true null "two words" [1, {"a": {"$bin": "ff"}}] NaN') == [
        "say", "hi", 42, -1.5, True, None, "two words", [1, {"a": b"\xff"}], "NaN"]
    with pytest.raises(ValueError, match="not JSON at"):
        parse_values('{"unclosed": 1')
