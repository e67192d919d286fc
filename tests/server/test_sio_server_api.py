"""The Socket.IO server API end to end on loopback, driven by our client: middlewares, per-packet
middlewares, catch-all listeners, acks and their timeouts, broadcast operators, disconnect
reasons, dynamic namespaces and graceful shutdown."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import AckTimeoutError, ConnectError, Server, Socket
from tests.server.live_util import serving as serving_on_a_port
from transports import connect_websocket, open_stream

HOST = "127.0.0.1"
WS = ("websocket",)


def run(fn: Callable[[], Awaitable[None]], timeout: float = 20.0) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


@asynccontextmanager
async def serving(server: Server) -> AsyncIterator[str]:
    """``server`` on loopback; yields its URL."""
    async with serving_on_a_port(server) as port:
        yield f"http://{HOST}:{port}"


def client(url: str, **options: Any) -> Any:
    options.setdefault("reconnection", False)
    return socketio_core.connect(url, **options)


async def until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(5):
        while not predicate():
            await trio.sleep(0.01)


@pytest.mark.parametrize("transports", [("polling",), WS], ids=["polling", "websocket"])
def test_middleware_error_is_a_connect_error_with_message_and_data(
        transports: tuple[str, ...]) -> None:
    server = Server()
    calls: list[str] = []

    @server.use
    def first(socket: Socket) -> None:
        calls.append("server")

    admin = server.of("/admin")

    @admin.use
    async def check(socket: Socket) -> None:
        calls.append("admin")
        if socket.handshake.auth.get("token") != "ok":
            raise ConnectError("unauthorized", {"retry": False})

    async def main() -> None:
        async with serving(server) as url:
            with pytest.raises(ConnectError) as info:
                async with client(url + "/admin", auth={"token": "no"}, transports=transports):
                    pass
            assert (info.value.message, info.value.data) == ("unauthorized", {"retry": False})
            async with client(url + "/admin", auth={"token": "ok"}, transports=transports) as s:
                assert s.connected
            async with client(url, transports=transports) as s:
                assert s.connected
            # As in Node, server.use is the main namespace's: "/admin" runs its own only.
            assert calls == ["admin", "admin", "server"]

    run(main)


def test_per_packet_middleware_catch_all_listeners_and_ack_return_values() -> None:
    server = Server()
    incoming: list[tuple[Any, ...]] = []
    outgoing: list[tuple[Any, ...]] = []
    errors: list[str] = []

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.use
        def no_secrets(event: str, args: Any) -> None:
            if event == "secret":
                raise PermissionError("no secrets here")

        socket.on("error", lambda error: errors.append(str(error)))
        socket.on_any(lambda event, *args: incoming.append((event, *args)))
        socket.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
        socket.on("add", lambda a, b: a + b)
        socket.on("secret", lambda: "leaked")

        @socket.on("ping-me")
        async def ping_me() -> None:
            await socket.emit("pong-you", {"bin": b"\x01"})

    async def main() -> None:
        async with serving(server) as url, client(url, transports=WS) as s:
            got: list[Any] = []
            s.on("pong-you", got.append)
            assert await s.emit_with_ack("add", 2, 3, timeout=5) == 5
            with pytest.raises(TimeoutError):
                await s.emit_with_ack("secret", timeout=0.3)
            await s.emit("ping-me")
            await until(lambda: got == [{"bin": b"\x01"}])
        assert incoming == [("add", 2, 3), ("ping-me",)]  # the dropped packet never reached on_any
        assert outgoing == [("pong-you", {"bin": b"\x01"})]
        assert errors == ["no secrets here"]

    run(main)


def test_server_emit_with_ack_and_its_timeout() -> None:
    server = Server()
    results: list[Any] = []

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("ready")  # the client's handlers are in place
        async def ready() -> None:
            results.append(await socket.emit_with_ack("double", 21, timeout=5))
            try:
                await socket.emit_with_ack("ignore-me", timeout=0.2)
            except TimeoutError:
                results.append("timed out")

    async def main() -> None:
        async with serving(server) as url, client(url, transports=WS) as s:
            s.on("double", lambda n: n * 2)

            @s.on("ignore-me")
            def ignore(*, ack: Any) -> None:
                pass  # takes the ack and never calls it

            await s.emit("ready")
            await until(lambda: len(results) == 2)

    run(main)
    assert results == [42, "timed out"]


def test_broadcast_operators_rooms_acks_fetch_join_leave_and_disconnect() -> None:
    server = Server()
    sockets: dict[str, Socket] = {}

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        name = socket.handshake.auth["name"]
        sockets[name] = socket
        socket.join("all")
        if name in ("a", "b"):
            socket.join("ab")

    async def main() -> None:
        async with serving(server) as url:
            received: dict[str, list[Any]] = {n: [] for n in "abc"}
            async with (client(url, auth={"name": "a"}, transports=WS) as a,
                        client(url, auth={"name": "b"}, transports=("polling",)) as b,
                        client(url, auth={"name": "c"}, transports=WS) as c):
                for name, s in (("a", a), ("b", b), ("c", c)):
                    s.on("news", lambda msg, name=name: received[name].append(msg))
                    s.on("vote", lambda name=name: name.upper())
                await until(lambda: len(sockets) == 3)

                await server.to("ab").except_("nobody").emit("news", 1)
                await server.to("all").except_("ab").emit("news", 2)
                await sockets["a"].to("all").emit("news", 3)  # not to itself
                await sockets["a"].broadcast.emit("news", 4)
                # Rooms as lists too, as Node takes arrays.
                await server.to(["ab", "nobody"]).except_(["nobody"], "b-only").emit("news", 5)
                await sockets["c"].to(["ab"]).emit("news", 6)
                await until(lambda: sum(map(len, received.values())) == 2 + 1 + 2 + 2 + 2 + 2)
                assert received == {"a": [1, 5, 6], "b": [1, 3, 4, 5, 6], "c": [2, 3, 4]}

                votes = await server.timeout(5).emit_with_ack("vote")
                assert sorted(votes) == ["A", "B", "C"]

                assert {s.handshake.auth["name"] for s in await server.in_("ab").fetch_sockets()
                        } == {"a", "b"}
                server.in_("ab").sockets_join("vip")
                server.to("vip").sockets_leave("ab")
                assert set(sockets["a"].rooms) == {sockets["a"].id, "all", "vip"}

                reasons: list[str] = []
                sockets["c"].on("disconnect", reasons.append)
                c_reasons: list[str] = []
                c.on("disconnect", c_reasons.append)
                await server.except_("vip").disconnect_sockets()
                await until(lambda: reasons and c_reasons)
                assert reasons == ["server namespace disconnect"]
                assert c_reasons == ["io server disconnect"]
                assert {s.handshake.auth["name"] for s in await server.fetch_sockets()
                        } == {"a", "b"}

    run(main)


def test_broadcast_emit_with_ack_timeout_reports_the_answers_it_got() -> None:
    server = Server()

    async def main() -> None:
        async with serving(server) as url:
            async with client(url, transports=WS) as fast, client(url, transports=WS) as slow:
                fast.on("q", lambda: "fast")

                @slow.on("q")
                async def never(*, ack: Any) -> None:
                    pass  # takes the ack and never calls it

                await until(lambda: len(server.sockets) == 2)
                with pytest.raises(AckTimeoutError) as info:
                    await server.timeout(0.3).emit_with_ack("q")
                assert info.value.responses == ["fast"]

    run(main)


def test_disconnect_reasons_on_both_sides() -> None:
    server = Server()
    server_reasons: list[str] = []

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        socket.on("disconnect", server_reasons.append)

        @socket.on("kick")
        async def kick(close: bool) -> None:
            await socket.disconnect(close)

    async def main() -> None:
        async with serving(server) as url:
            async with client(url, transports=WS) as s:
                client_reasons: list[str] = []
                s.on("disconnect", client_reasons.append)
                await s.emit("kick", False)
                await until(lambda: client_reasons and server_reasons)
                assert (client_reasons, server_reasons) == (
                    ["io server disconnect"], ["server namespace disconnect"])
            server_reasons.clear()
            async with client(url, transports=WS) as s:
                client_reasons = []
                s.on("disconnect", client_reasons.append)
                await s.emit("kick", True)  # as Node: DISCONNECT first, then the session ends
                await until(lambda: client_reasons and server_reasons)
                assert (client_reasons, server_reasons) == (
                    ["io server disconnect"], ["server namespace disconnect"])
                await until(lambda: server.engine.sessions == {})
            server_reasons.clear()
            async with client(url, transports=WS) as s:
                await s.disconnect()
                await until(lambda: bool(server_reasons))
                assert server_reasons == ["client namespace disconnect"]

    run(main)


def test_dynamic_namespaces_by_regex_and_callable() -> None:
    server = Server()
    joined: list[str] = []
    by_regex = server.of(re.compile(r"^/room-\d+$"))
    by_regex.on("connection", lambda socket: joined.append(socket.namespace.name))
    by_callable = server.of(lambda name, auth: name.startswith("/team-") and auth.get("ok"))
    by_callable.on("connection", lambda socket: joined.append(socket.namespace.name))

    async def main() -> None:
        async with serving(server) as url:
            async with client(url + "/room-7", transports=WS):
                pass
            async with client(url + "/team-x", auth={"ok": True}, transports=WS):
                pass
            for bad, auth in (("/room-x", {}), ("/team-y", {"ok": False})):
                with pytest.raises(ConnectError) as info:
                    async with client(url + bad, auth=auth, transports=WS):
                        pass
                assert info.value.message == "Invalid namespace"
        assert joined == ["/room-7", "/team-x"]

    run(main)


def test_graceful_shutdown_tells_every_client() -> None:
    server = Server()
    server_reasons: list[str] = []
    server.on("connection", lambda socket: socket.on("disconnect", server_reasons.append))

    async def main() -> None:
        client_reasons: list[str] = []
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve, HOST, 0)
            url = f"http://{HOST}:{listeners[0].socket.getsockname()[1]}"
            async with client(url, transports=WS) as a, client(url, transports=("polling",)) as b:
                a.on("disconnect", client_reasons.append)
                b.on("disconnect", client_reasons.append)
                await until(lambda: len(server.sockets) == 2)
                await server.aclose()
                await until(lambda: len(client_reasons) == 2 and len(server_reasons) == 2)
            nursery.cancel_scope.cancel()
        assert server_reasons == ["server shutting down"] * 2
        assert sorted(client_reasons) == ["transport close"] * 2

    run(main)


@pytest.mark.parametrize("cleanup", [False, True])
def test_empty_child_namespaces_are_forgotten_only_when_asked(cleanup: bool) -> None:
    server = Server(cleanup_empty_child_namespaces=cleanup)
    rooms = server.of(re.compile(r"^/room-\d+$"))

    @rooms.use
    def only_friends(socket: Socket) -> None:
        if socket.handshake.auth.get("friend") is not True:
            raise ConnectError("friends only")

    async def main() -> None:
        async with serving(server) as url:
            async with client(url + "/room-1", auth={"friend": True}, transports=WS):
                assert "/room-1" in server._namespaces
            with pytest.raises(ConnectError):
                async with client(url + "/room-2", transports=WS):
                    pass
            with trio.fail_after(5):
                while cleanup and "/room-1" in server._namespaces:
                    await trio.sleep(0.01)
            assert ("/room-1" in server._namespaces) is not cleanup
            assert ("/room-2" in server._namespaces) is not cleanup
            # A name forgotten comes back, with the parent's handlers, when a client returns.
            async with client(url + "/room-1", auth={"friend": True}, transports=WS) as s:
                assert s.connected

    run(main)


def test_a_broadcast_reaches_plain_listened_and_held_sockets_alike_and_counts_them() -> None:
    # A broadcast's one message goes to most sockets through the engine in one call
    # (engineio_core.Socket.send_each); a socket with an outgoing listener, or one not yet told
    # it is connected (its messages held until its CONNECT), takes the general path. Every one
    # gets it, once, in order with what follows; the adapter counts them all.
    server = Server()
    outgoing: list[tuple[Any, ...]] = []
    counts: list[int] = []

    def news(value: int) -> socketio_core.protocol.Packet:
        return socketio_core.protocol.Packet(socketio_core.protocol.PacketType.EVENT, "/",
                                             ["news", value])

    room = socketio_core.protocol.BroadcastTarget(frozenset({"room"}))

    @server.on("connection")
    async def on_connection(socket: Socket) -> None:
        socket.join("room")
        kind = socket.handshake.auth.get("kind")
        if kind == "listened":
            socket.on_any_outgoing(lambda event, *args: outgoing.append((event, *args)))
        elif kind == "held":
            # Before this handler first waits, the client is not yet told it is connected:
            # what it is sent meanwhile is held, and follows its CONNECT.
            counts.append(await server.of("/").adapter.broadcast(news(0), room))

    async def main() -> None:
        async with serving_on_a_port(server) as port:
            url = f"http://{HOST}:{port}"
            async with client(url, transports=WS, auth={"kind": "plain"}) as plain, \
                    client(url, transports=WS, auth={"kind": "listened"}) as listened:
                got: dict[str, list[Any]] = {"plain": [], "listened": []}
                plain.on("news", got["plain"].append)
                listened.on("news", got["listened"].append)
                # The held one on the wire: what it is sent must follow its CONNECT.
                held = await connect_websocket(await open_stream(HOST, port), HOST,
                                               "/socket.io/?EIO=4&transport=websocket")
                assert str(await held.receive()).startswith("0{")
                await held.send('40{"kind":"held"}')
                assert str(await held.receive()).startswith('40{"sid":')
                assert await held.receive() == '42["news",0]'
                counts.append(await server.of("/").adapter.broadcast(news(1), room))
                await server.to("room").emit("news", 2)
                assert [await held.receive(), await held.receive()] == [
                    '42["news",1]', '42["news",2]']
                await until(lambda: all(len(values) == 3 for values in got.values()))
                await held.aclose()
            assert got == {"plain": [0, 1, 2], "listened": [0, 1, 2]}
            assert outgoing == [("news", 0), ("news", 1), ("news", 2)]
            assert counts == [3, 3]

    run(main)
