"""A client that stops reading: its queue stays bounded, awaiting emit waits, volatile emits are
dropped, the others keep getting their messages, and past the hard limit it is disconnected."""

from __future__ import annotations

import json
from typing import Any

import trio

import socketio_core
from socketio_core import Server, Socket
from transports import HTTPConnection, connect_websocket, open_stream

HOST = "127.0.0.1"
LIMIT = 64 * 1024
CHUNK = "x" * 16 * 1024


def test_a_client_that_never_reads_is_bounded_then_dropped_and_others_are_not_held_up() -> None:
    server = Server(max_buffered_bytes=LIMIT)
    reasons: dict[str, str] = {}

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.join("room")
        socket.on("disconnect", lambda reason: reasons.__setitem__(socket.id, reason))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve, HOST, 0)
            port = listeners[0].socket.getsockname()[1]
            url = f"http://{HOST}:{port}"

            # The stalled client: a raw WebSocket that joins "/" and then never reads again.
            stalled_ws = await connect_websocket(
                await open_stream(HOST, port), HOST, "/socket.io/?EIO=4&transport=websocket",
                max_message_size=10**8)
            assert (await stalled_ws.receive()).startswith("0{")
            await stalled_ws.send("40")
            assert (await stalled_ws.receive()).startswith("40{")

            async with socketio_core.connect(url, transports=("websocket",),
                                             reconnection=False) as healthy:
                got: list[Any] = []
                healthy.on("news", got.append)
                with trio.fail_after(5):
                    while len(server.sockets) < 2:
                        await trio.sleep(0.01)
                stalled = next(s for s in server.sockets.values() if s.conn.transport
                               and s.id != healthy.id)

                # Awaiting emit to the stalled client blocks once its buffer is full...
                sent = 0
                with trio.move_on_after(1.0):
                    while sent < 1000:
                        await stalled.emit("big", CHUNK)
                        sent += 1
                assert sent < 1000
                core = stalled.conn._session.core
                assert core.buffered_bytes() <= LIMIT + 2 * len(CHUNK)
                # ...a volatile emit to it is dropped...
                before = core.buffered_bytes()
                await stalled.volatile.emit("tick", 1)
                assert core.buffered_bytes() == before
                # ...and broadcasts to the room still reach the healthy client at once.
                for i in range(20):
                    await server.to("room").emit("news", i)
                with trio.fail_after(5):
                    while len(got) < 20:
                        await trio.sleep(0.01)
                assert got == list(range(20))
                # A volatile broadcast skips the stalled client and reaches the drained one;
                # local (this server's sockets: all of them, in memory) reaches it too.
                before = core.buffered_bytes()
                await server.volatile.emit("news", "volatile")
                await server.local.emit("news", "local")
                with trio.fail_after(5):
                    while len(got) < 22:
                        await trio.sleep(0.01)
                assert got[20:] == ["volatile", "local"]
                assert core.buffered_bytes() == before + len('2["news","local"]') + 1  # local only

                # Past four times the limit, the stalled client is disconnected.
                for _ in range(4 * LIMIT // len(CHUNK) + 2):
                    await server.to("room").emit("big", CHUNK)
                with trio.fail_after(5):
                    while stalled.id not in reasons:
                        await trio.sleep(0.01)
                assert reasons[stalled.id] == "transport error"
                assert healthy.connected and healthy.id not in reasons
            await stalled_ws.aclose()
            await server.aclose()
            nursery.cancel_scope.cancel()

    async def bounded() -> None:
        with trio.fail_after(30):
            await main()

    trio.run(bounded)


def test_a_polling_client_that_stops_polling_is_bounded_then_dropped() -> None:
    server = Server(max_buffered_bytes=LIMIT)
    reasons: list[str] = []
    sockets: list[Socket] = []

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets.append(socket)
        socket.on("disconnect", reasons.append)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve, HOST, 0)
            http = HTTPConnection(
                await open_stream(HOST, listeners[0].socket.getsockname()[1]), HOST)
            response = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
            target = ("/socket.io/?EIO=4&transport=polling&sid="
                      + json.loads(response.body[1:])["sid"])
            assert (await http.request("POST", target, body=b"40")).status == 200
            assert (await http.request("GET", target)).body.startswith(b"40{")
            with trio.fail_after(5):
                while not sockets:
                    await trio.sleep(0.01)
            # No more GETs: everything sent queues on the server, up to a bound.
            sent = 0
            with trio.move_on_after(1.0):
                while sent < 1000:
                    await sockets[0].emit("big", CHUNK)
                    sent += 1
            assert sent < 1000
            assert sockets[0].conn.behind()
            for _ in range(4 * LIMIT // len(CHUNK) + 2):
                sockets[0].emit_nowait("big", CHUNK)
            with trio.fail_after(5):
                while not reasons:
                    await trio.sleep(0.01)
            assert reasons == ["transport error"]
            assert server.engine.sessions == {}
            await http.aclose()
            await server.aclose()
            nursery.cancel_scope.cancel()

    async def bounded() -> None:
        with trio.fail_after(30):
            await main()

    trio.run(bounded)
