"""An async handler starts in the task that read its event (as a plain one does): one that
finishes without waiting costs no task; one that waits keeps that task, and reading goes on in
a new one (``engineio_core.Socket.reading_handoff``). Over loopback, our client or a raw
WebSocket."""

from __future__ import annotations

import contextvars
import os
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import Server, Socket
from tests.server.live_util import HOST, serving, settle
from tests.server.test_handler_order import TaskCounter
from transports import WebSocketClosed, connect_websocket, open_stream

TARGET = "/socket.io/?EIO=4&transport=websocket"


def run(fn: Any) -> None:
    async def bounded() -> None:
        with trio.fail_after(20):
            await fn()

    trio.run(bounded)


def test_an_async_handler_that_does_not_wait_costs_no_task() -> None:
    server = Server()
    tasks: set[trio.lowlevel.Task] = set()

    @server.on("quick")
    async def quick(socket: Socket, n: int) -> int:
        tasks.add(trio.lowlevel.current_task())
        await server.to("nobody").emit("x")  # an await that does not suspend
        return n

    async def main() -> None:
        async with serving(server) as port, socketio_core.connect(
                f"http://{HOST}:{port}", transports=("websocket",), reconnection=False) as client:
            assert await client.emit_with_ack("quick", 0, timeout=5) == 0
            counter = TaskCounter()
            trio.lowlevel.add_instrument(counter)
            try:
                for n in range(100):
                    assert await client.emit_with_ack("quick", n, timeout=5) == n
            finally:
                trio.lowlevel.remove_instrument(counter)
            assert counter.spawned == 0

    run(main)
    assert len(tasks) == 1  # the connection's own task read and ran them all


def test_a_handler_that_waits_for_its_own_clients_ack_is_answered() -> None:
    """Reading must go on while the handler waits in the reader's task: the ack it waits for
    comes on the same connection."""
    server = Server()

    @server.on("ask")
    async def ask(socket: Socket, question: str) -> Any:
        return await socket.timeout(5).emit_with_ack("question", question)

    async def main() -> None:
        async with serving(server) as port, socketio_core.connect(
                f"http://{HOST}:{port}", transports=("websocket",), reconnection=False) as client:
            client.on("question", lambda q: f"answer to {q}")
            for n in range(20):
                assert await client.emit_with_ack("ask", str(n), timeout=10) == f"answer to {n}"

    run(main)


def test_handlers_run_in_the_reader_keep_their_context_variables_apart() -> None:
    var: contextvars.ContextVar[int] = contextvars.ContextVar("var", default=-1)
    server = Server()

    @server.on("quick")
    async def quick(socket: Socket, n: int) -> Any:
        before = var.get()
        var.set(n)
        return before

    @server.on("waits")
    async def waits(socket: Socket, n: int) -> Any:
        before = var.get()
        var.set(n)
        await trio.sleep(0.001)
        return [before, var.get()]

    async def main() -> None:
        async with serving(server) as port, socketio_core.connect(
                f"http://{HOST}:{port}", transports=("websocket",), reconnection=False) as client:
            for n in range(10):
                assert await client.emit_with_ack("quick", n, timeout=5) == -1
                assert await client.emit_with_ack("waits", n, timeout=5) == [-1, n]

    run(main)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("how", ["server closes", "client goes"])
def test_a_connection_ends_at_once_while_its_first_task_runs_a_handler(how: str) -> None:
    """The connection's own task stays with ``hold``; when the session closes meanwhile (the
    server closes it, or the client's TCP connection goes), the connection is closed at once,
    not once ``hold`` returns (it returns here only after the test saw the close)."""
    server = Server()
    release = trio.Event()
    finished: list[str] = []

    tasks: list[trio.lowlevel.Task] = []

    @server.on("whoami")
    def whoami(socket: Socket) -> None:
        tasks.append(trio.lowlevel.current_task())  # a plain handler: the reader's task

    @server.on("hold")
    async def hold(socket: Socket) -> None:
        tasks.append(trio.lowlevel.current_task())
        await release.wait()
        finished.append("hold")

    @server.on("bye")
    async def bye(socket: Socket) -> None:
        await socket.disconnect(close=True)

    async def main() -> None:
        async with serving(server) as port:
            before = _open_fds()
            stream = await open_stream(HOST, port)
            ws = await connect_websocket(stream, HOST, TARGET)
            assert str(await ws.receive()).startswith("0{")
            await ws.send("40")
            assert str(await ws.receive()).startswith("40{")
            # Each sent once the last was acted on, so that each is read alone: ``hold``, the
            # last message of its read, starts in the connection's task.
            await ws.send('42["whoami"]')
            await settle(lambda: len(tasks) == 1)
            await ws.send('42["hold"]')
            await settle(lambda: len(tasks) == 2)
            assert tasks[0] is tasks[1]
            if how == "server closes":
                await ws.send('42["bye"]')
                received = []
                with pytest.raises(WebSocketClosed):
                    while True:
                        received.append(await ws.receive())
                assert received == ["41"]
            await ws.aclose()  # (with the client's fd)
            await settle(lambda: _open_fds() == before)
            assert finished == []
            release.set()

    run(main)
    assert finished == ["hold"]


def test_closing_the_server_cancels_a_handler_that_holds_a_connections_task() -> None:
    server = Server()
    server.engine.shutdown_timeout = 0.5
    cancelled: list[bool] = []
    started: list[bool] = []

    @server.on("hold")
    async def hold(socket: Socket) -> None:
        started.append(True)
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(True)
            raise

    async def main() -> None:
        async with serving(server) as port:
            ws = await connect_websocket(await open_stream(HOST, port), HOST, TARGET)
            assert str(await ws.receive()).startswith("0{")
            await ws.send("40")
            assert str(await ws.receive()).startswith("40{")
            await ws.send('42["hold"]')
            await settle(lambda: bool(started))
            await server.aclose()

    run(main)
    assert cancelled == [True]
