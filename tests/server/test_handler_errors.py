"""A handler that raises is logged with its traceback, naming the namespace, the event and the
socket id: on the server (each way a handler is started) and on the client."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import Server, Socket
from tests.server.live_util import serving

HOST = "127.0.0.1"


def run(fn: Any) -> None:
    async def bounded() -> None:
        with trio.fail_after(20):
            await fn()

    trio.run(bounded)


def failures(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger and r.levelno == logging.ERROR]


def test_server_handlers_that_raise_are_logged_with_namespace_event_and_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server()
    chat = server.of("/chat")
    sids: list[str] = []

    @chat.on("connection")
    def connected(socket: Socket) -> None:
        sids.append(socket.id)

        @socket.on("plain")  # started by the reader itself (no task)
        def plain() -> None:
            raise ValueError("plain failed")

        @socket.on("waits")  # fails after waiting, in a task of its own
        async def waits() -> None:
            await trio.sleep(0)
            raise KeyError("waits failed")

        @socket.on("twice")  # several handlers: queued in the dispatcher
        def first() -> None:
            raise ZeroDivisionError("twice failed")

        socket.on("twice", lambda: None)

        @socket.on("disconnect")
        def gone(reason: str) -> None:
            raise RuntimeError("disconnect failed")

    @chat.on("boom")  # a namespace-level handler
    def boom(socket: Socket) -> None:
        raise LookupError("boom failed")

    async def main() -> None:
        caplog.set_level(logging.ERROR, logger="socketio_core")
        async with serving(server) as port:
            async with socketio_core.connect(f"http://{HOST}:{port}/chat",
                                             reconnection=False) as client:
                for event in ("plain", "waits", "twice", "boom"):
                    await client.emit(event)
                while len(failures(caplog, "socketio_core")) < 4:
                    await trio.sleep(0.01)
            while len(failures(caplog, "socketio_core")) < 5:
                await trio.sleep(0.01)

    run(main)
    records = failures(caplog, "socketio_core")
    [sid] = sids
    seen = {}
    for record in records:
        assert record.exc_info is not None, record.getMessage()
        seen[record.exc_info[0]] = record.getMessage()
    assert seen == {
        ValueError: f"handler of 'plain' failed (namespace '/chat', socket {sid})",
        KeyError: f"handler of 'waits' failed (namespace '/chat', socket {sid})",
        ZeroDivisionError: f"handler of 'twice' failed (namespace '/chat', socket {sid})",
        LookupError: f"handler of 'boom' failed (namespace '/chat', socket {sid})",
        RuntimeError: f"handler of 'disconnect' failed (namespace '/chat', socket {sid})",
    }


def test_connection_and_disconnecting_handlers_that_raise_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server()
    sids: list[str] = []

    @server.on("connection")
    def connected(socket: Socket) -> None:
        sids.append(socket.id)

        @socket.on("disconnecting")
        def leaving(reason: str) -> None:
            raise RuntimeError("disconnecting failed")

        raise ValueError("connection failed")

    async def main() -> None:
        caplog.set_level(logging.ERROR, logger="socketio_core")
        async with serving(server) as port:
            async with socketio_core.connect(f"http://{HOST}:{port}", reconnection=False):
                while not failures(caplog, "socketio_core"):
                    await trio.sleep(0.01)
            while len(failures(caplog, "socketio_core")) < 2:
                await trio.sleep(0.01)

    run(main)
    [sid] = sids
    assert [(r.exc_info[0] if r.exc_info else None, r.getMessage())
            for r in failures(caplog, "socketio_core")] == [
        (ValueError, f"handler of 'connection' failed (namespace '/', socket {sid})"),
        (RuntimeError, f"handler of 'disconnecting' failed (namespace '/', socket {sid})"),
    ]


def test_client_handlers_that_raise_are_logged_with_namespace_event_and_socket(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server()

    @server.of("/news").on("connection")
    async def connected(socket: Socket) -> None:
        await socket.emit("plain")
        await socket.emit("waits")

    async def main() -> str:
        caplog.set_level(logging.ERROR, logger="socketio_core.client")
        async with serving(server) as port:
            async with socketio_core.connect(f"http://{HOST}:{port}/news", wait=False,
                                             reconnection=False) as client:

                @client.on("plain")
                def plain() -> None:
                    raise ValueError("plain failed")

                @client.on("waits")
                async def waits() -> None:
                    await trio.sleep(0)
                    raise KeyError("waits failed")

                await client.wait_connected()
                assert client.id is not None
                sid = client.id
                while len(failures(caplog, "socketio_core.client")) < 2:
                    await trio.sleep(0.01)
        return sid

    sid = ""

    async def outer() -> None:
        nonlocal sid
        sid = await main()

    run(outer)
    assert sorted((r.exc_info[0].__name__ if r.exc_info else "", r.getMessage())
                  for r in failures(caplog, "socketio_core.client")) == [
        ("KeyError", f"handler of 'waits' failed (namespace '/news', socket {sid})"),
        ("ValueError", f"handler of 'plain' failed (namespace '/news', socket {sid})"),
    ]
