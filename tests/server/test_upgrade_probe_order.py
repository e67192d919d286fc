"""The upgrade on the wire: "2probe" and "5" back to back then an immediate poll (the order the
official engine.io suite's "ignores HTTP requests with same sid after upgrade" relies on), and
a close that lands between "3probe" and "5"."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio

import engineio_core
from transports import (
    HTTPConnection,
    WebSocket,
    WebSocketClosed,
    connect_websocket,
    open_stream,
)

POLL = "/engine.io/?EIO=4&transport=polling"


async def _echo(socket: engineio_core.Socket) -> None:
    async for message in socket:
        await socket.send(message)


@asynccontextmanager
async def _polling_session_with_probe(
    handler: Callable[[engineio_core.Socket], Awaitable[None]],
) -> AsyncIterator[tuple[engineio_core.Server, HTTPConnection, WebSocket, str]]:
    """A server, a polling session on it and a WebSocket connected for that sid (no probe
    sent yet); everything is closed on the way out."""
    server = engineio_core.Server(handler)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, "127.0.0.1", 0)
        port = listeners[0].socket.getsockname()[1]
        http = HTTPConnection(await open_stream("127.0.0.1", port), "127.0.0.1")
        sid = json.loads((await http.request("GET", POLL)).body[1:])["sid"]
        ws = await connect_websocket(await open_stream("127.0.0.1", port), "127.0.0.1",
                                     f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
        yield server, http, ws, sid
        await ws.aclose()
        await http.aclose()
        await server.aclose()
        nursery.cancel_scope.cancel()


def test_probe_and_upgrade_in_one_write_then_poll_is_refused_and_3probe_comes_first() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with _polling_session_with_probe(_echo) as (_, http, ws, sid):
                await ws.send_many(["2probe", "5"])  # one TCP write: one read on the server
                poll = await http.request("GET", f"{POLL}&sid={sid}")
                assert poll.status == 400
                assert await ws.receive() == "3probe"
                await ws.send("4hello")
                assert await ws.receive() == "4hello"

    trio.run(main)


def test_a_close_between_3probe_and_5_waits_for_the_upgrade() -> None:
    """The client paused polling after "3probe" (no GET will come); the application closes.
    As in Node, the upgrade completes, the queued message comes on the WebSocket, then it
    closes: the client is not left waiting for a ping timeout."""
    closing = trio.Event()

    async def say_bye_and_close(socket: engineio_core.Socket) -> None:
        async for message in socket:
            assert message == "close now"
            socket.send_nowait("bye")
            socket.close()
            socket.send_nowait("dropped: the session is closing")
            closing.set()
            await socket.wait_closed()
            assert socket.close_reason == "forced close"
            return

    async def main() -> None:
        with trio.fail_after(10):
            async with _polling_session_with_probe(say_bye_and_close) as (server, http, ws, sid):
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
                posted = await http.request("POST", f"{POLL}&sid={sid}", body=b"4close now")
                assert posted.body == b"ok"
                await closing.wait()
                await ws.send("5")
                assert await ws.receive() == "4bye"
                with pytest.raises(WebSocketClosed):
                    await ws.receive()
                with trio.fail_after(2):
                    while server.sessions:
                        await trio.sleep(0.01)

    trio.run(main)
