"""examples/sans_io_echo.py (the Sans-IO guide's program) runs, and real clients talk to it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trio

from socketio_core import connect
from tests.interop.conftest import ROOT, _require_node_modules, _start, _stop, run_scenario
from transports import HTTPConnection, WebSocketClosed, connect_websocket, open_stream

EXAMPLE = ROOT / "examples" / "sans_io_echo.py"
GUIDE = ROOT / "docs" / "sans-io.md"
TARGET = "/socket.io/?EIO=4&transport=websocket"


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    process, url = _start([sys.executable, str(EXAMPLE), "0"], ROOT)
    yield url
    _stop(process)


def test_the_official_js_client_gets_its_ack(echo_url: str) -> None:
    _require_node_modules()
    assert run_scenario("websocket", echo_url) == {
        "acked": "hi", "transport": "websocket", "id": "string"}


def test_our_client_with_binary_ack_and_echo(echo_url: str) -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with connect(echo_url, transports=("websocket",), reconnection=False) as s:
                echoed: list[tuple[object, ...]] = []
                s.on("echo", lambda *args: echoed.append(args))
                assert await s.emit_with_ack("echo", "hi", {"b": b"\x01\x02"}) == (
                    "hi", {"b": b"\x01\x02"})
                await s.emit("echo", "back", b"\x03")
                while not echoed:
                    await trio.sleep(0.01)
                assert echoed == [("back", b"\x03")]

    trio.run(main)


def test_a_bad_handshake_is_refused_with_the_engineio_message(echo_url: str) -> None:
    host, port = echo_url.removeprefix("http://").split(":")

    async def main() -> None:
        with trio.fail_after(10):
            async with HTTPConnection(await open_stream(host, int(port)), host) as conn:
                response = await conn.request("GET", "/socket.io/?EIO=3&transport=websocket", [
                    ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                    ("Sec-WebSocket-Version", "13")])
                assert (response.status, response.body) == (400, b"Unsupported protocol version")

    trio.run(main)


def test_the_guide_quotes_the_example_verbatim() -> None:
    guide = GUIDE.read_text()
    example = EXAMPLE.read_text()
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.S)
    assert len(blocks) >= 4
    for block in blocks:
        assert block in example, f"docs/sans-io.md drifted from the example:\n{block}"


def test_the_guide_links_resolve() -> None:
    for link in re.findall(r"\]\(([^)#:]+)\)", GUIDE.read_text()):
        assert (GUIDE.parent / link).resolve().exists(), link




def test_ctrl_c_closes_every_session_and_exits_cleanly() -> None:
    """Each session is closed, and its client told: a WebSocket close with code 1000 (Node sends
    no close packet on WebSocket either), nothing cut."""
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "0"], cwd=ROOT, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().split()[1])

        async def main() -> list[list[object]]:
            seen: list[list[object]] = []
            with trio.fail_after(15):
                clients = []
                for _ in range(2):
                    ws = await connect_websocket(await open_stream("127.0.0.1", port),
                                                 "127.0.0.1", TARGET)
                    assert str(await ws.receive()).startswith("0{")
                    await ws.send("40")
                    assert str(await ws.receive()).startswith("40{")
                    clients.append(ws)
                process.send_signal(signal.SIGINT)
                for ws in clients:
                    got: list[object] = []
                    try:
                        while True:
                            got.append(await ws.receive())
                    except WebSocketClosed as closed:
                        got.append(closed.code)
                    seen.append(got)
            return seen

        assert trio.run(main) == [[1000], [1000]]
        assert process.wait(timeout=10) == 0
        assert process.stderr is not None and process.stderr.read() == ""
    finally:
        process.kill()
        process.wait()
