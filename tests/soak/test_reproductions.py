"""The minimal reproductions of issue 17, each against a live server in the test with its log
captured: no ERROR record, whatever the client does, and sessions end when their client is
gone."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
import trio

import engineio_core
from benchmarks.soak.scenarios import reset_during_probe, ws_echo
from benchmarks.soak.server import make_server
from benchmarks.soak.wire import Gone, WSClient, open_conn, ws_upgrade_request

HOST = "127.0.0.1"


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in caplog.records
            if r.levelno >= logging.ERROR]


@asynccontextmanager
async def _socketio_server() -> AsyncIterator[int]:
    """Our soak server (the issue's options and contract) on a free port."""
    server = make_server()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, HOST, 0)
        yield listeners[0].socket.getsockname()[1]
        await server.aclose()
        nursery.cancel_scope.cancel()


def _run(body: Callable[[int], Awaitable[None]]) -> None:
    async def main() -> None:
        with trio.fail_after(30):
            async with _socketio_server() as port:
                await body(port)

    trio.run(main)


async def _closed_by_server(client: WSClient) -> None:
    """Read until the server closes the WebSocket (a Close frame or the TCP close)."""
    with pytest.raises(Gone):
        while True:
            await client.recv_message()


def test_a_reset_during_the_probe_leaves_the_polling_session_as_it_was(
        caplog: pytest.LogCaptureFixture) -> None:
    async def body(port: int) -> None:
        kept = [await reset_during_probe(port, wait_probe_answer=bool(i % 2))
                for i in range(30)]
        assert kept == [True] * 30

    _run(body)
    assert _errors(caplog) == []


def test_a_websocket_handshake_reset_before_the_101_closes_the_session_at_once(
        caplog: pytest.LogCaptureFixture) -> None:
    reasons: list[str | None] = []
    asked = trio.Event()
    reset = trio.Event()

    async def handler(socket: engineio_core.Socket) -> None:
        async for _ in socket:
            pass
        reasons.append(socket.close_reason)

    async def allow(handshake: engineio_core.Handshake) -> bool:
        # Hold the handshake until the client has reset, so that the 101 meets a connection
        # already gone (otherwise the reset may come before the request is read, or after
        # the 101 left, depending on the scheduler).
        asked.set()
        await reset.wait()
        return True

    async def main() -> None:
        nonlocal asked, reset
        server = engineio_core.Server(handler, path="/socket.io", ping_interval=25.0,
                                      ping_timeout=20.0, allow_request=allow)
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve, HOST, 0)
            port = listeners[0].socket.getsockname()[1]
            for n in range(1, 21):
                asked, reset = trio.Event(), trio.Event()
                conn = await open_conn(port)
                await conn.send(ws_upgrade_request())
                with trio.fail_after(5):
                    await asked.wait()
                conn.reset()
                reset.set()
                # Far sooner than the ping timeout (45 s) that ends it otherwise.
                with trio.fail_after(5):
                    while len(reasons) < n or server.sessions:
                        await trio.sleep(0.01)
            assert reasons == ["transport close"] * 20
            await server.aclose()
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert _errors(caplog) == []


def test_a_connect_to_an_unknown_namespace_then_a_malformed_packet_closes_cleanly(
        caplog: pytest.LogCaptureFixture) -> None:
    async def body(port: int) -> None:
        client = await WSClient.open(port)
        await client.send("40/never,", "4x")
        await _closed_by_server(client)

    _run(body)
    assert _errors(caplog) == []


def test_a_malformed_packet_after_queued_events_closes_cleanly(
        caplog: pytest.LogCaptureFixture) -> None:
    async def body(port: int) -> None:
        client = await WSClient.open(port)
        await client.sio_connect()
        await client.send('42["unknown_event"]', '42["echo",1]', "4x")
        await _closed_by_server(client)

    _run(body)
    assert _errors(caplog) == []


@pytest.mark.parametrize(("depth", "echoed"), [(600, True), (5000, False)])
def test_deeply_nested_json_is_echoed_or_refused_with_one_line(
        depth: int, echoed: bool, caplog: pytest.LogCaptureFixture) -> None:
    # As Node, 600 levels are echoed; 5000 (which overflow Node's stack) are refused.
    caplog.set_level(logging.DEBUG, logger="socketio_core")
    nested = "[" * depth + "]" * depth

    async def body(port: int) -> None:
        client = await WSClient.open(port)
        await client.sio_connect()
        await client.send(f'421["echo",{nested}]')
        if echoed:
            assert await client.recv_text() == f"431[{nested}]"
            await ws_echo(client, 2)  # and the connection goes on
        else:
            await _closed_by_server(client)

    _run(body)
    assert _errors(caplog) == []
    told = [r for r in caplog.records if "levels deep" in r.getMessage()]
    assert len(told) == (0 if echoed else 1)
    assert all(r.exc_info is None for r in told)
