"""Connection state recovery on the streams adapter, with Python nodes in this process and our
client: quick reconnections to the same node, again and again; a client back before its node
noticed its old connection go; an offset trimmed from the stream, a session that is not one, and
Redis down at the reconnection, each ending in a fresh socket, cleanly. (Recovery between Node
and Python nodes, with the official client, is in test_mixed_streams.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
import trio

from socketio_core import Manager, Server, Socket
from socketio_core.redis import StreamsCluster

from .redis_server import RedisServer
from .test_faults import run, until

HOST = "127.0.0.1"
FAST = {"reconnection_delay": 0.02, "reconnection_delay_max": 0.05,
        "transports": ("websocket",)}


@pytest.fixture(autouse=True)
def redis_running(redis_server: RedisServer) -> Iterator[None]:
    redis_server.start()
    yield
    redis_server.start()


@asynccontextmanager
async def node(redis: RedisServer) -> AsyncIterator[tuple[Server, str]]:
    """A Python node with connection state recovery on; yields it and its URL."""
    async with trio.open_nursery() as nursery:
        try:
            async with AsyncExitStack() as stack:
                cluster = await stack.enter_async_context(
                    StreamsCluster(redis.url, requests_timeout=1.0, block_time=0.5))
                server = Server(adapter=cluster.adapter, connection_state_recovery=True)

                @server.on("connection")
                def contract(socket: Socket) -> None:
                    socket.join("room")

                    @socket.on("send-me")
                    async def send_me(value: Any) -> bool:
                        await socket.emit("sent", value)
                        return True

                    @socket.on("disconnect")
                    async def missed(reason: str) -> None:
                        await socket.emit("missed", reason)
                        await server.to("room").emit("missed-room")

                @server.of("/other").on("connection")
                async def other(socket: Socket) -> None:
                    await socket.emit("hi")

                await cluster.ready()
                listeners = await nursery.start(server.serve, HOST, 0)
                try:
                    yield server, f"http://{HOST}:{listeners[0].socket.getsockname()[1]}"
                finally:
                    await server.aclose()
        finally:
            nursery.cancel_scope.cancel()


class Events:
    def __init__(self, socket: Any, *names: str) -> None:
        self.items: list[tuple[Any, ...]] = []
        for name in names:
            socket.on(name, lambda *args, name=name: self.items.append((name, *args)))

    def of(self, name: str) -> list[tuple[Any, ...]]:
        return [item[1:] for item in self.items if item[0] == name]


async def offset(socket: Any, events: Events) -> str:
    before = len(events.of("sent"))
    await socket.emit_with_ack("send-me", "x")
    await until(lambda: len(events.of("sent")) > before)
    value, entry = events.of("sent")[-1]
    assert value == "x" and isinstance(entry, str)
    return str(entry)


def test_quick_reconnections_to_the_same_node_recover_every_time(
        redis_server: RedisServer) -> None:
    """The session is written on the node's publishing connection and read back on it after,
    so a client quicker than Redis still finds it."""

    async def main() -> None:
        async with node(redis_server) as (server, url), Manager(url, **FAST) as manager:
            socket = manager.socket("/")
            events = Events(socket, "connect", "sent", "missed", "missed-room")
            await socket.wait_connected()
            first = socket.id
            await offset(socket, events)
            for round_ in range(1, 11):
                assert manager.engine is not None
                manager.engine.close()
                await until(lambda round_=round_: len(events.of("connect")) == round_ + 1)
                assert socket.recovered and socket.id == first, round_
                assert len(events.of("missed")) == len(events.of("missed-room")) == round_
            assert [m[:-1] for m in events.of("missed")] == [("transport close",)] * 10
            assert server.sockets[first].recovered

    run(main)


def test_back_before_the_node_noticed_the_old_connection_go(redis_server: RedisServer) -> None:
    async def main() -> None:
        async with node(redis_server) as (server, url), \
                Manager(url, reconnection=False, transports=("websocket",)) as old, \
                Manager(url, reconnection=False, transports=("websocket",)) as new:
            before = old.socket("/")
            events = Events(before, "sent", "disconnect")
            await before.wait_connected()
            first = before.id
            entry = await offset(before, events)
            # the same client on a new connection: its pid and offset, the old one still open
            after = new.socket("/", auth={"token": "t"})
            after._pid, after._last_offset = before._pid, entry
            later = Events(after, "missed", "connect")
            await after.wait_connected()
            assert after.recovered and after.id == first
            # sent by the old socket's disconnect handler, which runs as the new one comes in:
            # before or after the CONNECT answer, once
            await until(lambda: bool(later.of("missed")))
            await trio.sleep(0.2)  # a second copy would come by now
            assert [m[:-1] for m in later.of("missed")] == [("transport close",)]
            await until(lambda: bool(events.of("disconnect")))
            assert list(server.sockets) == [after.id]

    run(main)


@pytest.mark.parametrize("spoil", ["trim the stream", "junk session", "redis down"])
def test_a_session_that_cannot_be_restored_gives_a_fresh_socket(
        redis_server: RedisServer, spoil: str) -> None:
    async def main() -> None:
        async with node(redis_server) as (server, url), \
                Manager(url, reconnection=False, transports=("websocket",)) as manager:
            socket = manager.socket("/")
            events = Events(socket, "sent", "disconnect", "connect")
            await socket.wait_connected()
            first, pid = socket.id, socket._pid
            await offset(socket, events)
            assert manager.engine is not None
            manager.engine.close()
            await until(lambda: bool(events.of("disconnect")))
            key = f"sio:session:{pid}"
            await until(lambda: bool(redis_server.cli("EXISTS", key) == "1"))
            if spoil == "trim the stream":
                redis_server.cli("XTRIM", "socket.io", "MAXLEN", "0")
            elif spoil == "junk session":
                redis_server.cli("SET", key, "not a session")
            else:
                redis_server.kill()
            socket.connect()
            await socket.wait_connected()
            assert not socket.recovered and socket.id != first
            assert list(server.sockets) == [socket.id]
            if spoil != "redis down":
                assert redis_server.cli("EXISTS", key) == "0"  # taken, as GETDEL takes it

    run(main)


def test_live_broadcasts_during_a_restore_are_caught_once() -> None:
    """While a restore reads the stream, broadcasts delivered to the node for the session are
    caught; those up to the last entry read are left out (the read has them), the rest follow
    the missed ones, in order. Volatile ones and those for other rooms are not caught."""
    from socketio_core.adapter import InMemoryAdapter, Restoring
    from socketio_core.protocol import BroadcastTarget, Packet, PacketType, Session, encode
    from socketio_core.redis.cluster_wire import entry_after

    adapter = Server().of("/").adapter
    assert isinstance(adapter, InMemoryAdapter)

    def packet(name: str) -> tuple[Packet, Any]:
        built = Packet(PacketType.EVENT, "/", [name])
        return built, encode(built)

    read = ["5-0"]
    restoring = Restoring(adapter, Session("s", "p", ("s", "r"), None), [packet("missed")],
                          keep=lambda live: entry_after(live, read[0]))
    room = BroadcastTarget(rooms=frozenset({"r"}))
    adapter.write(*packet("read already"), room, "4-7")
    adapter.write(*packet("after"), room, "6-0")
    adapter.write(*packet("other room"), BroadcastTarget(rooms=frozenset({"x"})), "7-0")
    adapter.write(*packet("volatile"), room.with_volatile(), None)
    adapter.write(*packet("local, no offset"), BroadcastTarget(), None)
    adapter.write(*packet("excepted"), BroadcastTarget(except_rooms=frozenset({"s"})), "8-0")
    written = [p.data[0] for p, _ in restoring.finish()]
    assert written == ["missed", "after", "local, no offset"]
    adapter.write(*packet("too late"), room, "9-0")
    assert "too late" not in [p.data[0] for p, _ in restoring.finish()]  # no longer catching


def test_the_pid_of_another_namespace_restores_nothing(redis_server: RedisServer) -> None:
    """A session key names no namespace: the entry of the offset presented must be of the
    namespace asked for, or nothing is restored (Node would restore the other namespace's
    socket there)."""

    async def main() -> None:
        async with node(redis_server) as (server, url), \
                Manager(url, reconnection=False, transports=("websocket",)) as manager:
            other = manager.socket("/other")
            other.on("hi", lambda *args: None)
            await other.wait_connected()
            await until(lambda: other._last_offset is not None)
            first = other.id
            pid, entry = other._pid, other._last_offset
            assert manager.engine is not None
            manager.engine.close()
            await until(lambda: redis_server.cli("EXISTS", f"sio:session:{pid}") == "1")
            main_socket = manager.socket("/")
            main_socket._pid, main_socket._last_offset = pid, entry
            await main_socket.wait_connected()
            assert not main_socket.recovered and main_socket.id != first
            assert list(server.sockets) == [main_socket.id]

    run(main)
