"""A user's server, as ``socketio-core serve tests.cli.tiny_app:sio`` finds it."""

from __future__ import annotations

from typing import Any

from socketio_core import Server, Socket

sio = Server()
not_a_server = object()


@sio.on("connection")
def connected(socket: Socket) -> None:
    socket.join("tiny-room")

    @socket.on("echo")
    def echo(*args: Any) -> tuple[Any, ...]:
        return args


def make() -> Server:
    return sio
