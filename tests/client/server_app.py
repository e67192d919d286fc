"""Our server with the contract of conformance/js/client_test_server.mjs, for the client tests.

Run as ``python -m tests.client.server_app '{"port": 0, ...}'`` (the same JSON options as the
Node script); prints ``listening PORT`` once ready. ``build`` makes it in-process.
"""

from __future__ import annotations

import json
import ssl
import sys
from functools import partial
from typing import Any

import trio

from socketio_core import ConnectError, Server, Socket
from socketio_core.handlers import Ack
from transports import serve_http


def build(config: dict[str, Any] | None = None) -> Server:
    config = config or {}
    server = Server(
        ping_interval=config.get("pingInterval", 1000) / 1000,
        ping_timeout=config.get("pingTimeout", 2000) / 1000,
        path=config.get("path", "/socket.io"),
        transports=tuple(config.get("transports", ("polling", "websocket"))),
        connection_state_recovery=_recovery(config.get("recovery")),
    )
    records: dict[str, list[Any]] = {}
    attempts: dict[str, int] = {}

    def contract(socket: Socket) -> None:
        @socket.on("echo")
        async def echo(*args: Any, ack: Ack | None) -> None:
            if ack is not None:
                ack(*args)
            else:
                await socket.emit("echo", *args)

        socket.on("whoami", lambda: socket.namespace.name)
        socket.on("auth?", lambda: socket.handshake.auth)
        socket.on("handshake?", lambda: {
            "query": socket.handshake.query.get("custom"),
            "header": socket.handshake.headers.get("x-custom"),
        })
        socket.on("transport?", lambda: socket.transport)
        socket.on("engine-id?", lambda: socket.conn.sid)

        @socket.on("please-ask")
        async def please_ask(*args: Any) -> None:
            answer = await socket.emit_with_ack("ask", *args, timeout=5)
            await socket.emit("answered", *(answer if isinstance(answer, tuple) else (answer,)))

        @socket.on("send-binary")
        async def send_binary() -> None:
            await socket.emit("binary-from-server", {"x": b"\x07\x08", "nested": [b"\x00"]})

        @socket.on("never-ack")
        def never_ack(*, ack: Ack | None) -> None:
            pass

        @socket.on("disconnect-me")
        async def disconnect_me() -> None:
            await socket.disconnect()

        @socket.on("drop-transport")
        def drop_transport() -> None:
            socket.conn.close()

        @socket.on("record")
        def record(key: str, value: Any) -> bool:
            records.setdefault(key, []).append(value)
            return True

        socket.on("records?", lambda key: records.get(key, []))

        @socket.on("flaky")
        def flaky(key: str, *, ack: Ack | None) -> None:
            attempts[key] = attempts.get(key, 0) + 1
            if attempts[key] >= 2 and ack is not None:
                ack(attempts[key])

        socket.on("attempts?", lambda key: attempts.get(key, 0))

        # Connection state recovery.
        @socket.on("join")
        def join(room: str) -> bool:
            socket.join(room)
            return True

        socket.on("rooms?", lambda: sorted(socket.rooms))

        @socket.on("set-data")
        def set_data(data: Any) -> bool:
            socket.data = data
            return True

        socket.on("data?", lambda: socket.data)
        socket.on("recovered?", lambda: socket.recovered)

        @socket.on("send-me")
        async def send_me(*args: Any) -> bool:
            await socket.emit("sent", *args)
            return True

        @socket.on("arm-missed")
        def arm_missed(room: str) -> bool:
            async def on_disconnect(reason: str) -> None:
                socket.off("disconnect", on_disconnect)
                namespace = socket.namespace
                await socket.emit("missed", "direct", reason)
                await namespace.to(room).emit("missed", "room")
                await namespace.to("elsewhere").emit("missed", "not for it")
                await namespace.emit("missed", "all")
                await namespace.except_(room).emit("missed", "not for it either")

            socket.on("disconnect", on_disconnect)
            return True

    server.on("connection", contract)
    server.of("/other").on("connection", contract)
    admin = server.of("/admin")

    def only_with_token(socket: Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectError("not authorized", {"code": 42})

    admin.use(only_with_token)
    admin.on("connection", contract)
    return server


def _recovery(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """Node's ``connectionStateRecovery`` options, in ours."""
    if config is None:
        return None
    options: dict[str, Any] = {}
    if "maxDisconnectionDuration" in config:
        options["max_disconnection_duration"] = config["maxDisconnectionDuration"] / 1000
    if "skipMiddlewares" in config:
        options["skip_middlewares"] = config["skipMiddlewares"]
    return options


async def main(config: dict[str, Any]) -> None:
    server = build(config)
    context = None
    if config.get("cert"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(config["cert"], config["key"])
    async with trio.open_nursery() as nursery:
        server.engine.use_nursery(nursery)
        listeners = await nursery.start(partial(
            serve_http, _fallback(server), "127.0.0.1", config.get("port", 0),
            config=server.engine.http_config, ssl_context=context))
        print(f"listening {listeners[0].socket.getsockname()[1]}", flush=True)


def _fallback(server: Server) -> Any:
    async def handle(request: Any) -> None:
        if not await server.handle_request(request):
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    return handle


if __name__ == "__main__":
    trio.run(main, json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
