"""The persistent, edge-triggered readability watch a WebSocket's reader waits on (Linux)."""

from __future__ import annotations

import os

import pytest
import trio
import trio.testing

from tests.transports.test_websocket_sockets import socket_pair
from transports import WebSocketClosed, _watch

pytestmark = pytest.mark.skipif(not _watch.available(), reason="needs Linux's epoll")


async def _parked(task_done: list[bool]) -> bool:
    """Whether the waiting task is still waiting once everything else has run."""
    await trio.testing.wait_all_tasks_blocked()
    return not task_done


def test_a_wait_ends_when_data_or_the_end_of_stream_arrives() -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            readable = _watch.Readable(a)
            done: list[bool] = []

            async def wait() -> None:
                await readable.wait()
                done.append(True)

            with trio.fail_after(5):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait)
                    assert await _parked(done)  # nothing to read yet
                    await b.send(b"one")
                assert os.read(a.fileno(), 100) == b"one"  # emptied: a short read
                done.clear()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait)
                    # The edge of "one" was consumed: the socket is empty, the wait goes on.
                    assert await _parked(done)
                    b.shutdown(trio.socket.SHUT_WR)
                assert os.read(a.fileno(), 100) == b""
            readable.close()

    trio.run(main)


def test_data_arriving_between_waits_is_not_lost() -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            readable = _watch.Readable(a)
            with trio.fail_after(5):
                await b.send(b"x")
                await readable.wait()
                assert os.read(a.fileno(), 100) == b"x"
                # Sent while nobody waits, seen by the watch's task meanwhile: the next wait
                # returns at once.
                await b.send(b"y")
                await trio.testing.wait_all_tasks_blocked()
                await readable.wait()
                assert os.read(a.fileno(), 100) == b"y"
            readable.close()

    trio.run(main)


def test_close_ends_a_wait_and_every_later_one() -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            readable = _watch.Readable(a)
            with trio.fail_after(5):
                async with trio.open_nursery() as nursery:
                    failed: list[BaseException] = []

                    async def wait() -> None:
                        try:
                            await readable.wait()
                        except trio.ClosedResourceError as exc:
                            failed.append(exc)

                    nursery.start_soon(wait)
                    await trio.testing.wait_all_tasks_blocked()
                    readable.close()
                assert len(failed) == 1
                with pytest.raises(trio.ClosedResourceError):
                    await readable.wait()
                readable.close()  # idempotent

    trio.run(main)


def test_a_cancelled_wait_leaves_the_watch_usable_and_one_waiter_at_a_time() -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            readable = _watch.Readable(a)
            with trio.fail_after(5):
                with trio.move_on_after(0.05) as scope:
                    await readable.wait()
                assert scope.cancelled_caught
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(readable.wait)
                    await trio.testing.wait_all_tasks_blocked()
                    with pytest.raises(trio.BusyResourceError):
                        await readable.wait()
                    await b.send(b"z")
                assert os.read(a.fileno(), 100) == b"z"
            readable.close()

    trio.run(main)


def test_a_number_reused_by_another_socket_keeps_its_watch() -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        stale = _watch.Readable(a)
        fd = a.fileno()
        a.close()  # under the watch, as a stream closed directly would be
        c, d = trio.socket.socketpair()
        with b, c, d:
            if c.fileno() != fd and d.fileno() == fd:
                c, d = d, c
            readable = _watch.Readable(c)
            stale.close()  # must not drop the new socket's registration
            with trio.fail_after(5):
                await d.send(b"w")
                await readable.wait()
            assert os.read(c.fileno(), 100) == b"w"
            readable.close()

    trio.run(main)


def test_a_websocket_reader_waits_on_the_watch_and_closing_ends_it() -> None:
    async def main() -> None:
        async with socket_pair() as (server, client):
            with trio.fail_after(5):
                received: list[str | bytes] = []
                ended: list[WebSocketClosed] = []

                async def read() -> None:
                    received.append(await server.receive())
                    try:
                        await server.receive()
                    except WebSocketClosed as exc:
                        ended.append(exc)

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(read)
                    await trio.testing.wait_all_tasks_blocked()
                    await client.send("hello")
                    await trio.testing.wait_all_tasks_blocked()
                    assert received == ["hello"]
                    assert server._readable is not None  # the watch, not trio's wait
                    # The reader waits again: closing the WebSocket from another task ends it.
                    nursery.start_soon(server.aclose)
                assert ended and ended[0].code == 1000

    trio.run(main)
