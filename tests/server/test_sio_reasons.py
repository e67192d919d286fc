"""What a server-side Socket.IO socket is told when it goes: the ``disconnecting`` handlers (still
in their rooms) and then ``disconnect``, with Node's reason strings, as plain ``str``, for every
way a connection can end; and leaving ``async with`` shuts the server down gracefully."""

from __future__ import annotations

import socket as stdlib_socket
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import Server, Socket
from tests.server.live_util import serving
from transports import WebSocket, WebSocketClosed, connect_websocket, open_stream

HOST = "127.0.0.1"
WS_TARGET = "/socket.io/?EIO=4&transport=websocket"


def run(fn: Callable[[], Awaitable[None]], timeout: float = 20.0) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


class Recorder:
    """A server whose sockets record ``disconnecting`` (with their rooms) and ``disconnect``."""

    def __init__(self, **options: Any) -> None:
        self.server = Server(**options)
        self.seen: list[tuple[Any, ...]] = []
        self.errors: list[Exception] = []
        self.server.on("connection", self._on_connection)

    def _on_connection(self, socket: Socket) -> None:
        socket.join("room")
        socket.on("disconnecting", lambda reason: self.seen.append(
            ("disconnecting", reason, type(reason), frozenset(socket.rooms) - {socket.id})))
        socket.on("disconnect", lambda reason: self.seen.append(
            ("disconnect", reason, type(reason), frozenset(socket.rooms))))
        socket.on("error", lambda error: self.errors.append(error))

    def expected(self, reason: str) -> list[tuple[Any, ...]]:
        return [("disconnecting", reason, str, frozenset({"room"})),
                ("disconnect", reason, str, frozenset())]

    async def wait(self) -> None:
        with trio.fail_after(5):
            while len(self.seen) < 2 or self.server.engine.sessions:
                await trio.sleep(0.01)


async def joined(port: int, **options: Any) -> WebSocket:
    """A raw WebSocket that has joined the main namespace."""
    ws = await connect_websocket(await open_stream(HOST, port), HOST, WS_TARGET, **options)
    assert str(await ws.receive()).startswith("0{")
    await ws.send("40")
    assert str(await ws.receive()).startswith("40{")
    return ws


async def until_closed(ws: WebSocket) -> None:
    with trio.fail_after(5), pytest.raises(WebSocketClosed):
        while True:
            await ws.receive()


@pytest.mark.parametrize("frame", [
    "4x", '42{"a":1}', '42["ev"', "42[]", "42[1]", "43", "44", '45-["a"]',
    '42999999999999999999999999999999["x"]',
], ids=["bad type", "object payload", "cut JSON", "no event name", "numeric event name",
        "ack without id", "CONNECT_ERROR from a client", "attachments without count",
        "huge ack id"])
def test_a_malformed_socketio_packet_ends_the_connection_with_forced_close(frame: str) -> None:
    """As Node: the Socket.IO decoder's error closes the Engine.IO connection ("forced close");
    an Engine.IO packet that does not parse is the one that ends with "parse error"."""
    async def main() -> None:
        recorder = Recorder()
        async with serving(recorder.server) as port:
            ws = await joined(port)
            await ws.send(frame)
            await until_closed(ws)
            await recorder.wait()
        assert recorder.seen == recorder.expected("forced close")
        # As Node's Client.onerror: the socket's "error" handlers hear why.
        assert len(recorder.errors) == 1
        assert isinstance(recorder.errors[0], socketio_core.protocol.ProtocolError)

    run(main)


def test_a_packet_for_a_namespace_not_joined_is_a_forced_server_close() -> None:
    # As Node's Client.ondecoded: a packet in an invalid state closes the whole connection.
    async def main() -> None:
        recorder = Recorder()
        async with serving(recorder.server) as port:
            ws = await joined(port)
            await ws.send('42/elsewhere,["x"]')
            await until_closed(ws)
            await recorder.wait()
        assert recorder.seen == recorder.expected("forced server close")

    run(main)


@pytest.mark.parametrize(("how", "reason"), [
    ("close the WebSocket", "transport close"),
    ("reset the TCP connection", "transport close"),
    ("send the engine close packet", "transport close"),
    ("leave the namespace", "client namespace disconnect"),
    ("send a message over the size limit", "transport error"),
])
def test_the_client_going_away(how: str, reason: str) -> None:
    async def main() -> None:
        recorder = Recorder(max_http_buffer_size=1000)
        async with serving(recorder.server) as port:
            ws = await joined(port, max_message_size=10**6)
            if how == "close the WebSocket":
                await ws.aclose()
            elif how == "reset the TCP connection":
                assert isinstance(ws.stream, trio.SocketStream)
                ws.stream.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER,
                                     b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
                await trio.aclose_forcefully(ws.stream)
            elif how == "send the engine close packet":
                await ws.send("1")
            elif how == "leave the namespace":
                await ws.send("41")
            else:
                await ws.send("4" + "x" * 2000)
            with trio.fail_after(5):
                while len(recorder.seen) < 2:
                    await trio.sleep(0.01)
            await ws.aclose()
        assert recorder.seen == recorder.expected(reason)
        assert recorder.errors == []

    run(main)


def test_the_server_side_ways_to_end_a_socket() -> None:
    async def main() -> None:
        recorder = Recorder(connect_timeout=0.3)
        async with serving(recorder.server) as port:
            for close in (False, True):
                recorder.seen.clear()
                ws = await joined(port)
                socket = next(iter(recorder.server.sockets.values()))
                await socket.disconnect(close)
                assert await ws.receive() == "41"
                with trio.fail_after(5):
                    while len(recorder.seen) < 2:
                        await trio.sleep(0.01)
                assert recorder.seen == recorder.expected("server namespace disconnect")
                await ws.aclose()

    run(main)


def test_leaving_async_with_tells_every_client_and_every_handler() -> None:
    async def main() -> None:
        recorder = Recorder()
        client_reasons: list[str] = []
        async with trio.open_nursery() as nursery, AsyncExitStack() as clients:
            async with recorder.server as server:
                listeners = await nursery.start(server.serve, HOST, 0)
                port = listeners[0].socket.getsockname()[1]
                for transport in ("websocket", "polling"):
                    client = await clients.enter_async_context(socketio_core.connect(
                        f"http://{HOST}:{port}", transports=(transport,), reconnection=False))
                    client.on("disconnect", client_reasons.append)
                raw = await joined(port)
                with trio.fail_after(5):
                    while len(server.sockets) < 3:
                        await trio.sleep(0.01)
            await until_closed(raw)
            with trio.fail_after(5):
                while len(client_reasons) < 2:
                    await trio.sleep(0.01)
            # serve() returned once the server closed: the nursery ends without a cancel.
        assert client_reasons == ["transport close"] * 2
        # Each socket's disconnecting runs at once, its disconnect handlers after: interleaved.
        assert sorted(recorder.seen, key=repr) == sorted(
            recorder.expected("server shutting down") * 3, key=repr)
        assert recorder.server.engine.sessions == {}

    run(main)
