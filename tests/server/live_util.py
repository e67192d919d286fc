"""Running an Engine.IO or Socket.IO server on loopback inside a test, and counting what it
leaves behind."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import trio
import trio.testing

import engineio_core
import socketio_core
from transports import HTTPConnection, HTTPResponse, handle_stream, open_stream

HOST = "127.0.0.1"


class Live:
    """A server listening on ``HOST:port``, plus client helpers for talking to it."""

    def __init__(self, server: engineio_core.Server, port: int) -> None:
        self.server = server
        self.port = port

    async def http(self) -> HTTPConnection:
        return HTTPConnection(await open_stream(HOST, self.port), HOST)

    async def request(self, method: str, target: str, body: bytes = b"",
                      headers: list[tuple[str, str]] | None = None) -> HTTPResponse:
        connection = await self.http()
        try:
            return await connection.request(method, target, headers or [], body)
        finally:
            await connection.aclose()

    async def handshake(self, connection: HTTPConnection | None = None) -> str:
        target = "/engine.io/?EIO=4&transport=polling"
        if connection is None:
            response = await self.request("GET", target)
        else:
            response = await connection.request("GET", target)
        assert response.status == 200, response
        sid: str = json.loads(response.body[1:])["sid"]
        return sid


async def echo(socket: engineio_core.Socket) -> None:
    async for message in socket:
        await socket.send(message)


@asynccontextmanager
async def live_server(handler: Callable[[engineio_core.Socket], Awaitable[None]] = echo,
                      **options: Any) -> AsyncIterator[Live]:
    server = engineio_core.Server(handler, **options)
    # Polling sessions left open by a test wait for a GET that never comes: don't wait long.
    server.shutdown_timeout = 0.2
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, HOST, 0)
        try:
            yield Live(server, listeners[0].socket.getsockname()[1])
        finally:
            await server.aclose()
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def serving(server: socketio_core.Server) -> AsyncIterator[int]:
    """``server`` listening on a free loopback port (yielded); closed on the way out."""
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, HOST, 0)
        try:
            yield listeners[0].socket.getsockname()[1]
        finally:
            await server.aclose()
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def in_memory(server: socketio_core.Server) -> AsyncIterator[Callable[[], Any]]:
    """``server`` on memory streams, for tests on the mock clock: yields ``connect()``, which
    opens a stream to it (as from ``127.0.0.1``); closed on the way out."""

    async def handle(request: Any) -> None:
        if not await server.handle_request(request):
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    async with trio.open_nursery() as nursery:
        server.engine.use_nursery(nursery)

        async def connect() -> trio.abc.Stream:
            client, served = trio.testing.memory_stream_pair()
            nursery.start_soon(partial(handle_stream, served, handle, server.engine.http_config,
                                       client=(HOST, 1), secure=False))
            return client

        try:
            yield connect
        finally:
            await server.aclose()
            nursery.cancel_scope.cancel()


def task_count() -> int:
    """Every task alive in this run, walking the tree from the root."""
    count = 0
    todo = [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        count += 1
        for nursery in task.child_nurseries:
            todo.extend(nursery.child_tasks)
    return count


async def settle(predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    """Wait (bounded) until ``predicate()`` holds; fail the test if it never does."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)
