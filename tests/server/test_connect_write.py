"""The CONNECT reply leaves in a write of its own, before anything the connection handler sends,
as Node writes each packet with its own write (the official socket.io-protocol suite's ``ws``
client loses a second message that arrives in the same read). Checked where the server writes:
each write its WebSocket makes is recorded."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import trio

from socketio_core import Server, Socket
from tests.server.live_util import HOST, serving
from transports import StreamWebSocket, connect_websocket, open_stream

TARGET = "/socket.io/?EIO=4&transport=websocket"


def _sync(socket: Socket) -> None:
    socket.emit_nowait("auth", socket.handshake.auth)


async def _awaiting(socket: Socket) -> None:  # the suite's reference handler
    await socket.emit("auth", socket.handshake.auth)


async def _then_waits(socket: Socket) -> None:
    socket.emit_nowait("auth", socket.handshake.auth)
    await trio.sleep(0)
    socket.emit_nowait("later")


HANDLERS: dict[str, Callable[[Socket], Any]] = {
    "sync": _sync, "awaiting": _awaiting, "then-waits": _then_waits}


@pytest.mark.parametrize("namespace", ["/", "/custom"])
@pytest.mark.parametrize("handler", HANDLERS)
def test_the_connect_reply_is_written_alone_before_the_handlers_output(
    monkeypatch: pytest.MonkeyPatch, namespace: str, handler: str
) -> None:
    writes: list[bytes] = []
    send_framed_nowait = StreamWebSocket.send_framed_nowait

    def recorded(self: StreamWebSocket, data: bytes) -> bool:
        writes.append(bytes(data))
        return send_framed_nowait(self, data)

    monkeypatch.setattr(StreamWebSocket, "send_framed_nowait", recorded)
    server = Server()
    server.of(namespace).on("connection", HANDLERS[handler])
    prefix = "" if namespace == "/" else f"{namespace},"

    async def main() -> list[str]:
        with trio.fail_after(10):
            async with serving(server) as port:
                ws = await connect_websocket(await open_stream(HOST, port), HOST, TARGET)
                assert str(await ws.receive()).startswith("0{")
                await ws.send(f"40{prefix}{{\"token\":\"abc\"}}")
                received = [str(await ws.receive()) for _ in range(2)]
                await ws.aclose()
                return received

    connect, auth = run(main)
    assert connect.startswith(f"40{prefix}{{\"sid\":")
    assert auth == f'42{prefix}["auth",{{"token":"abc"}}]'
    [connect_write] = [n for n, data in enumerate(writes) if connect.encode() in data]
    [auth_write] = [n for n, data in enumerate(writes) if auth.encode() in data]
    assert connect_write < auth_write
    assert writes[connect_write].endswith(connect.encode())
    assert len(writes[connect_write]) == len(connect) + 2  # one frame: a 2-byte header


def run(fn: Any) -> Any:
    return trio.run(fn)
