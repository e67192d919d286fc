"""Slow readers against a burst of broadcasts (issue 17): a client still reading, however much
slower than the burst is written, gets all of it and stays; one that takes nothing while the
burst waits for it is dropped (``"transport error"``) and the burst goes on. Our soak server in
the test, raw WebSocket clients on loopback, the server's log captured."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio

from benchmarks.soak.scenarios import ws_ack, ws_echo, ws_joined
from benchmarks.soak.server import make_server
from benchmarks.soak.wire import Gone, WSClient, sio_event
from socketio_core import Server, Socket

HOST = "127.0.0.1"
COUNT = 300
SIZE = 100_000  # 30 MB in all: past four times the 4 MB high-water mark, where a backlog
# alone gets a client dropped


@asynccontextmanager
async def _server(reasons: list[str]) -> AsyncIterator[tuple[Server, int]]:
    server = make_server()

    @server.on("connection")
    def connection(socket: Socket) -> None:
        @socket.on("disconnect")
        def gone(reason: str) -> None:
            reasons.append(reason)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, HOST, 0)
        yield server, listeners[0].socket.getsockname()[1]
        await server.aclose()
        nursery.cancel_scope.cancel()


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_client_reading_slower_than_a_burst_gets_all_of_it_and_stays(
        caplog: pytest.LogCaptureFixture) -> None:
    reasons: list[str] = []

    async def main() -> None:
        async with _server(reasons) as (_, port):
            reader = await ws_joined(port, "room")
            trigger = await WSClient.open(port)
            await trigger.sio_connect()
            got = 0
            with trio.fail_after(60):
                await trigger.send(sio_event("burst", "room", COUNT, SIZE, ack=1))
                while got < COUNT:
                    message = await reader.recv_message()
                    if isinstance(message, str) and message.startswith('42["blob"'):
                        got += 1
                        await trio.sleep(0.002)  # about 50 MB/s: slower than the burst
                await ws_echo(reader, 3)
            assert got == COUNT
            assert reasons == []
            await reader.close()
            await trigger.close()

    trio.run(main)
    assert _errors(caplog) == []


@pytest.mark.parametrize("count", [1, 3])
def test_clients_that_stopped_reading_are_dropped_and_the_burst_goes_on(
        count: int, caplog: pytest.LogCaptureFixture) -> None:
    reasons: list[str] = []

    async def main() -> None:
        async with _server(reasons) as (server, port):
            server.engine.stall_timeout = 0.5
            stopped = [await ws_joined(port, "room") for _ in range(count)]
            trigger = await WSClient.open(port)
            await trigger.sio_connect()
            with trio.fail_after(60):
                # The burst waits for the stopped client (over the mark) until it is dropped.
                assert await ws_ack(
                    trigger, lambda i: sio_event("burst", "room", COUNT, SIZE, ack=i), 1
                ) == "[true]"
            with trio.fail_after(10):  # the disconnect handlers run in tasks of their own
                while len(reasons) < count:
                    await trio.sleep(0.01)
            assert reasons == ["transport error"] * count
            assert len(server.engine.sessions) == 1  # the trigger's
            for client in stopped:
                with pytest.raises(Gone), trio.fail_after(30):
                    while True:  # what it had not read, then the server's close
                        await client.recv_message()
            await trigger.close()

    trio.run(main)
    assert _errors(caplog) == []
