"""The Engine.IO client runtime alone, against our Engine.IO server over memory streams on the
mock clock: messages both ways on each transport and across the upgrade, closes from either
side with their reasons, handshake failures."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import pytest
import trio
import trio.testing

import engineio_core
from engineio_core.client import Client, ConnectionFailed
from transports import Request, handle_stream

URL = "http://test.invalid"
MODES = {"upgrade": ("polling", "websocket"), "websocket": ("websocket",), "polling": ("polling",)}


def run_mock(fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(300):
            await fn()

    trio.run(bounded, clock=trio.testing.MockClock(autojump_threshold=0))


def factory_for(nursery: trio.Nursery, handler: Callable[[Request], Awaitable[None]]) -> Any:
    async def factory(host: str, port: int, tls: bool) -> trio.abc.Stream:
        client, server = trio.testing.memory_stream_pair()
        nursery.start_soon(partial(handle_stream, server, handler, None,
                                   client=("127.0.0.1", 1), secure=False))
        return client

    return factory


async def echo_then(engine: engineio_core.Socket) -> None:
    """Echo every message; ``"close"`` makes the server close the session."""
    async for message in engine:
        if message == "close":
            engine.close()
            return
        await engine.send(message)


@pytest.mark.parametrize("mode", MODES)
def test_messages_both_ways_and_server_close(mode: str) -> None:
    async def main() -> None:
        server = engineio_core.Server(echo_then)
        received: list[str | bytes] = []
        got = trio.Event()

        def on_message(data: str | bytes) -> None:
            received.append(data)
            if len(received) == 40:
                got.set()

        async with trio.open_nursery() as nursery:
            server.use_nursery(nursery)
            client = Client(URL, transports=MODES[mode], on_message=on_message,
                            stream_factory=factory_for(nursery, server.handle_request))
            await nursery.start(client.run)
            assert client.sid is not None and client.opened is not None
            for n in range(20):
                client.send(f"text {n}")
                client.send(bytes([n]))
                await trio.sleep(0.01 if n % 5 == 0 else 0)
            await got.wait()
            assert received == [m for n in range(20) for m in (f"text {n}", bytes([n]))]
            assert client.transport == ("polling" if mode == "polling" else "websocket")
            client.send("close")
            assert await client.wait_closed() == "transport close"
            await client.wait_finished()
            nursery.cancel_scope.cancel()

    run_mock(main)


@pytest.mark.parametrize("mode", MODES)
def test_client_close_flushes_then_reaches_the_server(mode: str) -> None:
    async def main() -> None:
        reasons: list[str | None] = []
        messages: list[str | bytes] = []

        async def record(engine: engineio_core.Socket) -> None:
            async for message in engine:
                messages.append(message)
            reasons.append(engine.close_reason)

        server = engineio_core.Server(record)
        async with trio.open_nursery() as nursery:
            server.use_nursery(nursery)
            client = Client(URL, transports=MODES[mode],
                            stream_factory=factory_for(nursery, server.handle_request))
            await nursery.start(client.run)
            client.send("last words")
            client.close()
            assert await client.wait_closed() == "forced close"
            await client.wait_finished()
            with trio.fail_after(5):
                while not reasons:
                    await trio.sleep(0.01)
            assert messages == ["last words"]
            assert reasons == ["transport close"]
            nursery.cancel_scope.cancel()

    run_mock(main)


@pytest.mark.parametrize("mode", MODES)
def test_receiver_gets_every_message_in_order(mode: str) -> None:
    """A receiver set late gets what was queued first; one that sometimes leaves something to
    await still sees the messages one at a time, in order."""
    async def main() -> None:
        received: list[str | bytes] = []
        busy = [False]
        done = trio.Event()

        async def slowly() -> None:
            await trio.sleep(0.01)
            busy[0] = False

        def receiver(message: str | bytes) -> Awaitable[None] | None:
            assert not busy[0], "a delivery overlapped the one still awaited"
            received.append(message)
            if len(received) == 30:
                done.set()
            if len(received) % 3 == 0:
                busy[0] = True
                return slowly()
            return None

        async def handler(engine: engineio_core.Socket) -> None:
            await trio.sleep(0.05)  # the first messages wait in the inbox
            await engine.set_receiver(receiver)
            await engine.wait_closed()

        server = engineio_core.Server(handler)
        async with trio.open_nursery() as nursery:
            server.use_nursery(nursery)
            client = Client(URL, transports=MODES[mode],
                            stream_factory=factory_for(nursery, server.handle_request))
            await nursery.start(client.run)
            for n in range(30):
                client.send(f"m{n}")
                if n % 7 == 0:
                    await trio.sleep(0.005)
            await done.wait()
            assert received == [f"m{n}" for n in range(30)]
            client.close()
            await client.wait_finished()
            nursery.cancel_scope.cancel()

    run_mock(main)


@pytest.mark.parametrize("when", ["at once", "later"])
def test_receiver_that_raises_closes_the_session(when: str) -> None:
    async def main() -> None:
        reasons: list[str | None] = []

        async def fail() -> None:
            await trio.sleep(0.01)
            raise RuntimeError("boom later")

        def receiver(message: str | bytes) -> Awaitable[None] | None:
            if message != "boom":
                return None
            if when == "later":
                return fail()
            raise RuntimeError("boom at once")

        async def handler(engine: engineio_core.Socket) -> None:
            await engine.set_receiver(receiver)
            await engine.wait_closed()
            reasons.append(engine.close_reason)

        server = engineio_core.Server(handler)
        async with trio.open_nursery() as nursery:
            server.use_nursery(nursery)
            client = Client(URL, transports=("websocket",),
                            stream_factory=factory_for(nursery, server.handle_request))
            await nursery.start(client.run)
            client.send("fine")
            client.send("boom")
            await client.wait_closed()
            await client.wait_finished()
            with trio.fail_after(5):
                while not reasons:
                    await trio.sleep(0.01)
            assert reasons == ["forced close"]
            nursery.cancel_scope.cancel()

    run_mock(main)


@pytest.mark.parametrize(("mode", "message"), [("polling", "xhr poll error"),
                                               ("websocket", "websocket error")])
def test_handshake_failures(mode: str, message: str) -> None:
    async def not_found(request: Request) -> None:
        await request.respond(404, [], b"nothing here")

    async def refused(host: str, port: int, tls: bool) -> trio.abc.Stream:
        raise OSError("connection refused")

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            client = Client(URL, transports=(mode,), stream_factory=factory_for(nursery, not_found))
            with pytest.raises(ConnectionFailed) as caught:
                await nursery.start(client.run)
            assert caught.value.message == message
            assert "404" in (caught.value.description or "")
            client = Client(URL, transports=(mode,), stream_factory=refused)
            with pytest.raises(ConnectionFailed, match="connection refused"):
                await nursery.start(client.run)
            nursery.cancel_scope.cancel()

    run_mock(main)


def test_bad_urls_and_options() -> None:
    with pytest.raises(ValueError):
        Client("ftp://example.com")
    with pytest.raises(ValueError):
        Client("http://")
    with pytest.raises(ValueError):
        Client("http://h", transports=("carrier-pigeon",))
