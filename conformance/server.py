"""Servers configured exactly as the official protocol test suites expect.

``python -m conformance.server socketio`` — the "Test suite" server of socketio/socket.io-protocol;
``python -m conformance.server engineio`` — the one of socketio/engine.io-protocol. Both listen on
localhost:3000 (``--port`` to change it).
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

import engineio_core
from socketio_core import Server, Socket
from socketio_core.handlers import Ack

SUITE_OPTIONS: dict[str, Any] = {
    "ping_interval": 0.3,
    "ping_timeout": 0.2,
    "max_http_buffer_size": 1_000_000,
    "cors_allowed_origins": "*",
}


def socketio_server() -> Server:
    """The socket.io-protocol suite's server: ``auth`` echo, ``message-back``, acks, ``/custom``."""
    server = Server(connect_timeout=1.0, **SUITE_OPTIONS)

    @server.on("connection")
    async def main_connection(socket: Socket) -> None:
        await socket.emit("auth", socket.handshake.auth)

        @socket.on("message")
        async def message(*args: Any, ack: Ack | None) -> None:
            # As the reference's handler: it sends the arguments back and never answers an ack
            # (declaring ``ack`` keeps the return value from answering it).
            await socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def message_with_ack(*args: Any, ack: Ack | None) -> None:
            if ack is not None:
                ack(*args)

    @server.of("/custom").on("connection")
    async def custom_connection(socket: Socket) -> None:
        await socket.emit("auth", socket.handshake.auth)

    return server


def engineio_server() -> engineio_core.Server:
    """The engine.io-protocol suite's server: every message is sent straight back."""

    async def echo(socket: engineio_core.Socket) -> None:
        async for message in socket:
            await socket.send(message)

    return engineio_core.Server(echo, **SUITE_OPTIONS)


async def main(kind: str, host: str, port: int) -> None:
    server = socketio_server() if kind == "socketio" else engineio_server()
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, host, port)
        print(f"{kind} conformance server on http://{host}:{port}", flush=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["socketio", "engineio"])
    parser.add_argument("--host", default="localhost")
    parser.add_argument("--port", type=int, default=3000)
    args = parser.parse_args()
    trio.run(main, args.kind, args.host, args.port)


if __name__ == "__main__":
    cli()
