"""``BroadcastOperator``: an immutable selection of sockets, and what can be done to them.

Each of ``to``, ``in_``, ``except_``, ``volatile``, ``compress``, ``local`` and ``timeout``
returns a new operator, as Node's does. ``emit`` encodes the packet once and the adapter hands
the same encoded parts to every selected socket.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import trio

from .protocol import BroadcastTarget, Packet, PacketType, encode

if TYPE_CHECKING:
    from .namespace import Namespace
    from .socket import Socket

__all__ = ["AckTimeoutError", "BroadcastOperator"]

# Bytes broadcast since a broadcast last yielded (in any server of the process: yielding more
# often than needed is harmless).
_queued_since_yield = 0


class AckTimeoutError(TimeoutError):
    """Not every selected socket acknowledged in time; ``responses`` holds those that did."""

    def __init__(self, responses: list[Any]) -> None:
        super().__init__("operation has timed out")
        self.responses = responses


class BroadcastOperator:
    """Sockets of one namespace selected by rooms, minus excluded rooms."""

    __slots__ = ("namespace", "target")

    def __init__(self, namespace: Namespace, target: BroadcastTarget | None = None) -> None:
        self.namespace = namespace
        self.target = target if target is not None else BroadcastTarget()

    def _with(self, **changes: Any) -> BroadcastOperator:
        return BroadcastOperator(self.namespace, dataclasses.replace(self.target, **changes))

    def to(self, *rooms: str) -> BroadcastOperator:
        """Also target the sockets in ``rooms``."""
        return self._with(rooms=self.target.rooms | frozenset(rooms))

    in_ = to

    def except_(self, *rooms: str) -> BroadcastOperator:
        """Leave out the sockets in ``rooms``."""
        return self._with(except_rooms=self.target.except_rooms | frozenset(rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the packet for clients not ready to take it now."""
        return self._with(volatile=True)

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets (matters with a cluster adapter)."""
        return self._with(local=True)

    def compress(self, compress: bool) -> BroadcastOperator:
        """As Node's ``compress``: recorded on the target; compressing is the transport's job."""
        return self._with(compress=compress)

    def timeout(self, seconds: float) -> BroadcastOperator:
        """How long ``emit_with_ack`` waits for every ack."""
        return self._with(timeout=seconds)

    def sockets(self) -> list[Socket]:
        """The local sockets selected now."""
        sockets = self.namespace.sockets
        selected = self.namespace.adapter.select(self.target)
        return [sockets[sid] for sid in selected if sid in sockets]

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event to every selected socket (encoded once)."""
        global _queued_since_yield
        parts = encode(Packet(PacketType.EVENT, self.namespace.name, [event, *args]))
        self.namespace.adapter.broadcast(parts, self.target)
        # Every recipient queues the same bytes, so a burst of broadcasts in a loop cannot push
        # a healthy client past its limit while it has queued less than the high-water mark
        # since the last yield; past that, one scheduler pass lets the writers take it. Not
        # yielding before lets them find many frames at once and write them together.
        _queued_since_yield += sum(len(part) + 1 for part in parts)
        if _queued_since_yield >= self.namespace.server.engine.max_buffered_bytes:
            _queued_since_yield = 0
            await trio.lowlevel.checkpoint()

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to every selected socket and gather their acks.

        Returns one response per socket (its single ack argument, or a tuple). Raises
        ``AckTimeoutError`` (with the responses that did arrive) when ``timeout`` ran out first.
        """
        targets = self.sockets()
        responses: list[Any] = []
        timeout = self.target.timeout

        async def gather(socket: Socket) -> None:
            try:
                responses.append(await socket.emit_with_ack(event, *args, timeout=timeout))
            except (TimeoutError, ConnectionError):
                pass

        async with trio.open_nursery() as nursery:
            for socket in targets:
                nursery.start_soon(gather, socket)
        if len(responses) < len(targets):
            raise AckTimeoutError(responses)
        return responses

    async def fetch_sockets(self) -> list[Socket]:
        """The selected sockets."""
        return self.sockets()

    def sockets_join(self, *rooms: str) -> None:
        """Make every selected socket join ``rooms``."""
        for socket in self.sockets():
            socket.join(*rooms)

    def sockets_leave(self, room: str) -> None:
        """Make every selected socket leave ``room``."""
        for socket in self.sockets():
            socket.leave(room)

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every selected socket (``close``: their whole connection)."""
        for socket in self.sockets():
            await socket.disconnect(close)
