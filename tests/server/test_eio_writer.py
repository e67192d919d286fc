"""The one writer of a session's WebSocket: the task that queues output writes it at once when the
socket takes it (no wake-up of the session's task), once per step; what follows in the same step
leaves in the next pass, together; what the socket does not take waits for the session's task;
and whatever path each message takes, the client gets every message once, in order."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

import engineio_core
from engineio_core._writer import Deliver, Writer
from tests.server.live_util import HOST, live_server
from transports import StreamWebSocket, connect_websocket, open_stream

WS_TARGET = "/engine.io/?EIO=4&transport=websocket"


async def _idle(socket: engineio_core.Socket) -> None:
    await socket.wait_closed()


@asynccontextmanager
async def _sessions(count: int) -> AsyncIterator[
        tuple[engineio_core.Server, list[engineio_core.Socket], list[StreamWebSocket]]]:
    async with live_server(_idle) as live:
        clients = []
        for _ in range(count):
            ws = await connect_websocket(await open_stream(HOST, live.port), HOST, WS_TARGET,
                                         max_message_size=10**8)
            assert str(await ws.receive()).startswith("0{")
            clients.append(ws)
        with trio.fail_after(5):
            while len(live.server.sessions) < count:
                await trio.sleep(0.01)
        try:
            yield live.server, list(live.server.sessions.values()), clients
        finally:
            for ws in clients:
                await ws.aclose()


def _drains(monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    """Counts, by writer, the passes of each session's task (it drains its writer each time it
    wakes)."""
    counts: dict[int, int] = {}
    drain = Writer.drain

    async def counted(writer: Writer, deliver: Deliver) -> bool:
        counts[id(writer)] = counts.get(id(writer), 0) + 1
        return await drain(writer, deliver)

    monkeypatch.setattr(Writer, "drain", counted)
    return counts


async def _run(fn: Callable[[int], None], n: int) -> None:
    fn(n)


def test_a_broadcast_is_written_by_the_broadcaster_without_waking_any_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> None:
        async with _sessions(5) as (_, sockets, clients):
            await trio.testing.wait_all_tasks_blocked()  # every session's task asleep
            woken = _drains(monkeypatch)

            def broadcast(n: int) -> None:
                message = engineio_core.protocol.prepare_message(f"news {n}")
                for socket in sockets:
                    socket.send_nowait(message)
                # Written before this task yields: nothing left queued anywhere.
                assert [s._session.core.buffered_bytes() for s in sockets] == [0] * 5
                assert not any(s.behind() for s in sockets)

            for n in range(3):
                async with trio.open_nursery() as nursery:  # a task each, as handlers run
                    nursery.start_soon(_run, broadcast, n)
                for ws in clients:
                    assert await ws.receive() == f"4news {n}"
            assert woken == {}

    trio.run(main)


def test_what_follows_in_the_same_step_leaves_together_in_the_next_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> None:
        async with _sessions(1) as (server, [socket], [ws]):
            await trio.testing.wait_all_tasks_blocked()  # every session idle
            woken = _drains(monkeypatch)
            socket.send_nowait("first")
            assert socket._session.core.buffered_bytes() == 0
            socket.send_nowait("second")
            socket.send_nowait(b"\x01")
            assert socket._session.core.buffered_bytes() == 9  # the flusher's, next pass
            assert socket.behind()
            assert [await ws.receive() for _ in range(3)] == ["4first", "4second", b"\x01"]
            assert not socket.behind()
            assert woken == {}
            # A later step writes at once again.
            server.flusher.new_step()
            socket.send_nowait("third")
            assert socket._session.core.buffered_bytes() == 0
            assert await ws.receive() == "4third"

    trio.run(main)


def test_a_prepared_message_to_an_idle_socket_skips_the_queue_and_keeps_its_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def main() -> None:
        async with _sessions(1) as (server, [socket], [ws]):
            await trio.testing.wait_all_tasks_blocked()  # every session idle
            queued: list[object] = []
            send_message = engineio_core.protocol.ServerSession.send_message

            def counted(core: engineio_core.protocol.ServerSession, data: object) -> None:
                queued.append(data)
                send_message(core, data)  # type: ignore[arg-type]

            monkeypatch.setattr(engineio_core.protocol.ServerSession, "send_message", counted)
            first, second = (engineio_core.protocol.prepare_message(text)
                             for text in ("first", "second"))
            socket.send_nowait(first)
            assert queued == []  # written at once, never queued in the core
            socket.send_nowait(second)  # same step: queued for the flusher, behind it
            socket.send_nowait("third")
            assert queued[0] is second and len(queued) == 2
            assert [await ws.receive() for _ in range(3)] == ["4first", "4second", "4third"]
            server.flusher.new_step()
            socket.send_nowait("plain")  # a str (an emit, an ack) goes at once too
            assert len(queued) == 2
            socket.send_nowait("a", "b")  # several: through the queue, together
            assert len(queued) == 4
            server.flusher.new_step()
            socket.send_nowait(first)  # behind them, even in a new step
            assert queued[-1] is first
            assert [await ws.receive() for _ in range(4)] == ["4plain", "4a", "4b", "4first"]
            socket._session.abort("transport error")
            socket.send_nowait(second)  # a closed session takes nothing
            assert queued[-1] is first

    trio.run(main)


def test_a_peer_that_reads_slowly_gets_everything_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    sizes = [rng.choice((1, 50, 3000, 70_000, 400_000)) for _ in range(120)]

    async def main() -> None:
        async with _sessions(1) as (server, [socket], [ws]):
            sent: list[str | bytes] = []
            drains = _drains(monkeypatch)

            async def produce() -> None:
                for n, size in enumerate(sizes):
                    message: str | bytes = (f"{n}:" + "x" * size if n % 3 else
                                            n.to_bytes(4, "big") * (size // 4 + 1))
                    socket.send_nowait(message)
                    sent.append(message)
                    if n % 4 == 0:
                        server.flusher.new_step()
                    if n % 7 == 0:
                        await trio.sleep(0)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(produce)
                got: list[str | bytes] = []
                with trio.fail_after(30):
                    while len(got) < len(sizes):
                        got.append(await ws.receive())
                        if len(got) % 10 == 0:
                            await trio.sleep(0.01)  # a slow reader: the socket fills up
            assert got == [m if isinstance(m, bytes) else "4" + m for m in sent]
            assert not socket.behind()
            # What the socket did not take was the session task's to write.
            assert drains.get(id(socket._session.writer), 0) > 0

    trio.run(main)
