"""Our server implementing the interop contract of conformance/js/reference_server.mjs.

Run as ``python -m tests.interop.app PORT [recovery]``; prints ``listening PORT`` once ready.
With ``recovery``: connection state recovery on, sessions kept for 3 s.
"""

from __future__ import annotations

import sys
from typing import Any

import trio

from socketio_core import ConnectError, Server, Socket
from socketio_core.handlers import Ack

last_disconnect_reason: list[str | None] = [None]
watched: set[str] = set()


def build(recovery: bool = False) -> Server:
    server = Server(
        ping_interval=2.0, ping_timeout=2.0, cors_allowed_origins="*",
        connection_state_recovery={"max_disconnection_duration": 3.0} if recovery else None)

    async def contract(socket: Socket) -> None:
        seq = 0

        @socket.on("echo")
        async def echo(*args: Any, ack: Ack | None) -> None:
            if ack is not None:
                ack(*args)
            else:
                await socket.emit("echo", *args)

        socket.on("whoami", lambda: socket.namespace.name)
        socket.on("auth?", lambda: socket.handshake.auth)

        @socket.on("please-ask")
        async def please_ask(n: int) -> None:
            answer = await socket.emit_with_ack("ask", n, timeout=5)
            await socket.emit("answered", answer)

        @socket.on("never-ack")
        def never_ack(*, ack: Ack | None) -> None:
            pass

        @socket.on("send-binary")
        async def send_binary() -> None:
            await socket.emit("binary-from-server", {"x": b"\x07\x08", "nested": [b"\x00"]})

        @socket.on("join")
        def join(room: str) -> bool:
            socket.join(room)
            return True

        @socket.on("to-room")
        async def to_room(room: str, msg: Any) -> bool:
            await socket.to(room).emit("room-message", msg)
            return True

        @socket.on("to-all")
        async def to_all(msg: Any) -> bool:
            await server.emit("room-message", msg)
            return True

        @socket.on("disconnect-me")
        async def disconnect_me() -> None:
            await socket.disconnect()

        @socket.on("drop-transport")
        def drop_transport() -> None:
            socket.conn.close()

        @socket.on("watch-my-disconnect")
        def watch() -> bool:
            watched.add(socket.id)
            return True

        socket.on("last-disconnect-reason", lambda: last_disconnect_reason[0])

        @socket.on("seq")
        async def on_seq(n: int) -> None:
            nonlocal seq
            if n == seq:
                seq += 1
            await socket.emit("seq", n)

        @socket.on("seq-end")
        async def seq_end() -> None:
            await socket.emit("seq-done", seq)

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None:
            if socket.id in watched:
                watched.discard(socket.id)
                last_disconnect_reason[0] = reason

        # Connection state recovery.
        @socket.on("set-data")
        def set_data(data: Any) -> bool:
            socket.data = data
            return True

        socket.on("data?", lambda: socket.data)
        socket.on("rooms?", lambda: sorted("<self>" if r == socket.id else r
                                           for r in socket.rooms))
        socket.on("recovered?", lambda: socket.recovered)

        @socket.on("send-me")
        async def send_me(value: Any) -> bool:
            await socket.emit("sent", value)
            return True

        @socket.on("arm-missed")
        def arm_missed(room: str) -> bool:
            async def missed(reason: str) -> None:
                socket.off("disconnect", missed)
                namespace = socket.namespace
                await socket.emit("missed", "direct", reason)
                await namespace.to(room).emit("missed", "room")
                await namespace.to("elsewhere").emit("missed", "not for it")
                await namespace.emit("missed", "all")
                await namespace.except_(room).emit("missed", "not for it either")
                await namespace.volatile.emit("missed", "volatile")

            socket.on("disconnect", missed)
            return True

    server.on("connection", contract)
    admin = server.of("/admin")

    def only_with_token(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectError("not authorized", {"code": 42})

    admin.use(only_with_token)
    admin.on("connection", contract)
    return server


async def main(port: int, recovery: bool) -> None:
    server = build(recovery)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve, "127.0.0.1", port)
        print(f"listening {listeners[0].socket.getsockname()[1]}", flush=True)


if __name__ == "__main__":
    trio.run(main, int(sys.argv[1]) if len(sys.argv) > 1 else 0,
             sys.argv[2:3] == ["recovery"])
