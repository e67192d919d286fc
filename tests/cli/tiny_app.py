"""A user's server, as ``socketio-core serve tests.cli.tiny_app:sio`` finds it."""

from __future__ import annotations

import gc
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

    @socket.on("gc-threshold")
    def gc_threshold() -> list[int]:
        return list(gc.get_threshold())


def make() -> Server:
    return sio
