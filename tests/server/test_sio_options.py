"""The Socket.IO server's options, each shown on the wire against a live server."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import Server, Socket
from tests.server.live_util import serving
from transports import HTTPConnection, WebSocketClosed, connect_websocket, open_stream

HOST = "127.0.0.1"


def run(fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(20):
            await fn()

    trio.run(bounded)


async def _ws(port: int, target: str) -> Any:
    return await connect_websocket(await open_stream(HOST, port), HOST, target)


def test_path_transports_and_allow_upgrades() -> None:
    async def main() -> None:
        server = Server(path="/rt", transports=("websocket",))
        async with serving(server) as port:
            http = HTTPConnection(await open_stream(HOST, port), HOST)
            polling = await http.request("GET", "/rt/?EIO=4&transport=polling")
            assert (polling.status, json.loads(polling.body)["code"]) == (400, 0)
            assert (await http.request("GET", "/socket.io/?EIO=4&transport=polling")
                    ).status == 404
            await http.aclose()
            ws = await _ws(port, "/rt/?EIO=4&transport=websocket")
            assert json.loads((await ws.receive())[1:])["upgrades"] == []
            await ws.aclose()
        server = Server(allow_upgrades=False)
        async with serving(server) as port:
            http = HTTPConnection(await open_stream(HOST, port), HOST)
            opened = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
            assert json.loads(opened.body[1:])["upgrades"] == []
            await http.aclose()

    run(main)


def test_ping_interval_timeout_and_max_http_buffer_size_are_announced_in_ms() -> None:
    async def main() -> None:
        server = Server(ping_interval=1.5, ping_timeout=0.75, max_http_buffer_size=12345)
        async with serving(server) as port:
            ws = await _ws(port, "/socket.io/?EIO=4&transport=websocket")
            opened = json.loads((await ws.receive())[1:])
            assert (opened["pingInterval"], opened["pingTimeout"], opened["maxPayload"]) == (
                1500, 750, 12345)
            await ws.aclose()

    run(main)


def test_max_attachments_refuses_a_packet_with_too_many() -> None:
    async def main() -> None:
        reasons: list[str] = []
        server = Server(max_attachments=2)
        server.on("connection", lambda socket: socket.on("disconnect", reasons.append))
        async with serving(server) as port:
            ws = await _ws(port, "/socket.io/?EIO=4&transport=websocket")
            await ws.receive()
            await ws.send("40")
            await ws.receive()
            await ws.send('452-["two",{"_placeholder":true,"num":0},'
                          '{"_placeholder":true,"num":1}]')
            await ws.send_many([b"a", b"b"])
            await ws.send('453-["three",{"_placeholder":true,"num":0}]')
            with pytest.raises(WebSocketClosed), trio.fail_after(5):
                while True:
                    await ws.receive()
            with trio.fail_after(5):
                while not reasons:
                    await trio.sleep(0.01)
            assert reasons == ["forced close"]  # as Node: the decoder threw, Client.onerror closed

    run(main)


def test_handshake_details_and_socket_data() -> None:
    async def main() -> None:
        seen: dict[str, Any] = {}
        server = Server()

        @server.on("connection")
        def on_connection(socket: Socket) -> None:
            h = socket.handshake
            seen.update(header=h.headers.get("x-test"), query=h.query.get("q"), auth=h.auth,
                        address=h.address, secure=h.secure, url=h.url, time=h.time)
            socket.data["user"] = "ann"
            socket.on("who", lambda: socket.data["user"])

        async with serving(server) as port:
            async with socketio_core.connect(
                    f"http://{HOST}:{port}", transports=("websocket",), query={"q": "1"},
                    headers={"X-Test": "yes"}, auth={"token": "t"}, reconnection=False) as s:
                assert await s.emit_with_ack("who", timeout=5) == "ann"
        assert seen["header"] == "yes" and seen["query"] == "1"
        assert seen["auth"] == {"token": "t"}
        assert seen["address"] == HOST and seen["secure"] is False
        assert seen["url"].startswith("/socket.io/?") and "q=1" in seen["url"]
        assert seen["time"].endswith("GMT")

    run(main)
