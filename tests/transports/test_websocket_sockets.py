"""WebSockets over real TCP sockets: the direct socket reads and writes keep trio's semantics.

(Full kernel buffers, cancellation, a peer that vanished, a socket closed under a writer,
fairness of a task that only sends.)
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from wsproto import ConnectionType
from wsproto.connection import Connection

from transports import StreamWebSocket, WebSocketClosed

BIG = 8 * 1024 * 1024


@asynccontextmanager
async def socket_pair(
    limit: int = BIG + 1,
) -> AsyncIterator[tuple[StreamWebSocket, StreamWebSocket]]:
    """A server and a client WebSocket on the two ends of a loopback TCP connection."""
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client_stream = await trio.open_tcp_stream("127.0.0.1", port)
    server_stream = await listeners[0].accept()
    await listeners[0].aclose()
    assert isinstance(server_stream, trio.SocketStream)
    server = StreamWebSocket(server_stream, Connection(ConnectionType.SERVER),
                             max_message_size=limit, close_timeout=1)
    client = StreamWebSocket(client_stream, Connection(ConnectionType.CLIENT),
                             max_message_size=limit, close_timeout=1)
    try:
        yield server, client
    finally:
        await trio.aclose_forcefully(server_stream)
        await trio.aclose_forcefully(client_stream)


def test_messages_larger_than_the_kernel_buffers_arrive_whole() -> None:
    async def main() -> None:
        async with socket_pair() as (server, client):
            big = bytes(range(256)) * (BIG // 256)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.send_many, [big, "after"])
                # The writer fills the kernel's buffers and waits for us to read.
                await trio.sleep(0.1)
                assert await client.receive() == big
                assert await client.receive() == "after"
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.send_many, [big, "é"])
                assert await server.receive() == big
                assert await server.receive() == "é"
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.aclose, 1000, "done")
                with pytest.raises(WebSocketClosed) as info:
                    await server.receive()
            assert info.value.code == 1000 and info.value.reason == "done"
            assert client.closed is not None and client.closed.code == 1000

    trio.run(main)


def test_a_write_waiting_on_a_full_buffer_can_be_cancelled() -> None:
    async def main() -> None:
        async with socket_pair() as (server, _client):
            with trio.move_on_after(0.2) as scope:
                await server.send(b"x" * BIG)  # nobody reads
            assert scope.cancelled_caught

    trio.run(main)


def test_closing_the_socket_under_a_waiting_writer_ends_the_write() -> None:
    async def main() -> None:
        async with socket_pair() as (server, _client):
            failures: list[BaseException] = []

            async def write() -> None:
                try:
                    await server.send(b"x" * BIG)
                except WebSocketClosed as exc:
                    failures.append(exc)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(write)
                await trio.sleep(0.1)
                await server.stream.aclose()
            assert len(failures) == 1 and isinstance(failures[0], WebSocketClosed)
            assert failures[0].code == 1006

    trio.run(main)


def test_a_peer_that_vanished_is_a_1006_for_reader_and_writer() -> None:
    async def main() -> None:
        async with socket_pair() as (server, client):
            await client.stream.aclose()  # no Close frame
            with pytest.raises(WebSocketClosed) as info:
                await server.receive()
            assert info.value.code == 1006
            with pytest.raises(WebSocketClosed) as info:
                await server.send("late")
            assert info.value.code == 1006

    trio.run(main)


def test_a_writer_that_never_waits_still_lets_other_tasks_run() -> None:
    async def main() -> None:
        async with socket_pair() as (server, client):
            ran = 0

            async def other() -> None:
                nonlocal ran
                while True:
                    ran += 1
                    await trio.sleep(0)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(other)
                await trio.sleep(0)
                before = ran
                for i in range(64):  # small: the kernel takes each at once
                    await server.send(f"m{i}")
                assert ran > before
                nursery.cancel_scope.cancel()
            for i in range(64):
                assert await client.receive() == f"m{i}"

    trio.run(main)
