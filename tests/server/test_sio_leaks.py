"""Hundreds of Socket.IO connections against a live server, each registering its own handlers
(closures over its socket, the common pattern): afterwards no session, no task, no object of
ours and no memory beyond a small per-connection budget is left behind."""

from __future__ import annotations

import gc
import json
import sys
from typing import Any

import trio

import engineio_core
import socketio_core
import socketio_core.link
from socketio_core import Server, Socket
from tests.server.live_util import HOST, serving, settle, task_count
from transports import (
    HTTPConnection,
    HTTPRequest,
    StreamWebSocket,
    connect_websocket,
    open_stream,
)

PATH = "/socket.io/"
CYCLES = 200  # each one connection on WebSocket and one on long-polling
# Memory blocks a connection may leave behind: the bounded caches (frames, trio's deadline heap)
# fill up and stop; a leaked connection holds its session, sockets, transport and handlers:
# hundreds of blocks.
BLOCKS_PER_CONNECTION = 20


def _server() -> Server:
    server = Server()

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.join(f"room-{socket.id}")
        socket.data["n"] = 0

        @socket.use
        def count(event: str, args: Any) -> None:
            socket.data["n"] += 1

        socket.on_any(lambda event, *args: None)
        socket.on("add", lambda a, b: a + b + socket.data["n"] - 1)

        @socket.on("disconnect")
        async def gone(reason: str) -> None:
            await socket.to("nobody").emit("left", socket.id)

    return server


async def _websocket_cycle(port: int) -> None:
    ws = await connect_websocket(await open_stream(HOST, port), HOST,
                                 f"{PATH}?EIO=4&transport=websocket")
    assert (await ws.receive()).startswith("0{")
    await ws.send("40")
    assert str(await ws.receive()).startswith("40{")
    await ws.send('421["add",2,3]')
    assert await ws.receive() == "431[5]"
    await ws.aclose()


async def _polling_cycle(http: HTTPConnection) -> None:
    response = await http.request("GET", f"{PATH}?EIO=4&transport=polling")
    target = f"{PATH}?EIO=4&transport=polling&sid={json.loads(response.body[1:])['sid']}"
    assert (await http.request("POST", target, body=b"40")).status == 200
    assert (await http.request("GET", target)).body.startswith(b"40{")
    assert (await http.request("POST", target, body=b'421["add",2,3]')).status == 200
    assert (await http.request("GET", target)).body == b"431[5]"
    assert (await http.request("POST", target, body=b"1")).status == 200


def _our_objects() -> dict[str, int]:
    gc.collect()
    kinds = (engineio_core._session.Session, engineio_core.Socket, socketio_core.Socket,
             socketio_core.link.Link, StreamWebSocket, HTTPRequest)
    counts = {f"{kind.__module__}.{kind.__name__}": 0 for kind in kinds}
    for obj in gc.get_objects():
        for kind in kinds:
            if isinstance(obj, kind):
                counts[f"{kind.__module__}.{kind.__name__}"] += 1
    return counts


def test_socketio_connect_disconnect_cycles_leave_nothing_behind() -> None:
    server = _server()

    async def cycles(port: int, n: int) -> None:
        http = HTTPConnection(await open_stream(HOST, port), HOST)
        for _ in range(n):
            await _websocket_cycle(port)
            await _polling_cycle(http)
        await http.aclose()

    def quiet() -> bool:
        return (server.engine.sessions == {} and server.sockets == {}
                and task_count() <= baseline)

    async def main() -> None:
        nonlocal baseline
        async with serving(server) as port:
            baseline = task_count()
            await cycles(port, 50)  # warm-up: caches, interned names, free lists
            await settle(quiet, timeout=30)
            gc.collect()
            before = sys.getallocatedblocks()
            await cycles(port, CYCLES)
            await settle(quiet, timeout=30)
            gc.collect()
            grown = sys.getallocatedblocks() - before
            print("grown", grown)
            assert grown < 2 * CYCLES * BLOCKS_PER_CONNECTION, grown
            assert set(_our_objects().values()) == {0}, _our_objects()
            assert server.of("/").adapter.all_rooms() == frozenset()

    baseline = 0

    async def bounded() -> None:
        with trio.fail_after(120):
            await main()

    trio.run(bounded)
