"""What the server logs, as Node's ``DEBUG=engine*,socket.io*`` shows it: at DEBUG the
handshakes, upgrades, packets in and out and closes with their reasons; at INFO the requests
it refuses (CORS, an unsupported ``EIO``, ``allow_request``, a middleware) with their
Engine.IO error code."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import trio

from socketio_core import ConnectError, Server, Socket, connect
from tests.server.live_util import HOST, serving
from transports import HTTPConnection, open_stream


def _lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno == level]


def _in_order(lines: list[str], patterns: list[str]) -> None:
    position = 0
    for pattern in patterns:
        regex = re.compile(pattern)
        for index in range(position, len(lines)):
            if regex.search(lines[index]):
                position = index + 1
                break
        else:
            raise AssertionError(f"no line matching {pattern!r} after line {position}:\n"
                                 + "\n".join(lines))


def test_debug_shows_a_sessions_life(caplog: pytest.LogCaptureFixture) -> None:
    server = Server()

    @server.on("connection")
    async def hello(socket: Socket) -> None:
        await server.emit("news", "hi")

    async def main() -> str:
        with trio.fail_after(15):
            async with serving(server) as port:
                async with connect(f"http://{HOST}:{port}", reconnection=False) as client:
                    while client.io.transport != "websocket":
                        await trio.sleep(0.02)
                    sid = str(client.id)
                await trio.sleep(0.1)
        return sid

    with caplog.at_level(logging.DEBUG):
        sid = trio.run(main)
    _in_order(_lines(caplog, logging.DEBUG), [
        r"^engineio_core: handshake: session (\S+) over polling from 127\.0\.0\.1$",
        r"^socketio_core: session \S+: received '0'$",  # the client's CONNECT to "/"
        # The connection handler's broadcast, held until the CONNECT has left:
        r"^socketio_core: broadcast 'news' on / to all: 1 sockets$",
        rf"^socketio_core: session \S+: sending '0{{\"sid\":\"{sid}\"}}'$",
        r"^engineio_core: session \S+ upgraded to websocket$",
        r"^socketio_core: session \S+: received '1'$",  # its DISCONNECT
        rf"^socketio_core: socket {sid} left /: client namespace disconnect$",
        r"^engineio_core: session \S+ closed: ",
    ])


def _refusing_server() -> Server:
    server = Server(cors_allowed_origins=["https://app.example.com"],
                    allow_request=lambda handshake: "deny" not in handshake.query)

    @server.use
    def middleware(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "good":
            raise ConnectError("not authorized")

    return server


async def _get(port: int, target: str, headers: list[tuple[str, str]]) -> int:
    async with HTTPConnection(await open_stream(HOST, port), HOST) as connection:
        return (await connection.request("GET", target, headers)).status


def test_info_shows_the_refusals_with_their_codes(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> list[Any]:
        with trio.fail_after(15):
            async with serving(_refusing_server()) as port:
                polling = "/socket.io/?EIO=4&transport=polling"
                statuses = [
                    await _get(port, polling, [("Origin", "https://evil.example.com")]),
                    await _get(port, "/socket.io/?EIO=3&transport=polling", []),
                    await _get(port, polling + "&sid=nope", []),
                    await _get(port, polling + "&deny=1", []),
                ]
                with pytest.raises(ConnectError):
                    async with connect(f"http://{HOST}:{port}", reconnection=False,
                                       auth={"token": "bad"}):
                        pass
        return statuses

    with caplog.at_level(logging.INFO):
        assert trio.run(main) == [400, 400, 400, 403]
    assert not _lines(caplog, logging.DEBUG)
    _in_order(_lines(caplog, logging.INFO), [
        r"^engineio_core: refused GET /socket\.io/\?EIO=4&transport=polling from 127\.0\.0\.1: "
        r"origin https://evil\.example\.com not allowed \(cors_allowed_origins\)$",
        r"^engineio_core: refused GET /socket\.io/\?EIO=3&transport=polling from 127\.0\.0\.1: "
        r"Unsupported protocol version \(Engine\.IO error 5, HTTP 400\)$",
        r"^engineio_core: refused GET \S+&sid=nope from 127\.0\.0\.1: "
        r"Session ID unknown \(Engine\.IO error 1, HTTP 400\)$",
        r"^engineio_core: refused GET \S+&deny=1 from 127\.0\.0\.1: "
        r"Forbidden \(Engine\.IO error 4, HTTP 403, by allow_request\)$",
        r"^socketio_core: connection of session \S+ to / refused by a middleware: "
        r"not authorized$",
    ])


def test_info_logs_no_packet(caplog: pytest.LogCaptureFixture) -> None:
    server = Server()

    async def main() -> None:
        with trio.fail_after(15):
            async with serving(server) as port:
                async with connect(f"http://{HOST}:{port}", reconnection=False) as client:
                    await client.emit("ignored", 1)

    with caplog.at_level(logging.INFO):
        trio.run(main)
    assert not [r for r in caplog.records if r.levelno < logging.INFO]
