"""The order handlers run in, as Node's: they start in arrival order, one that waits does not
hold back the socket's next event, and a plain handler costs no task. Server and client, over
loopback with our client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any

import pytest
import trio
import trio.testing

import socketio_core
from socketio_core import Server, Socket
from socketio_core.adapter import InMemoryAdapter
from socketio_core.handlers import Ack
from socketio_core.handshake import Handshake
from tests.server.live_util import serving

HOST = "127.0.0.1"
TRANSPORTS = {"polling": ("polling",), "websocket": ("websocket",)}


def run(fn: Any) -> None:
    async def bounded() -> None:
        with trio.fail_after(20):
            await fn()

    trio.run(bounded)


@asynccontextmanager
async def client_of(server: Server, transports: tuple[str, ...]) -> AsyncIterator[Any]:
    async with serving(server) as port, socketio_core.connect(
            f"http://{HOST}:{port}", transports=transports, reconnection=False) as client:
        yield client


class TaskCounter(trio.abc.Instrument):
    """Counts the tasks started while it is installed."""

    def __init__(self) -> None:
        self.spawned = 0

    def task_spawned(self, task: trio.lowlevel.Task) -> None:
        self.spawned += 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_handler_that_waits_does_not_hold_back_the_next_event(transport: str) -> None:
    """``slow`` (sent first) waits until ``ping`` has run: were handlers run one after
    another, ``ping`` would wait behind it for ever (and the test time out)."""
    server = Server()
    heard: list[str] = []

    @server.on("connection")
    def connected(socket: Socket) -> None:
        pinged = trio.Event()

        @socket.on("slow")
        async def slow() -> None:
            await pinged.wait()
            await socket.emit("slow done")

        @socket.on("ping")
        def ping() -> str:
            pinged.set()
            return "pong"

    async def main() -> None:
        async with client_of(server, TRANSPORTS[transport]) as client:
            finished = trio.Event()
            client.on("slow done", lambda: (heard.append("slow done"), finished.set()))
            await client.emit("slow")
            heard.append(await client.emit_with_ack("ping", timeout=10))
            await finished.wait()

    run(main)
    assert sorted(heard) == ["pong", "slow done"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_handlers_start_in_arrival_order(transport: str) -> None:
    """Plain handlers, async ones that wait at once, async ones that never wait, and several
    handlers of one event, mixed: each starts in the order its event arrived."""
    server = Server()
    started: list[int] = []
    done = trio.Event()
    count = 300

    @server.on("connection")
    def connected(socket: Socket) -> None:
        @socket.on("plain")
        def plain(n: int) -> None:
            started.append(n)

        @socket.on("waits")
        async def waits(n: int) -> None:
            started.append(n)
            await trio.sleep(0.01)

        @socket.on("quick")
        async def quick(n: int) -> None:
            started.append(n)

        @socket.on("twice")
        async def first(n: int) -> None:
            started.append(n)
            await trio.sleep(0)

        @socket.on("twice")
        def second(n: int) -> None:
            started.append(-n)

        @socket.on("end")
        def end() -> None:
            done.set()

    kinds = ("plain", "waits", "quick", "twice")

    async def main() -> None:
        async with client_of(server, TRANSPORTS[transport]) as client:
            for n in range(1, count + 1):
                await client.emit(kinds[n % 4], n)
            await client.emit("end")
            await done.wait()

    run(main)
    expected: list[int] = []
    for n in range(1, count + 1):
        expected += [n, -n] if kinds[n % 4] == "twice" else [n]
    assert started == expected


def test_a_plain_handler_costs_no_task() -> None:
    server = Server()

    @server.on("connection")
    def connected(socket: Socket) -> None:
        socket.on("plain", lambda n: n)

        @socket.on("waits")
        async def waits(n: int) -> int:
            await trio.sleep(0)
            return n

    async def main() -> None:
        async with client_of(server, TRANSPORTS["websocket"]) as client:
            assert await client.emit_with_ack("plain", 0, timeout=5) == 0
            counter = TaskCounter()
            trio.lowlevel.add_instrument(counter)
            for n in range(100):
                assert await client.emit_with_ack("plain", n, timeout=5) == n
            plain = counter.spawned
            for n in range(100):
                assert await client.emit_with_ack("waits", n, timeout=5) == n
            waits = counter.spawned - plain
            trio.lowlevel.remove_instrument(counter)
            assert plain == 0
            assert waits >= 100  # the counter sees tasks: one per handler that waits

    run(main)


def test_an_event_finds_the_handlers_a_connection_handler_still_queued_registers() -> None:
    """The client may emit as soon as it hears CONNECT, before the ``connection`` handlers
    ran: which handlers an event goes to is settled when its turn comes, after theirs."""
    answers: list[tuple[Any, ...]] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            link = SimpleNamespace(spawn=nursery.start_soon, accept=lambda ns, sid: True)
            namespace = SimpleNamespace(name="/", sockets={})
            socket = Socket(namespace, InMemoryAdapter(namespace), link,  # type: ignore[arg-type]
                            "sid", Handshake({}, {}, {}, HOST, "/", False))

            async def waits_first(socket: Socket) -> None:
                await trio.sleep(0)

            def registers(socket: Socket) -> None:
                socket.on("x", lambda: "got x")

            # Queued, not yet run, when the event arrives (no checkpoint between):
            await socket.handle_connection([waits_first, registers])
            assert socket.handle_event("x", (), Ack(answers.append)) is None
            await trio.testing.wait_all_tasks_blocked()
            assert answers == [("got x",)]

    run(main)
