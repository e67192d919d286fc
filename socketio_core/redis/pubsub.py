"""The ``pubsub`` adapter: a cluster member speaking ``@socket.io/redis-adapter`` 8.3
``createAdapter`` (shared/cluster-wire.md §2), so that it serves one app beside Node servers.

Per namespace it holds ``PSUBSCRIBE {key}#{nsp}#*`` and ``SUBSCRIBE`` to the request, response
and its own response channel, on one connection shared by every namespace: Node counts servers
with ``PUBSUB NUMSUB`` on the request channel.

Self-application: a broadcast is delivered here directly and its echo ignored (by uid);
``sockets_join``/``sockets_leave``/``disconnect_sockets`` (request types 2-4, which a Node node
applies only when its own request comes back) are applied here at once and their echo ignored,
so each applies exactly once and still applies while Redis is down.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from ..adapter import AckCollector, InMemoryAdapter
from ..errors import ServerSideEmitTimeoutError
from ..handlers import Ack
from ..protocol import BroadcastTarget, Packet
from . import pubsub_wire as wire
from .codec import CodecError
from .member import (
    DEFAULT_TIMEOUT,
    ClusterMember,
    ClusterTimeoutError,
    MemberAdapter,
    Pending,
    Relay,
    uid2,
)
from .pubsub_wire import RequestType
from .wire import encode_details, encode_opts

if TYPE_CHECKING:
    from ..interfaces import FetchedSocket
    from ..namespace import Namespace

__all__ = ["PubSubAdapter", "PubSubCluster"]


class PubSubCluster(ClusterMember):
    """A cluster member on Redis pub/sub, wire-compatible with Node's ``createAdapter``.

    Args:
        url: the Redis server, ``redis://host:port[/db]``.
        key: the channel prefix (Node's ``key``).
        requests_timeout: seconds to wait for the answers of ``fetch_sockets``,
            ``fetch_rooms`` and ``server_side_emit_with_ack`` (Node's ``requestsTimeout``).
        publish_on_specific_response_channel: answer each request on the requester's own
            response channel (Node's option of the same name).
        max_pending: publications queued while Redis is slow (see ``RedisLink``).

    ``async with PubSubCluster(url) as cluster: sio = Server(adapter=cluster.adapter)``
    """

    def __init__(self, url: str, *, key: str = "socket.io",
                 requests_timeout: float = DEFAULT_TIMEOUT,
                 publish_on_specific_response_channel: bool = False,
                 max_pending: int = 10_000, connect_timeout: float = 10.0) -> None:
        super().__init__(url, name=f"pubsub {key}", requests_timeout=requests_timeout,
                         max_pending=max_pending, connect_timeout=connect_timeout)
        self.key = key
        self.publish_on_specific_response_channel = publish_on_specific_response_channel
        self._exact: dict[bytes, tuple[PubSubAdapter, str]] = {}
        self._prefixes: list[tuple[bytes, PubSubAdapter]] = []

    async def __aenter__(self) -> PubSubCluster:
        await super().__aenter__()
        return self

    def adapter(self, namespace: Namespace) -> PubSubAdapter:
        """The factory ``Server(adapter=...)`` takes."""
        adapter = PubSubAdapter(namespace, self)
        channels = adapter.channels
        self.adapters[namespace.name] = adapter
        self._exact[channels.request.encode()] = (adapter, "request")
        self._exact[channels.response.encode()] = (adapter, "response")
        self._exact[channels.specific_response(adapter.uid).encode()] = (adapter, "response")
        self._prefixes.append((channels.broadcast.encode(), adapter))
        # The longest prefix first: "/a" must not take "/a#b"'s messages.
        self._prefixes.sort(key=lambda item: -len(item[0]))
        self.link.psubscribe(channels.pattern)
        self.link.subscribe(channels.request, channels.response,
                            channels.specific_response(adapter.uid))
        return adapter

    def release(self, adapter: MemberAdapter) -> None:
        if self.adapters.get(adapter.name) is not adapter:
            return
        super().release(adapter)
        assert isinstance(adapter, PubSubAdapter)
        channels = adapter.channels
        exact = [channels.request, channels.response, channels.specific_response(adapter.uid)]
        for channel in exact:
            self._exact.pop(channel.encode(), None)
        self._prefixes = [(prefix, a) for prefix, a in self._prefixes if a is not adapter]
        self.link.punsubscribe(channels.pattern)
        self.link.unsubscribe(*exact)

    async def _on_message(self, kind: bytes, channel: bytes, payload: bytes) -> None:
        try:
            if kind == b"pmessage":
                for prefix, adapter in self._prefixes:
                    if channel.startswith(prefix):
                        await adapter.on_broadcast(channel[len(prefix):-1], payload)
                        return
                return
            route = self._exact.get(channel)
            if route is None:
                return
            adapter, role = route
            if role == "request":
                await adapter.on_request(wire.decode_request(payload))
            else:
                adapter.on_response(wire.decode_response(payload))
        except CodecError as error:
            self.dropped(error, channel)


class PubSubAdapter(MemberAdapter):
    """One namespace's adapter of a ``PubSubCluster``."""

    member: PubSubCluster

    def __init__(self, namespace: Namespace, member: PubSubCluster) -> None:
        super().__init__(namespace, member, uid2(6))
        self.channels = wire.Channels(member.key, namespace.name)
        # What each pending request (by id) is: its RequestType.
        self._kinds: dict[str, int] = {}


    async def _request(self, message: dict[str, Any]) -> None:
        await self.member.link.publish(b"PUBLISH", self.channels.request,
                                       wire.encode_json(message))

    def _respond(self, request: wire.Request, payload: bytes) -> None:
        channel = self.channels.response
        if self.member.publish_on_specific_response_channel and request.uid is not None:
            channel = self.channels.specific_response(request.uid)
        self.member.link.publish_nowait(b"PUBLISH", channel, payload)


    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        if not target.local:
            await self.member.link.publish(
                b"PUBLISH", self.channels.broadcast_to(target),
                wire.encode_broadcast(self.uid, self.name, packet.data, target))
        return await super().broadcast(packet, target)

    def broadcast_nowait(self, packet: Packet, target: BroadcastTarget) -> None:
        if not target.local:
            self.member.link.publish_nowait(
                b"PUBLISH", self.channels.broadcast_to(target),
                wire.encode_broadcast(self.uid, self.name, packet.data, target))
        super().broadcast_nowait(packet, target)

    async def broadcast_with_ack(self, packet: Packet, target: BroadcastTarget,
                                 acks: AckCollector) -> None:
        if target.local:
            await super().broadcast_with_ack(packet, target, acks)
            return
        request_id = uid2(6)
        self.ack_requests[request_id] = acks
        try:
            await self.member.link.publish(b"PUBLISH", self.channels.request, wire.encode_msgpack({
                "uid": self.uid, "requestId": request_id, "type": RequestType.BROADCAST.value,
                "packet": {"type": 2, "data": packet.data, "nsp": self.name},
                "opts": encode_opts(target)}))
            await super().broadcast_with_ack(packet, target, acks)
            await trio.sleep_forever()  # other nodes' answers come until the operator is done
        finally:
            self.ack_requests.pop(request_id, None)

    async def fetch_sockets(self, target: BroadcastTarget) -> list[FetchedSocket]:
        found = await super().fetch_sockets(target)
        if target.local:
            return found
        servers = await self.server_count()
        if servers <= 1:
            return found
        request_id = uid2(6)
        pending = Pending(servers, received=1)
        self._kinds[request_id] = RequestType.REMOTE_FETCH
        self.requests[request_id] = pending
        await self._request({"uid": self.uid, "requestId": request_id,
                             "type": RequestType.REMOTE_FETCH.value,
                             "opts": encode_opts(target, flags=False)})
        complete = await self.wait(request_id, pending, self.member.requests_timeout)
        self._kinds.pop(request_id, None)
        remote = self.remote_sockets(pending.responses)
        if not complete:
            raise ClusterTimeoutError("timeout reached while waiting for fetchSockets response"
                                      + self.unreachable(), [*found, *remote])
        return [*found, *remote]

    async def fetch_rooms(self) -> set[str]:
        """Every room of every server of the cluster, socket ids included (Node's
        ``allRooms``; only this adapter has it)."""
        rooms = set(self.all_rooms())
        servers = await self.server_count()
        if servers <= 1:
            return rooms
        request_id = uid2(6)
        pending = Pending(servers, received=1)
        self._kinds[request_id] = RequestType.ALL_ROOMS
        self.requests[request_id] = pending
        await self._request({"uid": self.uid, "requestId": request_id,
                             "type": RequestType.ALL_ROOMS.value})
        complete = await self.wait(request_id, pending, self.member.requests_timeout)
        self._kinds.pop(request_id, None)
        rooms.update(room for room in pending.responses if isinstance(room, str))
        if not complete:
            raise ClusterTimeoutError("timeout reached while waiting for allRooms response"
                                      + self.unreachable(), sorted(rooms))
        return rooms

    def add_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        if not target.local:
            self.member.link.publish_nowait(b"PUBLISH", self.channels.request, wire.encode_json(
                {"uid": self.uid, "type": RequestType.REMOTE_JOIN.value,
                 "opts": encode_opts(target, flags=False), "rooms": list(rooms)}))
        super().add_sockets(target, rooms)

    def del_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        if not target.local:
            self.member.link.publish_nowait(b"PUBLISH", self.channels.request, wire.encode_json(
                {"uid": self.uid, "type": RequestType.REMOTE_LEAVE.value,
                 "opts": encode_opts(target, flags=False), "rooms": list(rooms)}))
        super().del_sockets(target, rooms)

    async def disconnect_sockets(self, target: BroadcastTarget, close: bool) -> None:
        if not target.local:
            await self._request({"uid": self.uid, "type": RequestType.REMOTE_DISCONNECT.value,
                                 "opts": encode_opts(target, flags=False), "close": close})
        await super().disconnect_sockets(target, close)

    async def server_side_emit(self, data: list[Any]) -> None:
        await self._request({"uid": self.uid, "type": RequestType.SERVER_SIDE_EMIT.value,
                             "data": data})

    async def server_side_emit_with_ack(self, data: list[Any]) -> list[Any]:
        expected = await self.server_count() - 1
        if expected <= 0:
            return []
        request_id = uid2(6)
        pending = Pending(expected)
        self._kinds[request_id] = RequestType.SERVER_SIDE_EMIT
        self.requests[request_id] = pending
        await self._request({"uid": self.uid, "requestId": request_id,
                             "type": RequestType.SERVER_SIDE_EMIT.value, "data": data})
        complete = await self.wait(request_id, pending, self.member.requests_timeout)
        self._kinds.pop(request_id, None)
        if not complete:
            raise ServerSideEmitTimeoutError(
                f"timeout reached: only {len(pending.responses)} responses received out of "
                f"{expected}" + self.unreachable(), list(pending.responses))
        return list(pending.responses)

    async def server_count(self) -> int:
        request = self.channels.request
        return await self.count_servers(lambda client: client.pubsub_numsub(request))


    async def on_broadcast(self, room: bytes, payload: bytes) -> None:
        """A message of the broadcast channels (RA ``onmessage``)."""
        if room:
            # A room this node has no socket in: nothing to do, not even decoding.
            name = room.decode(errors="replace")
            if not self.rooms.has_room(name):
                return
        message = wire.decode_broadcast(payload)
        if message.uid == self.uid or message.nsp != self.name:
            return
        await InMemoryAdapter.broadcast(self, self.packet(message.data), message.target)

    async def on_request(self, request: wire.Request) -> None:
        """A message of the request channel (RA ``onrequest``)."""
        kind = request.type
        if kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE,
                    RequestType.REMOTE_DISCONNECT):
            if request.uid == self.uid:
                return  # applied here when it was sent
            await self._apply(request)
        elif kind == RequestType.SERVER_SIDE_EMIT:
            if request.uid == self.uid:
                return
            assert request.data is not None
            self._server_event(request, request.data)
        elif request.request_id in self.requests or request.request_id in self.ack_requests:
            return  # our own request
        elif kind == RequestType.BROADCAST:
            assert request.target is not None and request.data is not None
            self._answer_broadcast(request, request.data, request.target)
        elif kind == RequestType.REMOTE_FETCH:
            assert request.target is not None
            sockets = self.local_sockets(request.target)
            self._respond(request, wire.encode_json(
                {"requestId": request.request_id,
                 "sockets": [encode_details(socket) for socket in sockets]}))
        elif kind == RequestType.ALL_ROOMS:
            self._respond(request, wire.encode_json(
                {"requestId": request.request_id, "rooms": sorted(self.all_rooms())}))
        elif kind == RequestType.SOCKETS:
            self._respond(request, wire.encode_json(
                {"requestId": request.request_id,
                 "sockets": self.select(BroadcastTarget(rooms=frozenset(request.rooms)))}))

    async def _apply(self, request: wire.Request) -> None:
        kind, target = request.type, request.target
        if target is None:  # the legacy form: one socket by id, answered
            socket = self.namespace.sockets.get(request.sid or "")
            if socket is None:
                return
            if kind == RequestType.REMOTE_JOIN:
                socket.join(*request.rooms)
            elif kind == RequestType.REMOTE_LEAVE:
                for room in request.rooms:
                    socket.leave(room)
            else:
                await socket.disconnect(request.close)
            if request.request_id is not None:
                self._respond(request, wire.encode_json({"requestId": request.request_id}))
            return
        if kind == RequestType.REMOTE_JOIN:
            InMemoryAdapter.add_sockets(self, target, request.rooms)
        elif kind == RequestType.REMOTE_LEAVE:
            InMemoryAdapter.del_sockets(self, target, request.rooms)
        else:
            await InMemoryAdapter.disconnect_sockets(self, target, request.close)

    def _server_event(self, request: wire.Request, data: list[Any]) -> None:
        ack = None
        if request.request_id is not None:
            request_id = request.request_id

            def send(values: tuple[Any, ...]) -> None:
                answer: dict[str, Any] = {"type": RequestType.SERVER_SIDE_EMIT.value,
                                          "requestId": request_id}
                if values:
                    answer["data"] = values[0]
                # Always the shared response channel, whatever the option (RA).
                self.member.link.publish_nowait(b"PUBLISH", self.channels.response,
                                                wire.encode_json(answer))

            ack = Ack(send)
        self.member.spawn(self.run_server_event, data, ack)

    def _answer_broadcast(self, request: wire.Request, data: list[Any],
                          target: BroadcastTarget) -> None:
        request_id = request.request_id

        def count(clients: int) -> None:
            self._respond(request, wire.encode_json(
                {"type": RequestType.BROADCAST_CLIENT_COUNT.value, "requestId": request_id,
                 "clientCount": clients}))

        def ack(values: tuple[Any, ...]) -> None:
            answer: dict[str, Any] = {"type": RequestType.BROADCAST_ACK.value,
                                      "requestId": request_id}
            if values:
                answer["packet"] = values[0]
            self._respond(request, wire.encode_msgpack(answer))

        self.member.spawn(self.answer_broadcast_with_ack, data, target, Relay(count, ack))

    def on_response(self, response: wire.Response) -> None:
        """A message of a response channel (RA ``onresponse``)."""
        request_id = response.request_id
        acks = self.ack_requests.get(request_id)
        if acks is not None:
            if response.type == RequestType.BROADCAST_CLIENT_COUNT:
                acks.expect(response.values[0])
            elif response.type == RequestType.BROADCAST_ACK:
                acks.answer(response.values[0] if response.values else None)
            return
        pending = self.requests.get(request_id)
        if pending is None:
            return
        if self._kinds.get(request_id) == RequestType.SERVER_SIDE_EMIT:
            if response.type == RequestType.SERVER_SIDE_EMIT:
                pending.add(response.values[0] if response.values else None)
        elif response.type is None:
            pending.add(*response.values)

