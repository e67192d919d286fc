"""Our benchmark server: the benchmark contract on the default namespace, default options.

Usage: ``python -m benchmarks.server --port PORT`` (prints ``listening PORT`` once ready).

The contract, the same for every contestant:
    ``echo(*args)``: with an ack asked, ack with the same arguments; else emit ``echo`` back to
    the sender with them (binary included).
    ``join(room)``: join, then ack.
    ``broadcast(room, payload)``: emit ``bcast`` with ``payload`` to everyone in the room
    (the sender too), then ack.
"""

from __future__ import annotations

import argparse
from typing import Any

import trio

from socketio_core import Server, Socket
from socketio_core.handlers import Ack


def make_server() -> Server:
    """Our server, default options, with the benchmark contract."""
    server = Server()

    @server.on("echo")
    def echo(socket: Socket, *args: Any, ack: Ack | None) -> None:
        if ack is not None:
            ack(*args)
        else:
            socket.emit_nowait("echo", *args)

    @server.on("join")
    def join(socket: Socket, room: str) -> bool:
        socket.join(room)
        return True

    @server.on("broadcast")
    async def broadcast(socket: Socket, room: str, payload: Any) -> bool:
        await server.to(room).emit("bcast", payload)
        return True

    return server


async def serve(port: int) -> None:
    async with make_server() as server, trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, "127.0.0.1", port)
        print(f"listening {listeners[0].socket.getsockname()[1]}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    trio.run(serve, parser.parse_args().port)


if __name__ == "__main__":
    main()
