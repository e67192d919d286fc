"""Admission of new connections (``transports._admission``): at most ``accept_limit`` accepted
connections wait for their first answer at once, none counts longer than ``accept_hold``."""

from __future__ import annotations

import socket
from functools import partial

import trio
import trio.testing

from transports import HTTPConfig, Request, serve_http
from transports._admission import Admission


def test_admission_waits_for_a_release_then_admits() -> None:
    async def main() -> None:
        admission = Admission(2, hold=60.0)
        first = await admission.admit()
        await admission.admit()
        admitted: list[float] = []

        async def third() -> None:
            await admission.admit()
            admitted.append(trio.current_time())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(third)
            await trio.sleep(5)
            assert admitted == []  # both places taken, neither held for long yet
            first()
            first()  # a second call gives back nothing more
        assert admitted == [5.0]
        assert admission.opening == 2

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_connection_held_past_the_hold_stops_counting() -> None:
    async def main() -> None:
        admission = Admission(1, hold=3.0)
        stuck = await admission.admit()
        await trio.sleep(1)
        await admission.admit()
        assert trio.current_time() == 3.0  # the first counted until its hold ran out
        stuck()  # answered late: the second keeps its place
        assert admission.opening == 1

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_connections_that_send_nothing_do_not_shut_the_door() -> None:
    async def answer(request: Request) -> None:
        await request.respond(200, [("Content-Type", "text/plain")], b"served")

    async def main() -> None:
        config = HTTPConfig(accept_limit=2, accept_hold=0.2, header_timeout=60)
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(serve_http, answer, "127.0.0.1", 0,
                                                    config=config))
            port = listeners[0].socket.getsockname()[1]
            silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(2)]
            with trio.fail_after(10):
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := await stream.receive_some(4096):
                    data += chunk
            assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"served")
            for sock in silent:
                sock.close()
            nursery.cancel_scope.cancel()

    trio.run(main)
