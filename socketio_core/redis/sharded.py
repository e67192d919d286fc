"""The ``sharded`` adapter: a cluster member speaking ``createShardedAdapter`` of
``@socket.io/redis-adapter`` 8.3, on Redis 7 sharded pub/sub (shared/cluster-wire.md §3).

Each namespace holds ``SSUBSCRIBE {prefix}#{nsp}#`` (counted with ``PUBSUB SHARDNUMSUB``) and
its response channel ``{prefix}#{nsp}#{uid}#``. In the dynamic modes a room gets its own channel
``{prefix}#{nsp}#{room}#``, subscribed while the room has a local member: a public room (not one
of this node's socket ids) in ``dynamic`` mode, every room in ``dynamic-private`` mode. A
broadcast without ack to exactly one such room is published there (in ``dynamic`` mode not when
the name is 20 characters long: Node takes it for a socket id).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .cluster_adapter import ClusterProtocolAdapter
from .cluster_wire import MessageType, decode_sharded, encode_sharded
from .codec import CodecError
from .member import DEFAULT_TIMEOUT, ClusterMember, MemberAdapter, random_id

if TYPE_CHECKING:
    from ..namespace import Namespace

__all__ = ["ShardedAdapter", "ShardedCluster"]

SUBSCRIPTION_MODES = ("static", "dynamic", "dynamic-private")


class ShardedCluster(ClusterMember):
    """A cluster member on Redis sharded pub/sub, wire-compatible with Node's
    ``createShardedAdapter``.

    Args:
        url: the Redis server (7.0 or later), ``redis://host:port[/db]``.
        channel_prefix: the channel prefix (Node's ``channelPrefix``).
        subscription_mode: ``"static"``, ``"dynamic"`` (the default) or ``"dynamic-private"``
            (Node's ``subscriptionMode``).
        requests_timeout: seconds to wait for the answers of ``fetch_sockets`` (unless its
            operator has a ``timeout``) and ``server_side_emit_with_ack`` (Node: 5 s, fixed).
        max_pending: publications queued while Redis is slow (see ``RedisLink``).
    """

    def __init__(self, url: str, *, channel_prefix: str = "socket.io",
                 subscription_mode: str = "dynamic", requests_timeout: float = DEFAULT_TIMEOUT,
                 max_pending: int = 10_000, connect_timeout: float = 10.0) -> None:
        if subscription_mode not in SUBSCRIPTION_MODES:
            raise ValueError(f"subscription_mode must be one of {SUBSCRIPTION_MODES}")
        super().__init__(url, name=f"sharded {channel_prefix}",
                         requests_timeout=requests_timeout, max_pending=max_pending,
                         connect_timeout=connect_timeout)
        self.channel_prefix = channel_prefix
        self.subscription_mode = subscription_mode
        self.routes: dict[bytes, tuple[ShardedAdapter, bool]] = {}

    async def __aenter__(self) -> ShardedCluster:
        await super().__aenter__()
        return self

    def adapter(self, namespace: Namespace) -> ShardedAdapter:
        """The factory ``Server(adapter=...)`` takes."""
        adapter = ShardedAdapter(namespace, self)
        self.adapters[namespace.name] = adapter
        self.routes[adapter.channel.encode()] = (adapter, False)
        self.routes[adapter.response_channel.encode()] = (adapter, True)
        self.link.ssubscribe(adapter.channel, adapter.response_channel)
        return adapter

    def release(self, adapter: MemberAdapter) -> None:
        if self.adapters.get(adapter.name) is not adapter:
            return
        super().release(adapter)
        channels = [name for name, (owner, _) in self.routes.items() if owner is adapter]
        for channel in channels:
            del self.routes[channel]
        self.link.sunsubscribe(*(channel.decode() for channel in channels))

    async def _on_message(self, kind: bytes, channel: bytes, payload: bytes) -> None:
        route = self.routes.get(channel)
        if route is None:
            return
        adapter, response = route
        try:
            received = decode_sharded(payload)
        except CodecError as error:
            self.dropped(error, channel)
            return
        if response:
            adapter.on_response(received)
        else:
            await adapter.on_message(received)


class ShardedAdapter(ClusterProtocolAdapter):
    """One namespace's adapter of a ``ShardedCluster``."""

    member: ShardedCluster

    def __init__(self, namespace: Namespace, member: ShardedCluster) -> None:
        super().__init__(namespace, member, random_id())
        self.channel = f"{member.channel_prefix}#{namespace.name}#"
        self.response_channel = f"{self.channel}{self.uid}#"
        self._dynamic = member.subscription_mode != "static"

    def _room_channel(self, room: str) -> str:
        return f"{self.channel}{room}#"

    def _channel_of(self, built: dict[str, Any]) -> str:
        """RA-sh ``computeChannel``: a room's own channel only for a broadcast without ack to
        exactly one room (broadcasts with ack need every server to count itself in)."""
        data = built["data"]
        if (self._dynamic and built["type"] == MessageType.BROADCAST
                and "requestId" not in data and len(data["opts"]["rooms"]) == 1):
            room = data["opts"]["rooms"][0]
            if self.member.subscription_mode == "dynamic-private" or len(room) != 20:
                return self._room_channel(room)
        return self.channel

    async def publish(self, built: dict[str, Any]) -> None:
        await self.member.link.publish(b"SPUBLISH", self._channel_of(built),
                                       encode_sharded(built))

    def publish_nowait(self, built: dict[str, Any]) -> None:
        self.member.link.publish_nowait(b"SPUBLISH", self._channel_of(built),
                                        encode_sharded(built))

    def respond(self, requester: str, built: dict[str, Any]) -> None:
        self.member.link.publish_nowait(b"SPUBLISH", f"{self.channel}{requester}#",
                                        encode_sharded(built))

    async def server_count(self) -> int:
        channel = self.channel
        return await self.count_servers(lambda client: client.pubsub_shardnumsub(channel))


    def _separate(self, room: str) -> bool:
        """RA-sh ``shouldUseASeparateNamespace``: public rooms, or every room in
        dynamic-private mode."""
        return self._dynamic and (self.member.subscription_mode == "dynamic-private"
                                  or room not in self.rooms)

    def _created(self, rooms: Iterable[str]) -> None:
        channels = [self._room_channel(room) for room in rooms if self._separate(room)]
        if channels:
            for channel in channels:
                self.member.routes[channel.encode()] = (self, False)
            self.member.link.ssubscribe(*channels)

    def _deleted(self, rooms: Iterable[str]) -> None:
        channels = [self._room_channel(room) for room in rooms]
        if channels:
            for channel in channels:
                self.member.routes.pop(channel.encode(), None)
            self.member.link.sunsubscribe(*channels)

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        new = [room for room in rooms if not self.rooms.has_room(room)]
        super().add_all(sid, rooms)
        if new and self._dynamic:
            self._created(new)

    def delete(self, sid: str, room: str) -> None:
        separate = self._dynamic and self._separate(room)
        super().delete(sid, room)
        if separate and not self.rooms.has_room(room):
            self._deleted([room])

    def delete_all(self, sid: str) -> None:
        separate = [room for room in self.rooms_of(sid) if self._separate(room)]
        super().delete_all(sid)
        if self._dynamic:
            self._deleted(room for room in separate if not self.rooms.has_room(room))
