"""The activity the ``serve`` command logs, counted in process with our own client."""

from __future__ import annotations

import logging
import re
from functools import partial

import pytest
import trio
import trio.testing

from socketio_core import Server, Socket, connect
from socketio_core.cli import Monitor


def test_counts_clients_sockets_rooms_and_events(caplog: pytest.LogCaptureFixture) -> None:
    sio = Server()

    @sio.on("connection")
    def joined(socket: Socket) -> None:
        socket.join("room-a", "room-b")

        @socket.on("shout")
        async def shout(text: str) -> None:
            await sio.to("room-a").emit("heard", text)  # a broadcast: once per recipient

    monitor = Monitor(sio)
    monitor.attach()
    caplog.set_level(logging.INFO, "socketio_core.cli")

    async def main() -> None:
        with trio.fail_after(10):
            async with sio, trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(sio.serve, "127.0.0.1", 0))
                url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
                heard: list[str] = []
                async with connect(url, transports=("websocket",), reconnection=False) as c:
                    c.on("heard", heard.append)
                    await c.emit("shout", "a")
                    await c.emit("shout", "b")
                    while len(heard) < 2:
                        await trio.sleep(0.01)
                    assert monitor.report(2.0) == (
                        "1 clients, 1 sockets, 2 rooms; +1 -0 connections; "
                        "events 1.0/s in, 1.0/s out")
                while sio.engine.sessions:
                    await trio.sleep(0.01)
                assert monitor.report(1.0) == (
                    "0 clients, 0 sockets, 0 rooms; +0 -1 connections; events 0.0/s in, 0.0/s out")
                nursery.cancel_scope.cancel()

    trio.run(main)
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("connect ") and " on / from 127.0.0.1 over websocket" in m
               for m in messages)
    assert any(m.startswith("disconnect ") and m.endswith(": client namespace disconnect")
               for m in messages)


def test_an_idle_server_logs_once_then_stays_quiet(caplog: pytest.LogCaptureFixture) -> None:
    monitor = Monitor(Server())
    caplog.set_level(logging.INFO, "socketio_core.cli")

    async def main() -> None:
        with trio.move_on_after(10):  # ten intervals, on the mock clock
            await monitor.run(1.0)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    assert [r.getMessage() for r in caplog.records] == [
        "0 clients, 0 sockets, 0 rooms; +0 -0 connections; events 0.0/s in, 0.0/s out"]


def test_namespaces_made_later_and_dynamic_ones_are_counted_once() -> None:
    sio = Server()
    rooms = sio.of(re.compile(r"/room-\d+"))
    made: list[str] = []
    sio.on("new_namespace", lambda namespace: made.append(namespace.name))
    monitor = Monitor(sio)
    monitor.attach()
    sio.of("/later")  # made after attach: watched through "new_namespace"

    @rooms.on("connection")
    def joined(socket: Socket) -> None:
        socket.on("ping", lambda: "pong")

    async def main() -> None:
        with trio.fail_after(10):
            async with sio, trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(sio.serve, "127.0.0.1", 0))
                url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
                for path in ("/room-1", "/room-2", "/room-2", "/later"):
                    async with connect(url + path, transports=("websocket",),
                                       reconnection=False) as client:
                        if path != "/later":
                            assert await client.emit_with_ack("ping", timeout=5) == "pong"
                nursery.cancel_scope.cancel()

    trio.run(main)
    assert made == ["/later", "/room-1", "/room-2"]
    assert monitor.counts.connections == 4
    assert monitor.counts.events_in == 3
