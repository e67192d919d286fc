"""Timing of the client on trio's mock clock, over memory streams: backoff delays, heartbeat
(ping timeout), ack timeouts and retries, each asserted at the exact synthetic instant."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

from socketio_core import Manager, connect
from socketio_core._backoff import Backoff
from tests.client.conftest import Recorder
from tests.client.server_app import _fallback, build
from transports import Request, handle_stream

URL = "http://test.invalid"
Handler = Callable[[Request], Awaitable[None]]


def run_mock(fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(300):  # synthetic seconds: the mock clock jumps when all wait
            await fn()

    trio.run(bounded, clock=trio.testing.MockClock(autojump_threshold=0))


def memory_factory(nursery: trio.Nursery, handler: Handler) -> Any:
    async def factory(host: str, port: int, tls: bool) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        nursery.start_soon(partial(handle_stream, server, handler, None,
                                   client=("127.0.0.1", 1), secure=False))
        return client

    return factory


async def refuse(host: str, port: int, tls: bool) -> trio.abc.Stream:
    raise OSError("connection refused")


def test_backoff_formula() -> None:
    plain = Backoff(1.0, 5.0, 0.0)
    assert [plain.duration() for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    plain.reset()
    assert plain.duration() == 1.0
    down = Backoff(1.0, 5.0, 0.5, random=lambda: 0.25)  # tenths digit 2: even, shorter
    assert [down.duration() for _ in range(4)] == [0.875, 1.75, 3.5, 5.0]
    up = Backoff(0.5, 60.0, 0.5, random=lambda: 0.35)  # tenths digit 3: odd, longer
    # Node counts in whole milliseconds: the deviation of 87.5 ms is 87 ms.
    assert [up.duration() for _ in range(3)] == [0.587, 1.175, 2.35]
    assert Backoff(1.0, 5.0, 2.0, random=lambda: 0.9).duration() == 1.0  # jitter > 1: none


@pytest.mark.parametrize(("draw", "delays"), [
    (0.25, [0.875, 1.75, 3.5, 5.0, 5.0]),
    (0.35, [1.175, 2.35, 4.7, 5.0, 5.0]),
])
def test_reconnection_delays_follow_the_backoff(draw: float, delays: list[float]) -> None:
    async def main() -> None:
        events = Recorder()
        start = trio.current_time()
        async with Manager(URL, reconnection_attempts=5, random=lambda: draw,
                           stream_factory=refuse) as manager:
            for name in ("reconnect_attempt", "reconnect_error", "reconnect_failed"):
                manager.on(name, lambda *a, n=name: events(n)(trio.current_time() - start, *a))
            socket = manager.socket("/")
            socket.on("connect_error", lambda e: events("connect_error")(e.message))
            await socket.wait()
        times = [t for t, _ in events.of("reconnect_attempt")]
        expected, total = [], 0.0
        for delay in delays:
            total += delay
            expected.append(total)
        assert times == pytest.approx(expected, abs=1e-9)
        assert [a for _, a in events.of("reconnect_attempt")] == [1, 2, 3, 4, 5]
        assert len(events.of("reconnect_error")) == 5
        assert events.of("reconnect_failed") == [(pytest.approx(total),)]
        assert events.of("connect_error") == [("xhr poll error",)] * 6

    run_mock(main)


async def fake_engine_server(
    request: Request, *, pings: int, after_connect: Callable[[Any], Awaitable[None]] | None = None
) -> None:
    """A minimal Engine.IO/Socket.IO server over WebSocket: ping every second ``pings`` times,
    then go silent."""
    ws = await request.accept_websocket()
    await ws.send("0" + json.dumps({"sid": "e1", "upgrades": [], "pingInterval": 1000,
                                    "pingTimeout": 500, "maxPayload": 100000}))
    assert await ws.receive() == "40"
    await ws.send('40{"sid":"s1"}')
    if after_connect is not None:
        await after_connect(ws)
    for _ in range(pings):
        await trio.sleep(1)
        await ws.send("2")
        assert await ws.receive() == "3"
    await trio.sleep_forever()


def test_ping_timeout_on_the_mock_clock() -> None:
    async def main() -> None:
        events = Recorder()
        async with trio.open_nursery() as nursery:
            factory = memory_factory(nursery, partial(fake_engine_server, pings=3))
            start = trio.current_time()
            async with connect(URL, transports=("websocket",), reconnection=False,
                               stream_factory=factory) as socket:
                socket.on("disconnect", lambda r: events("disconnect")(
                    trio.current_time() - start, r))
                await socket.wait()
            # Pings at 1, 2 and 3 s were answered; nothing came by 3 + 1.0 + 0.5.
            assert events.of("disconnect") == [(4.5, "ping timeout")]
            nursery.cancel_scope.cancel()

    run_mock(main)


def test_parse_error_closes_and_reconnects() -> None:
    async def garbage(ws: Any) -> None:
        await ws.send('42["unterminated')  # an EVENT whose data is not JSON

    async def main() -> None:
        events = Recorder()
        async with trio.open_nursery() as nursery:
            factory = memory_factory(
                nursery, partial(fake_engine_server, pings=0, after_connect=garbage))
            start = trio.current_time()
            async with Manager(URL, transports=("websocket",), random=lambda: 0.0,
                               reconnection_attempts=1, stream_factory=factory) as manager:
                manager.on("reconnect_attempt",
                           lambda a: events("attempt")(trio.current_time() - start, a))
                socket = manager.socket("/")
                socket.on("disconnect", lambda r: events("disconnect")(r))
                await events.wait("disconnect", 2)
                assert events.of("disconnect") == [("parse error",), ("parse error",)]
                assert events.of("attempt") == [(1.0, 1)]
            nursery.cancel_scope.cancel()

    run_mock(main)


def with_our_server(test: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        server = build({"pingInterval": 25000, "pingTimeout": 20000})
        async with trio.open_nursery() as nursery:
            server.engine.use_nursery(nursery)
            await test(memory_factory(nursery, _fallback(server)))
            nursery.cancel_scope.cancel()

    run_mock(main)


@pytest.mark.parametrize("transports", [("polling", "websocket"), ("polling",)])
def test_ack_timeouts_on_the_mock_clock(transports: tuple[str, ...]) -> None:
    async def test(factory: Any) -> None:
        async with connect(URL, transports=transports, ack_timeout=7,
                           stream_factory=factory) as socket:
            start = trio.current_time()
            with pytest.raises(TimeoutError, match="operation has timed out"):
                await socket.timeout(5).emit_with_ack("never-ack")
            assert trio.current_time() - start == 5
            with pytest.raises(TimeoutError):
                await socket.emit_with_ack("never-ack")
            assert trio.current_time() - start == 12
            assert await socket.emit_with_ack("echo", 1) == 1

    with_our_server(test)


def test_retries_on_the_mock_clock() -> None:
    async def test(factory: Any) -> None:
        async with connect(URL, retries=2, ack_timeout=2,
                           stream_factory=factory) as socket:
            sent: list[str] = []
            socket.on_any_outgoing(lambda event, *args: sent.append(event))
            start = trio.current_time()
            # Unanswered the first time; the retry 2 s later is acked at once.
            assert await socket.emit_with_ack("flaky", "k") == 2
            assert trio.current_time() - start == 2
            # Never answered: 1 + 2 tries, 2 s each, then the error.
            with pytest.raises(TimeoutError, match="operation has timed out"):
                await socket.emit_with_ack("never-ack")
            assert trio.current_time() - start == 8
            # The queue sends one packet at a time, in order, once each when acked.
            for n in range(3):
                await socket.emit("record", "r", n)
            assert await socket.emit_with_ack("records?", "r") == [0, 1, 2]
            assert trio.current_time() - start == 8
            await trio.sleep(0)
            assert sent == ["flaky", "flaky", "never-ack", "never-ack", "never-ack",
                            "record", "record", "record", "records?"]

    with_our_server(test)
