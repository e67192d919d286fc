"""The ``ClusterAdapter`` protocol of socket.io-adapter 2.5 (shared/cluster-wire.md §3), which
the sharded and the streams adapters both speak: ``{type, data, uid, nsp}`` messages, answers
to the requester's own channel, and the sender applying every operation locally itself.

Subclasses say how a message travels (``publish``, ``publish_nowait``, ``respond``) and count
servers (``server_count``). One whose messages get an offset (the streams adapter, with
connection state recovery) appends it to the broadcasts it delivers, as socket.io-adapter's
``addOffsetIfNecessary`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import trio

from ..adapter import AckCollector, InMemoryAdapter, Parts, prepare
from ..errors import ServerSideEmitTimeoutError
from ..handlers import Ack
from ..protocol import BroadcastTarget, Packet
from .cluster_wire import ClusterMessage, MessageType, message
from .member import ClusterTimeoutError, MemberAdapter, Pending, Relay, random_id
from .wire import encode_details, encode_opts

if TYPE_CHECKING:
    from ..interfaces import FetchedSocket

__all__ = ["ClusterProtocolAdapter"]

_BROADCAST = MessageType.BROADCAST


class ClusterProtocolAdapter(MemberAdapter):
    """One namespace's adapter speaking the ``ClusterAdapter`` protocol."""

    def build(self, kind: MessageType, data: dict[str, Any] | None) -> dict[str, Any]:
        """``{type, data, uid, nsp}`` from this node."""
        return message(kind, data, self.uid, self.name)

    async def publish(self, built: dict[str, Any]) -> None:
        """Send a message to the other nodes, waiting for room while Redis is slow."""
        raise NotImplementedError

    def publish_nowait(self, built: dict[str, Any]) -> None:
        """Send a message to the other nodes, or drop it when the queue is full."""
        raise NotImplementedError

    def respond(self, requester: str, built: dict[str, Any]) -> None:
        """Send an answer to the node whose uid is ``requester``."""
        raise NotImplementedError


    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        if not target.local:
            await self.publish(self.build(_BROADCAST, {
                "packet": {"type": 2, "data": packet.data}, "opts": encode_opts(target)}))
        return await super().broadcast(packet, target)

    def broadcast_nowait(self, packet: Packet, target: BroadcastTarget) -> None:
        if not target.local:
            self.publish_nowait(self.build(_BROADCAST, {
                "packet": {"type": 2, "data": packet.data}, "opts": encode_opts(target)}))
        super().broadcast_nowait(packet, target)

    def deliver(self, data: list[Any], target: BroadcastTarget, offset: str | None
                ) -> tuple[int, Parts]:
        """Write a broadcast to this node's selected sockets, with ``offset`` appended as its
        last argument unless it is ``None`` or the broadcast volatile; returns how many took
        it, and its encoding (for ``pace``)."""
        if offset is not None and not target.volatile:
            data = [*data, offset]
        else:
            offset = None
        packet = self.packet(data)
        parts = prepare(packet, self.namespace.server.json)
        return self.write(packet, parts, target, offset), parts

    async def broadcast_with_ack(self, packet: Packet, target: BroadcastTarget,
                                 acks: AckCollector) -> None:
        if target.local:
            await super().broadcast_with_ack(packet, target, acks)
            return
        request_id = random_id()
        self.ack_requests[request_id] = acks
        try:
            await self.publish(self.build(_BROADCAST, {
                "packet": {"type": 2, "data": packet.data}, "requestId": request_id,
                "opts": encode_opts(target)}))
            await super().broadcast_with_ack(packet, target, acks)
            await trio.sleep_forever()  # other nodes' answers come until the operator is done
        finally:
            self.ack_requests.pop(request_id, None)

    async def fetch_sockets(self, target: BroadcastTarget) -> list[FetchedSocket]:
        found = await super().fetch_sockets(target)
        if target.local:
            return found
        expected = await self.server_count() - 1
        if expected <= 0:
            return found
        request_id = random_id()
        pending = Pending(expected)
        self.requests[request_id] = pending
        await self.publish(self.build(MessageType.FETCH_SOCKETS, {
            "opts": encode_opts(target), "requestId": request_id}))
        complete = await self.wait(request_id, pending,
                                   target.timeout or self.member.requests_timeout)
        remote = self.remote_sockets(pending.responses)
        if not complete:
            raise ClusterTimeoutError(
                f"timeout reached: only {pending.received} responses received out of "
                f"{expected}" + self.unreachable(), [*found, *remote])
        return [*found, *remote]

    def add_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        if not target.local:
            self.publish_nowait(self.build(MessageType.SOCKETS_JOIN, {
                "opts": encode_opts(target), "rooms": list(rooms)}))
        super().add_sockets(target, rooms)

    def del_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        if not target.local:
            self.publish_nowait(self.build(MessageType.SOCKETS_LEAVE, {
                "opts": encode_opts(target), "rooms": list(rooms)}))
        super().del_sockets(target, rooms)

    async def disconnect_sockets(self, target: BroadcastTarget, close: bool) -> None:
        if not target.local:
            await self.publish(self.build(MessageType.DISCONNECT_SOCKETS, {
                "opts": encode_opts(target), "close": close}))
        await super().disconnect_sockets(target, close)

    async def server_side_emit(self, data: list[Any]) -> None:
        await self.publish(self.build(MessageType.SERVER_SIDE_EMIT, {"packet": data}))

    async def server_side_emit_with_ack(self, data: list[Any]) -> list[Any]:
        expected = await self.server_count() - 1
        if expected <= 0:
            return []
        request_id = random_id()
        pending = Pending(expected)
        self.requests[request_id] = pending
        await self.publish(self.build(MessageType.SERVER_SIDE_EMIT, {
            "requestId": request_id, "packet": data}))
        if not await self.wait(request_id, pending, self.member.requests_timeout):
            raise ServerSideEmitTimeoutError(
                f"timeout reached: only {pending.received} responses received out of "
                f"{expected}" + self.unreachable(), list(pending.responses))
        return list(pending.responses)


    async def on_message(self, received: ClusterMessage, offset: str | None = None) -> None:
        """A message of another node (CA ``onMessage``), with its offset when it came from a
        stream and this node keeps sessions; responses go to ``on_response``."""
        if received.uid == self.uid or received.nsp != self.name:
            return
        kind = received.type
        if kind == _BROADCAST:
            assert received.target is not None and received.packet is not None
            if received.request_id is None:
                _, parts = self.deliver(received.packet, received.target,
                                        None if received.packet_id else offset)
                await self.pace(parts)
            else:
                self._answer_broadcast(received, received.packet, received.target)
        elif kind == MessageType.SOCKETS_JOIN:
            assert received.target is not None
            InMemoryAdapter.add_sockets(self, received.target, received.rooms)
        elif kind == MessageType.SOCKETS_LEAVE:
            assert received.target is not None
            InMemoryAdapter.del_sockets(self, received.target, received.rooms)
        elif kind == MessageType.DISCONNECT_SOCKETS:
            assert received.target is not None
            await InMemoryAdapter.disconnect_sockets(self, received.target, received.close)
        elif kind == MessageType.FETCH_SOCKETS:
            assert received.target is not None
            self.respond(received.uid, self.build(MessageType.FETCH_SOCKETS_RESPONSE, {
                "requestId": received.request_id,
                "sockets": [encode_details(s) for s in self.local_sockets(received.target)]}))
        elif kind == MessageType.SERVER_SIDE_EMIT:
            assert received.packet is not None
            self._server_event(received, received.packet)
        elif kind in (MessageType.FETCH_SOCKETS_RESPONSE, MessageType.SERVER_SIDE_EMIT_RESPONSE,
                      MessageType.BROADCAST_CLIENT_COUNT, MessageType.BROADCAST_ACK):
            self.on_response(received)
        # heartbeats and ADAPTER_CLOSE: not part of these adapters at these versions (§5)

    def on_response(self, received: ClusterMessage) -> None:
        """An answer to one of this node's requests (CA ``onResponse``)."""
        request_id = received.request_id
        if request_id is None:
            return
        kind = received.type
        if kind in (MessageType.BROADCAST_CLIENT_COUNT, MessageType.BROADCAST_ACK):
            acks = self.ack_requests.get(request_id)
            if acks is None:
                return
            if kind == MessageType.BROADCAST_CLIENT_COUNT:
                acks.expect(received.values[0])
            else:
                acks.answer(received.values[0] if received.values else None)
            return
        pending = self.requests.get(request_id)
        if pending is None:
            return
        if kind == MessageType.FETCH_SOCKETS_RESPONSE:
            pending.add(*received.values)
        elif kind == MessageType.SERVER_SIDE_EMIT_RESPONSE:
            pending.add(received.values[0] if received.values else None)

    def _server_event(self, received: ClusterMessage, data: list[Any]) -> None:
        ack = None
        if received.request_id is not None:
            request_id, requester = received.request_id, received.uid

            def send(values: tuple[Any, ...]) -> None:
                answer: dict[str, Any] = {"requestId": request_id}
                if values:
                    answer["packet"] = values[0]
                self.respond(requester, self.build(MessageType.SERVER_SIDE_EMIT_RESPONSE,
                                                   answer))

            ack = Ack(send)
        self.member.spawn(self.run_server_event, data, ack)

    def _answer_broadcast(self, received: ClusterMessage, data: list[Any],
                          target: BroadcastTarget) -> None:
        request_id, requester = received.request_id, received.uid

        def count(clients: int) -> None:
            self.respond(requester, self.build(MessageType.BROADCAST_CLIENT_COUNT, {
                "requestId": request_id, "clientCount": clients}))

        def ack(values: tuple[Any, ...]) -> None:
            answer: dict[str, Any] = {"requestId": request_id}
            if values:
                answer["packet"] = values[0]
            self.respond(requester, self.build(MessageType.BROADCAST_ACK, answer))

        self.member.spawn(self.answer_broadcast_with_ack, data, target, Relay(count, ack))
