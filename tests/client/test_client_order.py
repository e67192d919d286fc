"""The client's handlers start in arrival order, always (a burst of hundreds included), one that
waits does not hold back the next, and a reader whose handlers are behind stops reading."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import engineio_core
import socketio_core
from engineio_core.client import Client
from socketio_core import Server, Socket
from tests.client.test_engine_client import URL, factory_for, run_mock
from tests.server.live_util import serving

HOST = "127.0.0.1"
TRANSPORTS = {"polling": ("polling",), "websocket": ("websocket",)}
BURST = 600  # more than the client's queue of 256


def run(fn: Any) -> None:
    async def bounded() -> None:
        with trio.fail_after(30):
            await fn()

    trio.run(bounded)


def burst_server() -> Server:
    server = Server()

    @server.on("connection")
    def connected(socket: Socket) -> None:
        @socket.on("burst")
        def burst(count: int) -> None:
            for n in range(count):
                socket.emit_nowait("n", n)
            socket.emit_nowait("end")

    return server


@pytest.mark.parametrize("waits", [False, True], ids=["plain", "waits"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_burst_reaches_the_handlers_in_order(transport: str, waits: bool) -> None:
    started: list[int] = []

    async def main() -> None:
        async with serving(burst_server()) as port, socketio_core.connect(
                f"http://{HOST}:{port}", transports=TRANSPORTS[transport],
                reconnection=False) as client:
            done = trio.Event()
            if waits:
                @client.on("n")
                async def on_n(n: int) -> None:
                    started.append(n)
                    await trio.sleep(0)
            else:
                client.on("n", started.append)
            client.on("end", done.set)
            await client.emit("burst", BURST)
            await done.wait()

    run(main)
    assert started == list(range(BURST))


def test_a_client_handler_that_waits_does_not_hold_back_the_next() -> None:
    server = Server()

    @server.on("connection")
    def connected(socket: Socket) -> None:
        socket.on("go", lambda: (socket.emit_nowait("slow"), socket.emit_nowait("ping")))

    async def main() -> None:
        async with serving(server) as port, socketio_core.connect(
                f"http://{HOST}:{port}", transports=("websocket",),
                reconnection=False) as client:
            pinged = trio.Event()
            finished = trio.Event()

            @client.on("slow")
            async def slow() -> None:
                await pinged.wait()  # would wait for ever behind itself, run one at a time
                finished.set()

            client.on("ping", pinged.set)
            await client.emit("go")
            await finished.wait()

    run(main)


@pytest.mark.parametrize("mode", ["polling", "websocket"])
def test_the_engine_client_reads_no_more_while_on_message_pushes_back(mode: str) -> None:
    """``on_message`` returns an awaitable for ``"a"``: nothing after it is delivered, nor
    read, until that is done; then the rest, in order."""

    async def five(engine: engineio_core.Socket) -> None:
        async for message in engine:
            if message == "go":
                await engine.send("a", "b", "c", "d", "e")

    async def main() -> None:
        server = engineio_core.Server(five)
        received: list[str | bytes] = []
        gate = trio.Event()
        all_in = trio.Event()

        def on_message(data: str | bytes) -> Any:
            received.append(data)
            if len(received) == 5:
                all_in.set()
            return gate.wait() if data == "a" else None

        async with trio.open_nursery() as nursery:
            server.use_nursery(nursery)
            client = Client(URL, transports=(mode,), on_message=on_message,
                            stream_factory=factory_for(nursery, server.handle_request))
            await nursery.start(client.run)
            client.send("go")
            await trio.testing.wait_all_tasks_blocked()
            await trio.sleep(1)  # mock clock: every task had its chance meanwhile
            assert received == ["a"]
            gate.set()
            await all_in.wait()
            assert received == ["a", "b", "c", "d", "e"]
            client.close()
            await client.wait_finished()
            nursery.cancel_scope.cancel()

    run_mock(main)
