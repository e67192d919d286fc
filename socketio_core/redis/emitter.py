"""An emitter: publish to the sockets of a Redis cluster from any Python process without a
Socket.IO server, in the ``@socket.io/redis-emitter`` 5.1 format (shared/cluster-wire.md §6).

It speaks the ``pubsub`` adapter's format only, as Node's does: nodes on the sharded adapter do
not hear plain ``PUBLISH``, and the streams adapter reads broadcasts from its stream.

    async with Emitter("redis://127.0.0.1:6379") as emitter:
        await emitter.to("room").emit("news", {"title": "..."})
        await emitter.of("/admin").server_side_emit("reload")
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import coredis

from ..protocol import BroadcastTarget
from . import pubsub_wire as wire
from .pubsub_wire import EMITTER_UID, RequestType
from .wire import encode_opts

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Emitter", "EmitterOperator"]

#: Event names the emitter refuses (EM ``RESERVED_EVENTS``).
RESERVED_EVENTS = frozenset({"connect", "connect_error", "disconnect", "disconnecting",
                             "newListener", "removeListener"})


class EmitterOperator:
    """Sockets of one namespace selected by rooms, as Node's emitter ``BroadcastOperator``;
    each selector returns a new operator."""

    __slots__ = ("_emitter", "_nsp", "_target")

    def __init__(self, emitter: Emitter, nsp: str, target: BroadcastTarget) -> None:
        self._emitter = emitter
        self._nsp = nsp
        self._target = target

    def _with(self, **changes: Any) -> EmitterOperator:
        return EmitterOperator(self._emitter, self._nsp,
                               dataclasses.replace(self._target, **changes))

    def to(self, *rooms: str) -> EmitterOperator:
        """Also target the sockets in ``rooms``."""
        return self._with(rooms=self._target.rooms | frozenset(rooms))

    in_ = to

    def except_(self, *rooms: str) -> EmitterOperator:
        """Leave out the sockets in ``rooms``."""
        return self._with(except_rooms=self._target.except_rooms | frozenset(rooms))

    @property
    def volatile(self) -> EmitterOperator:
        """Dropped for clients not ready to take the event."""
        return self._with(volatile=True)

    def compress(self, compress: bool) -> EmitterOperator:
        """Node's ``compress`` flag."""
        return self._with(compress=compress)

    @property
    def _channels(self) -> wire.Channels:
        return wire.Channels(self._emitter.key, self._nsp)

    async def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to every selected socket of every node. Raises ``ValueError`` for a
        reserved event name."""
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        payload = wire.encode_broadcast(EMITTER_UID, self._nsp, [event, *args], self._target,
                                        emitter=True)
        await self._emitter.client.publish(self._channels.broadcast_to(self._target), payload)

    async def _request(self, message: dict[str, Any]) -> None:
        await self._emitter.client.publish(self._channels.request, wire.encode_json(message))

    async def sockets_join(self, *rooms: str) -> None:
        """Make every selected socket join ``rooms``."""
        await self._request({"type": RequestType.REMOTE_JOIN.value,
                             "opts": encode_opts(self._target, flags=False),
                             "rooms": list(rooms)})

    async def sockets_leave(self, *rooms: str) -> None:
        """Make every selected socket leave ``rooms``."""
        await self._request({"type": RequestType.REMOTE_LEAVE.value,
                             "opts": encode_opts(self._target, flags=False),
                             "rooms": list(rooms)})

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every selected socket (``close``: their whole connection)."""
        await self._request({"type": RequestType.REMOTE_DISCONNECT.value,
                             "opts": encode_opts(self._target, flags=False), "close": close})

    async def server_side_emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the namespace's server-side listeners on every node (no ack: the
        emitter does not listen)."""
        await self._request({"uid": EMITTER_UID, "type": RequestType.SERVER_SIDE_EMIT.value,
                             "data": [event, *args]})


class Emitter(EmitterOperator):
    """A Redis connection publishing to a cluster's sockets, as an ``async with`` resource.

    Args:
        url: the Redis server, ``redis://host:port[/db]``.
        key: the channel prefix the cluster uses (Node's ``key``).
        nsp: the namespace of the operations (``of`` gives others).
    """

    def __init__(self, url: str, *, key: str = "socket.io", nsp: str = "/") -> None:
        self.client: coredis.Redis[bytes] = coredis.Redis.from_url(url)
        self.key = key
        super().__init__(self, nsp, BroadcastTarget())

    async def __aenter__(self) -> Emitter:
        await self.client.__aenter__()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        await self.client.__aexit__(kind, error, traceback)

    def of(self, nsp: str) -> EmitterOperator:
        """The same emitter on namespace ``nsp`` (a leading ``/`` is added if missing)."""
        return EmitterOperator(self, nsp if nsp.startswith("/") else "/" + nsp,
                               BroadcastTarget())
