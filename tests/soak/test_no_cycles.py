"""A closed connection leaves no reference cycle: everything it held is freed by reference
counting as it closes, not left for the garbage collector (whose full collections, with
thousands of connections open, pause the whole server for tens to hundreds of milliseconds).

Each test runs connect/disconnect cycles with the collector off, then collects with
``DEBUG_SAVEALL``: nothing may be found unreachable.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import pytest
import trio
import trio.testing

import engineio_core
from benchmarks.soak.scenarios import _cycle_polling, _cycle_upgrade, _cycle_ws
from benchmarks.soak.server import make_server
from benchmarks.soak.wire import WSClient

HOST = "127.0.0.1"
CYCLES = 10

Cycle = Callable[[int, bool], Awaitable[None]]


@contextmanager
def _collector_off() -> Iterator[list[object]]:
    """The collector off for the block; the list gets what it finds unreachable after it."""
    garbage: list[object] = []
    gc.collect()
    gc.disable()
    try:
        yield garbage
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        garbage.extend(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def _kinds(garbage: list[object]) -> list[tuple[str, int]]:
    return Counter(f"{type(o).__module__}.{type(o).__qualname__}"
                   for o in garbage).most_common(12)


async def _sessions_gone(sessions: Callable[[], int]) -> None:
    while sessions():
        await trio.sleep(0.01)
    # The session's driver and reader tasks finish after the session left the table: wait until
    # every task is blocked (they are gone) rather than for a guessed time, so that what they
    # held is freed or garbage by the time the collector looks.
    await trio.testing.wait_all_tasks_blocked(cushion=0.02)


@pytest.mark.parametrize("reset", [False, True], ids=["clean", "reset"])
@pytest.mark.parametrize("cycle", [_cycle_ws, _cycle_polling, _cycle_upgrade],
                         ids=["websocket", "polling", "upgrade"])
def test_a_closed_socketio_connection_leaves_no_cycle(cycle: Cycle, reset: bool) -> None:
    # The soak server's connection handler registers handlers closing over the socket, as
    # applications commonly do: a cycle the socket breaks once it disconnected.
    server = make_server()

    async def main() -> list[object]:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, HOST, 0)
                port = listeners[0].socket.getsockname()[1]
                await cycle(port, reset)  # the first connection makes what is made once
                await _sessions_gone(lambda: len(server.engine.sessions))
                with _collector_off() as garbage:
                    for _ in range(CYCLES):
                        await cycle(port, reset)
                    await _sessions_gone(lambda: len(server.engine.sessions))
                await server.aclose()
                nursery.cancel_scope.cancel()
        return garbage

    garbage = trio.run(main)
    assert not garbage, _kinds(garbage)


def test_a_closed_engineio_session_with_a_handler_leaves_no_cycle() -> None:
    reasons: list[str | None] = []

    async def handler(socket: engineio_core.Socket) -> None:
        async for message in socket:
            await socket.send(message)
        reasons.append(socket.close_reason)

    server = engineio_core.Server(handler, path="/socket.io")

    async def main() -> list[object]:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, HOST, 0)
                port = listeners[0].socket.getsockname()[1]
                with _collector_off() as garbage:
                    for i in range(CYCLES):
                        client = await WSClient.open(port)
                        await client.send("4hello")
                        assert await client.recv_text() == "4hello"
                        if i % 2:
                            client.conn.reset()
                        else:
                            await client.close()
                    await _sessions_gone(lambda: len(server.sessions))
                await server.aclose()
                nursery.cancel_scope.cancel()
        return garbage

    garbage = trio.run(main)
    assert not garbage, _kinds(garbage)
    assert reasons == ["transport close"] * CYCLES
