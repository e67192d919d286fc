"""The epoll watch (``transports._watch``) on real sockets: the persistent, edge-triggered
registration a WebSocket's reader waits on; the one of HTTP waits, edge-triggered too, kept for
the socket's next waits, its edges that fire with nobody waiting kept for the next one, and never
taken for another socket that got the same descriptor number; and the handover of one socket
from the one to the other."""

from __future__ import annotations

import os
import select
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

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


@asynccontextmanager
async def watched(sock: trio.socket.SocketType, mode: str) -> AsyncIterator[_watch.Readable]:
    """A ``Readable`` for ``sock`` whose waits are on the watch ("busy") or trio's ("alone"),
    whatever the scheduler's load."""
    readable = _watch.Readable(sock)
    force(readable, mode)
    yield readable


async def waiting(readable: _watch.Readable) -> None:
    # Readable.wait() makes the wait in the task that calls it: a task's own call.
    await readable.wait()


def force(readable: _watch.Readable, mode: str) -> None:
    """Have ``readable``'s next wait be on the watch ("busy") or trio's ("alone")."""
    readable._busy = mode == "busy"
    readable._countdown = 1 << 30  # never tries the watch by itself


MODES = pytest.mark.parametrize("mode", ["busy", "alone"])


@MODES
def test_a_wait_ends_when_data_or_the_end_of_stream_arrives(mode: str) -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            async with watched(a, mode) as readable:
                done: list[bool] = []

                async def wait() -> None:
                    await readable.wait()
                    done.append(True)

                with trio.fail_after(5):
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(wait)
                        assert await _parked(done)  # nothing to read yet
                        assert readable._watched is (mode == "busy")
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


@MODES
def test_data_arriving_between_waits_is_not_lost(mode: str) -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            async with watched(a, mode) as readable:
                with trio.fail_after(5):
                    await b.send(b"x")
                    await readable.wait()
                    assert os.read(a.fileno(), 100) == b"x"
                    # Sent while nobody waits (the watch's task may see it meanwhile): the
                    # next wait returns at once.
                    await b.send(b"y")
                    await trio.testing.wait_all_tasks_blocked()
                    await readable.wait()
                    assert os.read(a.fileno(), 100) == b"y"
                readable.close()

    trio.run(main)


def test_a_reader_moves_between_the_watch_and_trio_without_losing_data() -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            readable = _watch.Readable(a)
            with trio.fail_after(5):
                for _ in range(3):
                    force(readable, "busy")
                    await b.send(b"w")
                    await readable.wait()
                    assert readable._watched
                    assert os.read(a.fileno(), 100) == b"w"
                    force(readable, "alone")
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(waiting, readable)
                        await trio.testing.wait_all_tasks_blocked()
                        assert not readable._watched
                        await b.send(b"t")
                    assert os.read(a.fileno(), 100) == b"t"
            readable.close()

    trio.run(main)


def test_readers_stay_on_the_watch_while_woken_together_and_try_it_again_when_alone() -> None:
    async def main() -> None:
        pairs = [trio.socket.socketpair() for _ in range(_watch._BUSY)]
        readables = [_watch.Readable(a) for a, _ in pairs]
        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                for readable in readables:
                    force(readable, "busy")
                    nursery.start_soon(waiting, readable)
                await trio.testing.wait_all_tasks_blocked()
                for _, b in pairs:  # all at once: one wake-up of the watch for all
                    os.write(b.fileno(), b"x")
            # Woken in one batch of _BUSY: each stays on the watch.
            assert all(r._busy and r._watched for r in readables)
            alone, (a, b) = readables[0], pairs[0]
            os.read(a.fileno(), 100)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(waiting, alone)
                await trio.testing.wait_all_tasks_blocked()
                await b.send(b"y")
            assert not alone._busy  # woken alone: trio's waits from now on
            os.read(a.fileno(), 100)
            for turn in range(_watch._RESAMPLE + 1):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(waiting, alone)
                    await trio.testing.wait_all_tasks_blocked()
                    # The first _RESAMPLE waits are trio's, then the watch is tried again.
                    assert alone._watched is (turn == _watch._RESAMPLE)
                    await b.send(b"z")
                assert os.read(a.fileno(), 100) == b"z"
        for readable in readables:
            readable.close()
        for a, b in pairs:
            a.close()
            b.close()

    trio.run(main)


@MODES
def test_close_ends_a_wait_and_every_later_one(mode: str) -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            async with watched(a, mode) as readable:
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


@MODES
def test_a_cancelled_wait_leaves_the_watch_usable_and_one_waiter_at_a_time(mode: str) -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            async with watched(a, mode) as readable:
                with trio.fail_after(5):
                    with trio.move_on_after(0.05) as scope:
                        await readable.wait()
                    assert scope.cancelled_caught
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(waiting, readable)
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
        async with watched(a, "busy") as stale:
            with trio.fail_after(5):
                await b.send(b"v")
                await stale.wait()  # registered with the watch
            fd = a.fileno()
            a.close()  # under the watch, as a stream closed directly would be
            c, d = trio.socket.socketpair()
            with b, c, d:
                if c.fileno() != fd and d.fileno() == fd:
                    c, d = d, c
                readable = _watch.Readable(c)
                force(readable, "busy")
                with trio.fail_after(5):
                    await d.send(b"w")
                    await readable.wait()  # registered under the same number
                    assert readable._watched
                    stale.close()  # must not drop the new socket's registration
                    assert os.read(c.fileno(), 100) == b"w"
                    force(readable, "busy")
                    await d.send(b"x")
                    await readable.wait()
                assert os.read(c.fileno(), 100) == b"x"
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


async def wait_readable(sock: trio.socket.SocketType) -> None:
    assert await _watch.ReadableOrWoken().wait(sock)


def _pair() -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    a, b = socket.socketpair()
    return trio.socket.from_stdlib_socket(a), trio.socket.from_stdlib_socket(b)


async def _woken_wait(sock: trio.socket.SocketType) -> None:
    """A wait that ends woken, not readable: it leaves the socket registered."""
    parked = _watch.ReadableOrWoken()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(parked.wait, sock)
        await trio.testing.wait_all_tasks_blocked()
        parked.wake()
    assert await parked.wait(sock) is False  # and every later wait, at once


def test_the_next_wait_after_a_wake_sees_data_sent_later() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            await _woken_wait(a)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_readable, a)
                await trio.testing.wait_all_tasks_blocked()
                await b.send(b"x")
            assert os.read(a.fileno(), 10) == b"x"
            # Fired: the next wait arms it again.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_readable, a)
                await trio.testing.wait_all_tasks_blocked()
                await b.send(b"y")
            assert os.read(a.fileno(), 10) == b"y"

    trio.run(main)


def test_data_that_fired_with_nobody_waiting_is_seen_by_the_next_wait() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            await _woken_wait(a)
            await b.send(b"x")
            await trio.testing.wait_all_tasks_blocked()  # the watch saw it, nobody parked
            await wait_readable(a)
            assert os.read(a.fileno(), 10) == b"x"

    trio.run(main)


def test_a_wait_is_registered_once_and_after_a_full_read_returns_at_once() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            with a, b:
                watcher = _watch._watcher()
                fd = a.fileno()
                await b.send(b"0123456789")
                # Registered at its first wait, edge-triggered: what was there already counts.
                await wait_readable(a)
                registered = watcher._armed[fd]
                assert os.read(fd, 4) == b"0123"  # the buffer filled: bytes may be left
                _watch.unread(a)
                await wait_readable(a)  # no edge comes for them; unread() stands for one
                assert os.read(fd, 100) == b"456789"  # a short read: the socket is empty
                waiter = _watch.ReadableOrWoken()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(waiter.wait, a)
                    await trio.testing.wait_all_tasks_blocked()
                    assert watcher._parked[fd] is waiter  # empty: the wait goes on
                    await b.send(b"x")
                assert os.read(fd, 100) == b"x"
                assert watcher._armed[fd] is registered  # the same registration throughout

    trio.run(main)


def test_the_end_that_came_with_the_last_bytes_is_seen_by_every_later_wait() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            with a, b:
                await b.send(b"last")
                b.shutdown(socket.SHUT_WR)
                await trio.testing.wait_all_tasks_blocked()
                await wait_readable(a)  # one edge for both, seen or not by the watch yet
                assert os.read(a.fileno(), 100) == b"last"  # a short read, the end still due
                for _ in range(2):
                    await wait_readable(a)  # no edge comes for the end: it was reported
                    assert os.read(a.fileno(), 100) == b""

    trio.run(main)


def test_a_cancelled_wait_leaves_the_next_one_working() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            with trio.move_on_after(0.05) as scope:
                await wait_readable(a)
            assert scope.cancelled_caught
            await b.send(b"x")
            await wait_readable(a)
            assert os.read(a.fileno(), 10) == b"x"

    trio.run(main)


def test_a_descriptor_number_reused_by_another_socket_is_registered_anew() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            await _woken_wait(a)  # a's registration left armed
            number = a.fileno()
            c, d = _pair()
            a.close()  # the kernel drops a's registration
            os.dup2(c.fileno(), number)  # number now names c's socket
            again = trio.socket.from_stdlib_socket(socket.socket(fileno=number))
            c.close()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_readable, again)
                await trio.testing.wait_all_tasks_blocked()
                await d.send(b"x")  # a wait taken for a's armed registration would hang here
            assert os.read(again.fileno(), 10) == b"x"
            for sock in (b, d, again):
                sock.close()

    trio.run(main)


def test_deadlines_end_waits_in_their_order_and_a_waiter_serves_many_waits() -> None:
    async def main() -> None:
        with trio.fail_after(1000):  # the mock clock's seconds
            (a, b), (c, d) = _pair(), _pair()
            later, sooner = _watch.ReadableOrWoken(), _watch.ReadableOrWoken()
            ended: list[tuple[str, bool, float]] = []

            async def wait(name: str, waiter: _watch.ReadableOrWoken,
                           sock: trio.socket.SocketType, deadline: float) -> None:
                ended.append((name, await waiter.wait(sock, deadline), trio.current_time()))

            start = trio.current_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait, "later", later, a, start + 30)
                await trio.testing.wait_all_tasks_blocked()
                nursery.start_soon(wait, "sooner", sooner, c, start + 10)  # queued after
            assert ended == [("sooner", False, start + 10), ("later", False, start + 30)]
            # The same waiter again, its old entry gone: data before the deadline wins.
            ended.clear()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait, "later", later, a, start + 60)
                await trio.sleep(5)
                await b.send(b"x")
            assert ended == [("later", True, start + 35)]
            # A wait whose deadline moved later than the entry queued for it ends at its own.
            ended.clear()
            await later.wait(a, start + 36)  # readable: its entry (36) stays queued
            os.read(a.fileno(), 10)
            await wait("later", later, a, start + 50)
            assert ended == [("later", False, start + 50)]
            for sock in (a, b, c, d):
                sock.close()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_the_timers_keep_no_entry_of_a_done_waiter_for_long() -> None:
    # A connection's waiter is done at its close, often long before its deadline: under churn
    # the heap would hold an entry of every connection closed in the last 30 s (tens of
    # thousands of small objects, which fragmented the allocator's arenas).
    async def main() -> None:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)  # time moves only when jumped
        with trio.fail_after(1000):
            (a, b), (c, d) = _pair(), _pair()
            start = trio.current_time()
            kept = _watch.ReadableOrWoken()
            ended: list[bool] = []

            async def wait_kept() -> None:
                ended.append(await kept.wait(c, start + 100))

            closed = 4 * _watch._STALE_TIMERS
            async with trio.open_nursery() as outer:
                outer.start_soon(wait_kept)
                for _ in range(closed):
                    waiter = _watch.ReadableOrWoken()
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(waiter.wait, a, start + 50)
                        await trio.testing.wait_all_tasks_blocked()
                        await b.send(b"x")
                    assert os.read(a.fileno(), 10) == b"x"
                    waiter.done()  # its connection closed: the entry is stale
                timers = _watch._watcher()._timers
                assert len(timers) <= 2 + _watch._STALE_TIMERS < closed
                assert not ended
                clock.jump(100)  # the live entry was kept: its deadline still ends its wait
            assert ended == [False]
            for sock in (a, b, c, d):
                sock.close()

    trio.run(main, clock=trio.testing.MockClock())


def _reused(sock: trio.socket.SocketType) -> tuple[trio.socket.SocketType, trio.socket.SocketType]:
    """Close ``sock``; a new connected pair whose first socket has its descriptor number."""
    c, d = _pair()
    number = sock.fileno()
    sock.close()
    os.dup2(c.fileno(), number)
    again = trio.socket.from_stdlib_socket(socket.socket(fileno=number))
    c.close()
    return again, d


def test_an_upgrade_hands_the_socket_from_its_http_waits_to_its_reader() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            with a, b:
                fd = a.fileno()
                watcher = _watch._watcher()
                # A parked GET woken: its one-shot registration stays armed for the next wait.
                await _woken_wait(a)
                armed = watcher._armed[fd]
                assert armed() is a
                # The WebSocket's reader takes the socket over, edge-triggered: nothing fires
                # before its wait is cancelled, so only watch() can drop the armed record.
                readable = _watch.Readable(a)
                force(readable, "busy")
                with trio.CancelScope() as scope:
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(waiting, readable)
                        await trio.testing.wait_all_tasks_blocked()
                        assert watcher._watched[fd] is readable
                        assert fd not in watcher._armed
                        scope.cancel()
                # Registered for life: every wait is woken by the data sent after it.
                for data in (b"one", b"two"):
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(waiting, readable)
                        await trio.testing.wait_all_tasks_blocked()
                        await b.send(data)
                    assert os.read(fd, 10) == data
                    force(readable, "busy")
                readable.close()
                assert fd not in watcher._watched
                with pytest.raises(FileNotFoundError):
                    watcher._epoll.modify(fd, select.EPOLLIN)  # unregistered
                # An HTTP wait on it again registers it anew (a stale armed record would have
                # it wait for a registration that is not there, forever).
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(wait_readable, a)
                    await trio.testing.wait_all_tasks_blocked()
                    await b.send(b"three")
                assert os.read(fd, 10) == b"three"

    trio.run(main)


def test_a_socket_is_never_armed_and_watched_at_once() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            with a, b:
                readable = _watch.Readable(a)
                force(readable, "busy")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(waiting, readable)
                    await trio.testing.wait_all_tasks_blocked()
                    with pytest.raises(trio.BusyResourceError):
                        await _watch.ReadableOrWoken().wait(a)
                    await b.send(b"x")  # the reader's wait still works
                assert os.read(a.fileno(), 10) == b"x"
                readable.close()

                parked = _watch.ReadableOrWoken()
                other = _watch.Readable(a)
                force(other, "busy")
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(parked.wait, a)
                    await trio.testing.wait_all_tasks_blocked()
                    with pytest.raises(trio.BusyResourceError):
                        await other.wait()
                    with pytest.raises(trio.BusyResourceError):
                        await _watch.ReadableOrWoken().wait(a)
                    await b.send(b"y")  # the parked wait still works
                assert os.read(a.fileno(), 10) == b"y"
                other.close()

    trio.run(main)


@pytest.mark.parametrize("closed", ["watched", "armed"])
@pytest.mark.parametrize("reused", ["watched", "armed"])
def test_a_reused_number_never_wakes_the_closed_sockets_waiter(closed: str, reused: str) -> None:
    async def main() -> None:
        with trio.fail_after(10):
            a, b = _pair()
            outcomes: list[str] = []

            async def stale_wait() -> None:
                try:
                    if closed == "watched":
                        stale = _watch.Readable(a)
                        force(stale, "busy")
                        await stale.wait()
                    else:
                        await _watch.ReadableOrWoken().wait(a)
                except trio.ClosedResourceError:
                    outcomes.append("stale closed")
                else:
                    outcomes.append("stale woken")

            async def new_wait(sock: trio.socket.SocketType) -> None:
                if reused == "watched":
                    readable = _watch.Readable(sock)
                    force(readable, "busy")
                    await readable.wait()
                    readable.close()
                else:
                    assert await _watch.ReadableOrWoken().wait(sock)
                outcomes.append("new woken")

            async with trio.open_nursery() as nursery:
                nursery.start_soon(stale_wait)
                await trio.testing.wait_all_tasks_blocked()
                # a closed under its waiter (the kernel drops its registration), its number
                # taken by another socket
                again, d = _reused(a)
                with again, b, d:
                    async with trio.open_nursery() as inner:
                        inner.start_soon(new_wait, again)
                        await trio.testing.wait_all_tasks_blocked()
                        assert outcomes == ["stale closed"]
                        await d.send(b"x")
            assert outcomes == ["stale closed", "new woken"]

    trio.run(main)


@MODES
def test_a_readers_end_that_came_with_its_last_bytes_ends_its_next_wait(mode: str) -> None:
    async def main() -> None:
        a, b = trio.socket.socketpair()
        with a, b:
            async with watched(a, mode) as readable:
                with trio.fail_after(5):
                    await b.send(b"last")
                    b.shutdown(trio.socket.SHUT_WR)
                    await trio.testing.wait_all_tasks_blocked()
                    await readable.wait()  # one edge for both
                    assert os.read(a.fileno(), 100) == b"last"  # a short read, the end due
                    force(readable, mode)
                    await readable.wait()  # no edge comes for the end: it was reported
                    assert os.read(a.fileno(), 100) == b""
                readable.close()

    trio.run(main)
