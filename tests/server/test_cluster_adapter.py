"""The adapter interface carries a cluster: a toy cluster adapter on an in-process bus (a stand-in
for Redis pub/sub) joins three ``Server`` instances, each on its own loopback port with its own
clients, and unchanged user code (``to``/``except_``/``local`` emits, ``emit_with_ack`` with a
timeout, ``fetch_sockets`` and ``RemoteSocket``, ``sockets_join``/``sockets_leave``,
``disconnect_sockets``, ``server_count``) reaches the sockets of every server.

Every message crosses the bus pickled, so servers share no object, as with a real broker.
"""

from __future__ import annotations

import dataclasses
import itertools
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import socketio_core
from socketio_core import AckTimeoutError, RemoteSocket, Server, Socket
from socketio_core.adapter import AckCollector, InMemoryAdapter
from socketio_core.handshake import Handshake
from socketio_core.interfaces import NamespaceLike
from socketio_core.protocol import BroadcastTarget, Packet, PacketType

HOST = "127.0.0.1"
FETCH_TIMEOUT = 5.0


def _encode_target(target: BroadcastTarget) -> dict[str, Any]:
    return {"rooms": sorted(target.rooms), "except": sorted(target.except_rooms),
            "volatile": target.volatile, "timeout": target.timeout}


def _decode_target(data: dict[str, Any]) -> BroadcastTarget:
    return BroadcastTarget(rooms=frozenset(data["rooms"]), except_rooms=frozenset(data["except"]),
                           volatile=data["volatile"], timeout=data["timeout"])


class Bus:
    """Publish/subscribe between the adapters of one namespace on several servers."""

    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.members: list[BusAdapter] = []

    def adapter(self, namespace: NamespaceLike) -> BusAdapter:
        """The factory given to ``Server(adapter=...)``."""
        adapter = BusAdapter(namespace, self)
        self.members.append(adapter)
        self.nursery.start_soon(adapter.run)
        return adapter

    def subscribers(self, namespace: str) -> list[BusAdapter]:
        return [member for member in self.members if member.namespace.name == namespace]

    def publish(self, sender: BusAdapter, message: dict[str, Any], to: str | None = None) -> None:
        """Send to every other member on the namespace (or to the member ``to``)."""
        wire = pickle.dumps({**message, "uid": sender.uid})
        for member in self.subscribers(sender.namespace.name):
            if member is not sender and (to is None or member.uid == to):
                member.inbox_send.send_nowait(wire)  # bounded: overflow raises, loudly


class _Relay(AckCollector):
    """Reports one server's part of a broadcast with ack back to the server that asked."""

    def __init__(self, adapter: BusAdapter, requester: str, request: int) -> None:
        super().__init__(servers=1)
        self.adapter, self.requester, self.request = adapter, requester, request

    def expect(self, count: int) -> None:
        self.adapter.reply(self.requester, {"type": "ack_count", "request": self.request,
                                            "count": count})

    def answer(self, value: Any) -> None:
        self.adapter.reply(self.requester, {"type": "ack", "request": self.request,
                                            "value": value})


class _Fetch:
    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.replies: list[list[dict[str, Any]]] = []
        self.done = trio.Event()


class BusAdapter(InMemoryAdapter):
    """A cluster adapter: each operation is published to the other servers (unless
    ``target.local``) and applied here with the in-memory behaviour."""

    _uids = itertools.count()

    def __init__(self, namespace: NamespaceLike, bus: Bus) -> None:
        super().__init__(namespace)
        self.bus = bus
        self.uid = f"server-{next(self._uids)}"
        self.inbox_send, self.inbox = trio.open_memory_channel[bytes](256)
        self.requests: dict[int, Any] = {}
        self._request_ids = itertools.count()

    def reply(self, requester: str, message: dict[str, Any]) -> None:
        self.bus.publish(self, message, to=requester)

    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        if not target.local:
            self.bus.publish(self, {"type": "broadcast", "data": packet.data,
                                    "target": _encode_target(target)})
        return await super().broadcast(packet, target)

    async def broadcast_with_ack(
        self, packet: Packet, target: BroadcastTarget, acks: AckCollector
    ) -> None:
        if target.local:
            await super().broadcast_with_ack(packet, target, acks)
            return
        request = next(self._request_ids)
        self.requests[request] = acks
        try:
            self.bus.publish(self, {"type": "broadcast_ack", "request": request,
                                    "data": packet.data, "target": _encode_target(target)})
            await super().broadcast_with_ack(packet, target, acks)
            await trio.sleep_forever()  # other servers' answers arrive until the caller is done
        finally:
            del self.requests[request]

    async def fetch_sockets(self, target: BroadcastTarget) -> list[Socket | RemoteSocket]:
        found = await super().fetch_sockets(target)
        expected = await self.server_count() - 1
        if target.local or expected <= 0:
            return found
        request = next(self._request_ids)
        self.requests[request] = fetch = _Fetch(expected)
        try:
            self.bus.publish(self, {"type": "fetch", "request": request,
                                    "target": _encode_target(target)})
            with trio.fail_after(target.timeout or FETCH_TIMEOUT):
                await fetch.done.wait()
        finally:
            del self.requests[request]
        for reply in fetch.replies:
            for details in reply:
                found.append(RemoteSocket(self, details["id"],
                                          Handshake(**details["handshake"]),
                                          details["rooms"], details["data"]))
        return found

    def add_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        if not target.local:
            self.bus.publish(self, {"type": "join", "target": _encode_target(target),
                                    "rooms": list(rooms)})
        super().add_sockets(target, rooms)

    def del_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        if not target.local:
            self.bus.publish(self, {"type": "leave", "target": _encode_target(target),
                                    "rooms": list(rooms)})
        super().del_sockets(target, rooms)

    async def disconnect_sockets(self, target: BroadcastTarget, close: bool) -> None:
        if not target.local:
            self.bus.publish(self, {"type": "disconnect", "target": _encode_target(target),
                                    "close": close})
        await super().disconnect_sockets(target, close)

    async def server_count(self) -> int:
        return len(self.bus.subscribers(self.namespace.name))

    async def run(self) -> None:
        """Apply what the other servers publish."""
        async for wire in self.inbox:
            message = pickle.loads(wire)
            kind = message["type"]
            target = _decode_target(message["target"]) if "target" in message else None
            packet = (Packet(PacketType.EVENT, self.namespace.name, message["data"])
                      if "data" in message else None)
            if kind == "broadcast":
                await super().broadcast(packet, target)
            elif kind == "broadcast_ack":
                relay = _Relay(self, message["uid"], message["request"])
                self.bus.nursery.start_soon(
                    InMemoryAdapter.broadcast_with_ack, self, packet, target, relay)
            elif kind == "ack_count" and message["request"] in self.requests:
                self.requests[message["request"]].expect(message["count"])
            elif kind == "ack" and message["request"] in self.requests:
                self.requests[message["request"]].answer(message["value"])
            elif kind == "fetch":
                sockets = await super().fetch_sockets(target)
                self.reply(message["uid"], {"type": "fetched", "request": message["request"],
                                            "sockets": [_details(s) for s in sockets]})
            elif kind == "fetched" and message["request"] in self.requests:
                fetch = self.requests[message["request"]]
                fetch.replies.append(message["sockets"])
                if len(fetch.replies) == fetch.expected:
                    fetch.done.set()
            elif kind == "join":
                super().add_sockets(target, message["rooms"])
            elif kind == "leave":
                super().del_sockets(target, message["rooms"])
            elif kind == "disconnect":
                await super().disconnect_sockets(target, message["close"])


def _details(socket: Socket | RemoteSocket) -> dict[str, Any]:
    return {"id": socket.id, "handshake": dataclasses.asdict(socket.handshake),
            "rooms": sorted(socket.rooms), "data": socket.data}


def run(fn: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


async def until(predicate: Callable[[], bool]) -> None:
    with trio.fail_after(5):
        while not predicate():
            await trio.sleep(0.01)


@asynccontextmanager
async def cluster(count: int) -> AsyncIterator[tuple[Bus, list[Server], list[str]]]:
    async with trio.open_nursery() as nursery:
        bus = Bus(nursery)
        servers = [Server(adapter=bus.adapter) for _ in range(count)]
        urls = []
        for server in servers:
            listeners = await nursery.start(server.serve, HOST, 0)
            urls.append(f"http://{HOST}:{listeners[0].socket.getsockname()[1]}")
        try:
            yield bus, servers, urls
        finally:
            for server in servers:
                await server.aclose()
            nursery.cancel_scope.cancel()


def everyone_joins_their_room(servers: list[Server]) -> dict[str, Socket]:
    """Each server's connection handler: join the room named in auth, note the server."""
    sockets: dict[str, Socket] = {}
    for index, server in enumerate(servers):

        @server.on("connection")
        def on_connection(socket: Socket, index: int = index) -> None:
            sockets[socket.handshake.auth["name"]] = socket
            socket.data["server"] = index
            socket.join(socket.handshake.auth["room"])

    return sockets


def test_unchanged_user_code_reaches_sockets_on_every_server() -> None:
    async def main() -> None:
        async with cluster(3) as (bus, servers, urls):
            a, b, c = servers
            sockets = everyone_joins_their_room(servers)
            received: dict[str, list[Any]] = {}
            # a1, a2 on server a; b1 on b (long-polling); c1 on c.
            layout = [("a1", 0, "red"), ("a2", 0, "blue"), ("b1", 1, "red"), ("c1", 2, "blue")]
            stack = [socketio_core.connect(
                urls[server], auth={"name": name, "room": room}, reconnection=False,
                transports=("polling",) if name == "b1" else ("websocket",))
                for name, server, room in layout]
            async with stack[0] as a1, stack[1] as a2, stack[2] as b1, stack[3] as c1:
                for name, client in zip(("a1", "a2", "b1", "c1"), (a1, a2, b1, c1), strict=True):
                    received[name] = []
                    client.on("news", lambda value, name=name: received[name].append(value))
                    client.on("vote", lambda name=name: name.upper())
                await until(lambda: len(sockets) == 4)

                assert await a.of("/").adapter.server_count() == 3

                def news() -> dict[str, list[Any]]:
                    return {name: list(values) for name, values in received.items() if values}

                await a.to("red").emit("news", 1)  # a1 here, b1 on server b
                await until(lambda: len(received["b1"]) == 1)
                await b.except_("red").emit("news", 2)  # a2 on server a, c1 on server c
                await until(lambda: len(received["a2"]) == 1 and len(received["c1"]) == 1)
                await c.local.emit("news", 3)  # c1 only: the local flag stays on server c
                await sockets["c1"].to("red").emit("news", 4)  # from a handler's socket
                await until(lambda: len(received["b1"]) == 2 and len(received["c1"]) == 2)
                await trio.sleep(0.1)
                assert news() == {"a1": [1, 4], "a2": [2], "b1": [1, 4], "c1": [2, 3]}

                assert sorted(await b.timeout(5).emit_with_ack("vote")) == ["A1", "A2", "B1", "C1"]
                assert await c.local.timeout(5).emit_with_ack("vote") == ["C1"]
                assert sorted(await a.to("blue").emit_with_ack("vote")) == ["A2", "C1"]

                fetched = await a.fetch_sockets()
                assert sorted(s.handshake.auth["name"] for s in fetched) == ["a1", "a2", "b1", "c1"]
                local = [s for s in fetched if isinstance(s, Socket)]
                remote = {s.handshake.auth["name"]: s for s in fetched
                          if isinstance(s, RemoteSocket)}
                assert sorted(s.handshake.auth["name"] for s in local) == ["a1", "a2"]
                assert set(remote) == {"b1", "c1"}
                assert remote["b1"].id == sockets["b1"].id
                assert remote["b1"].rooms == {sockets["b1"].id, "red"}
                assert remote["b1"].data == {"server": 1}
                assert remote["b1"].handshake.address == "127.0.0.1"
                assert [s.handshake.auth["name"] for s in await a.local.fetch_sockets()
                        ] == ["a1", "a2"]
                assert sorted(s.handshake.auth["name"] for s in await c.in_("red").fetch_sockets()
                              ) == ["a1", "b1"]

                await remote["b1"].emit("news", 5)
                await until(lambda: len(received["b1"]) == 3)
                remote["c1"].join("vip")
                await until(lambda: "vip" in sockets["c1"].rooms)
                remote["c1"].leave("vip")
                await until(lambda: "vip" not in sockets["c1"].rooms)

                a.in_("blue").sockets_join("cool")  # a2 here, c1 on server c
                await until(lambda: "cool" in sockets["c1"].rooms)
                assert "cool" in sockets["a2"].rooms
                assert "cool" not in sockets["b1"].rooms | sockets["a1"].rooms
                b.to("cool").sockets_leave("blue")
                await until(lambda: "blue" not in sockets["a2"].rooms | sockets["c1"].rooms)
                a.local.sockets_join("here")
                await trio.sleep(0.1)
                assert "here" in sockets["a1"].rooms and "here" not in sockets["c1"].rooms

                reasons: dict[str, list[str]] = {"b1": [], "c1": []}
                b1.on("disconnect", reasons["b1"].append)
                c1.on("disconnect", reasons["c1"].append)
                await a.in_("red").except_("here").disconnect_sockets()  # b1 only
                await until(lambda: reasons["b1"] == ["io server disconnect"])
                await remote["c1"].disconnect()
                await until(lambda: reasons["c1"] == ["io server disconnect"])
                assert sorted(s.handshake.auth["name"] for s in await b.fetch_sockets()
                              ) == ["a1", "a2"]
                assert a1.connected and a2.connected
                assert all(not member.requests for member in bus.members)

    run(main)


def test_emit_with_ack_timeout_gathers_answers_from_other_servers() -> None:
    async def main() -> None:
        async with cluster(2) as (bus, servers, urls):
            a, b = servers
            async with (socketio_core.connect(urls[0], reconnection=False) as near,
                        socketio_core.connect(urls[1], reconnection=False) as far,
                        socketio_core.connect(urls[1], reconnection=False) as silent):
                near.on("q", lambda: "near")
                far.on("q", lambda: "far")

                @silent.on("q")
                async def never(*, ack: Any) -> None:
                    pass  # takes the ack and never calls it

                await until(lambda: len(a.sockets) == 1 and len(b.sockets) == 2)
                with pytest.raises(AckTimeoutError) as info:
                    await a.timeout(0.5).emit_with_ack("q")
                assert sorted(info.value.responses) == ["far", "near"]
                # and the requests left nothing behind on either server
                assert all(not member.requests for member in bus.members)

    run(main)


def test_ack_collector_is_complete_once_every_server_reported_and_every_socket_answered() -> None:
    acks = AckCollector(servers=2)
    acks.expect(2)
    acks.answer("x")
    acks.miss()
    assert not acks.complete.is_set()  # the second server has not reported
    acks.expect(1)
    assert not acks.complete.is_set()
    acks.answer("y")
    assert acks.complete.is_set()
    assert (acks.responses, acks.missed) == (["x", "y"], 1)
    nobody = AckCollector(servers=1)
    nobody.expect(0)
    assert nobody.complete.is_set() and nobody.responses == []
