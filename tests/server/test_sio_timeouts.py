"""The server's timeouts on the mock clock, over memory streams: each fires at its deadline to
the instant, with Node's reasons (the ping timeout, the connect timeout, the upgrade timeout)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio
import trio.testing

from socketio_core import Server, Socket
from tests.server.live_util import HOST, in_memory
from transports import HTTPConnection, WebSocketClosed, connect_websocket

WS = "/socket.io/?EIO=4&transport=websocket"


def run_mock(fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(1000):  # mock seconds
            await fn()

    trio.run(bounded, clock=trio.testing.MockClock(autojump_threshold=0))


async def closed(ws: Any) -> float:
    """When the server closed ``ws`` (reading what came before)."""
    with pytest.raises(WebSocketClosed):
        while True:
            await ws.receive()
    return trio.current_time()


def test_ping_timeout_at_ping_interval_plus_ping_timeout() -> None:
    seen: list[tuple[str, str, frozenset[str], float]] = []
    gone = trio.Event()

    async def main() -> None:
        server = Server(ping_interval=25, ping_timeout=20)

        @server.on("connection")
        def connected(socket: Socket) -> None:
            socket.join("room")
            socket.on("disconnecting", lambda reason: seen.append(
                ("disconnecting", reason, socket.rooms - {socket.id}, trio.current_time())))

            def disconnect(reason: str) -> None:
                seen.append(("disconnect", reason, socket.rooms, trio.current_time()))
                gone.set()

            socket.on("disconnect", disconnect)

        async with in_memory(server) as connect:
            start = trio.current_time()
            ws = await connect_websocket(await connect(), HOST, WS)
            assert str(await ws.receive()).startswith("0{")
            await ws.send("40")
            assert str(await ws.receive()).startswith("40{")
            assert await ws.receive() == "2"  # the ping we never answer
            assert trio.current_time() - start == 25
            await gone.wait()
            assert seen == [
                ("disconnecting", "ping timeout", frozenset({"room"}), start + 45),
                ("disconnect", "ping timeout", frozenset(), start + 45)]
            assert await closed(ws) == start + 45

    run_mock(main)


def test_connect_timeout_closes_a_session_that_joins_no_namespace() -> None:
    async def main() -> None:
        server = Server(connect_timeout=30)  # before the ping timeout (25 + 20)
        async with in_memory(server) as connect:
            start = trio.current_time()
            ws = await connect_websocket(await connect(), HOST, WS)
            assert str(await ws.receive()).startswith("0{")
            assert await closed(ws) == start + 30
            assert server.engine.sessions == {}

    run_mock(main)


def test_upgrade_timeout_drops_a_probe_that_never_completes() -> None:
    async def main() -> None:
        server = Server(upgrade_timeout=10)
        async with in_memory(server) as connect:
            http = HTTPConnection(await connect(), HOST)
            opened = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
            sid = json.loads(opened.body[1:])["sid"]
            probe = await connect_websocket(await connect(), HOST, f"{WS}&sid={sid}")
            start = trio.current_time()
            await probe.send("2probe")
            assert await probe.receive() == "3probe"
            assert await closed(probe) == start + 10  # no "5" within upgrade_timeout
            session = server.engine.sessions[sid]
            assert session.transport == "polling" and not session.closed
            await http.aclose()

    run_mock(main)
