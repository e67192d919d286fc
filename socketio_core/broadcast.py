"""``BroadcastOperator``: an immutable selection of sockets, and what can be done to them.

Each of ``to``, ``in_``, ``except_``, ``volatile``, ``compress``, ``local`` and ``timeout``
returns a new operator, as Node's does. Every operation goes through the namespace's adapter
(the operator holds the adapter, as Node's does), so a cluster adapter carries it to the
sockets of other servers; ``RemoteSocket`` is how ``fetch_sockets`` shows a socket of another
server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import trio

from .adapter import AckCollector, Adapter
from .errors import AckTimeoutError
from .protocol import BroadcastTarget, Packet, PacketType
from .protocol.rooms import Rooms, flatten_rooms

if TYPE_CHECKING:
    from .handshake import Handshake
    from .interfaces import FetchedSocket, LocalSocket, NamespaceLike

__all__ = ["BroadcastOperator", "RemoteSocket"]

_EVERYONE = BroadcastTarget()  # immutable: every operator without a selection shares it


class BroadcastOperator:
    """Sockets of one namespace selected by rooms, minus excluded rooms.

    Args:
        adapter: the namespace's adapter, which performs every operation.
        target: the selection (every socket of the namespace by default).
    """

    __slots__ = ("adapter", "target")

    def __init__(self, adapter: Adapter, target: BroadcastTarget | None = None) -> None:
        self.adapter = adapter
        self.target = target if target is not None else _EVERYONE

    @property
    def namespace(self) -> NamespaceLike:
        """The namespace the selected sockets are in."""
        return self.adapter.namespace

    def to(self, *rooms: Rooms) -> BroadcastOperator:
        """Also target the sockets in ``rooms`` (each a room name or an iterable of names, as
        Node takes a name or an array)."""
        return BroadcastOperator(self.adapter, self.target.to(*rooms))

    in_ = to

    def except_(self, *rooms: Rooms) -> BroadcastOperator:
        """Leave out the sockets in ``rooms`` (names, or iterables of names)."""
        return BroadcastOperator(self.adapter, self.target.except_(*rooms))

    @property
    def volatile(self) -> BroadcastOperator:
        """Drop the packet for clients not ready to take it now."""
        return BroadcastOperator(self.adapter, self.target.with_volatile())

    @property
    def local(self) -> BroadcastOperator:
        """Only this server's sockets (matters with a cluster adapter)."""
        return BroadcastOperator(self.adapter, self.target.with_local())

    def compress(self, compress: bool) -> BroadcastOperator:
        """As Node's ``compress``: recorded on the target; compressing is the transport's job."""
        return BroadcastOperator(self.adapter, self.target.with_compress(compress))

    def timeout(self, seconds: float) -> BroadcastOperator:
        """How long ``emit_with_ack`` waits for every ack."""
        return BroadcastOperator(self.adapter, self.target.with_timeout(seconds))

    def sockets(self) -> list[LocalSocket]:
        """The local sockets selected now."""
        return self.adapter.local_sockets(self.target)

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event to every selected socket, on every server unless ``local`` (this
        server encodes it once)."""
        packet = Packet(PacketType.EVENT, self.adapter.namespace.name, [event, *args])
        await self.adapter.broadcast(packet, self.target)

    async def emit_with_ack(self, event: str, *args: Any) -> list[Any]:
        """Send an event to every selected socket and gather their acks.

        Returns one response per socket (its single ack argument, or a tuple). Raises
        ``AckTimeoutError`` (with the responses that did arrive) when ``timeout`` ran out first,
        or when a socket disconnected before answering.
        """
        adapter = self.adapter
        servers = 1 if self.target.local else await adapter.server_count()
        acks = AckCollector(servers)
        packet = Packet(PacketType.EVENT, adapter.namespace.name, [event, *args])
        timeout = self.target.timeout
        async with trio.open_nursery() as nursery:
            nursery.start_soon(adapter.broadcast_with_ack, packet, self.target, acks)
            with trio.move_on_after(math.inf if timeout is None else timeout):
                await acks.complete.wait()
            nursery.cancel_scope.cancel()
        if not acks.complete.is_set() or acks.missed:
            raise AckTimeoutError(list(acks.responses))
        return acks.responses

    async def fetch_sockets(self) -> list[FetchedSocket]:
        """The selected sockets: this server's as ``Socket``, other servers' (with a cluster
        adapter) as ``RemoteSocket``."""
        return await self.adapter.fetch_sockets(self.target)

    def sockets_join(self, *rooms: Rooms) -> None:
        """Make every selected socket join ``rooms`` (names, or lists of names)."""
        self.adapter.add_sockets(self.target, flatten_rooms(*rooms))

    def sockets_leave(self, *rooms: Rooms) -> None:
        """Make every selected socket leave ``rooms`` (names, or lists of names)."""
        self.adapter.del_sockets(self.target, flatten_rooms(*rooms))

    async def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect every selected socket (``close``: their whole connection)."""
        await self.adapter.disconnect_sockets(self.target, close)


class RemoteSocket:
    """A socket on another server of a cluster, as ``fetch_sockets`` returns it (Node's
    ``RemoteSocket``): a snapshot of its id, handshake, rooms and data, taken when it was
    fetched, and the operations that reach it through the adapter.

    ``emit``, ``join``, ``leave`` and ``disconnect`` act on the room named by its id, on every
    server, so they reach it wherever it is. ``adapter`` is the namespace's adapter (the one
    that fetched it).
    """

    __slots__ = ("adapter", "data", "handshake", "id", "rooms")

    def __init__(
        self,
        adapter: Adapter,
        id: str,
        handshake: Handshake,
        rooms: Iterable[str],
        data: dict[str, Any],
    ) -> None:
        self.adapter = adapter
        self.id = id
        self.handshake = handshake
        self.rooms = frozenset(rooms)
        self.data: Any = data

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id} on {self.namespace.name}>"

    @property
    def namespace(self) -> NamespaceLike:
        """The namespace it is in."""
        return self.adapter.namespace

    @property
    def _operator(self) -> BroadcastOperator:
        # Node's RemoteSocket flags every operation as expecting a single response.
        return BroadcastOperator(self.adapter, BroadcastTarget(
            rooms=frozenset({self.id}), expect_single_response=True))

    async def emit(self, event: str, *args: Any) -> None:
        """Send an event to this socket."""
        await self._operator.emit(event, *args)

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and wait for this socket's ack, through the cluster (as
        ``Socket.emit_with_ack``): returns its single answer. Raises ``TimeoutError`` when
        none came within ``timeout`` seconds."""
        operator = self._operator
        if timeout is not None:
            operator = operator.timeout(timeout)
        try:
            responses = await operator.emit_with_ack(event, *args)
        except AckTimeoutError:
            raise TimeoutError("operation has timed out") from None
        if not responses:
            raise TimeoutError("operation has timed out")
        return responses[0]

    def timeout(self, seconds: float) -> _RemoteSocketWithTimeout:
        """``remote.timeout(5).emit_with_ack(...)``, as Node's ``RemoteSocket.timeout``."""
        return _RemoteSocketWithTimeout(self, seconds)

    def join(self, *rooms: Rooms) -> None:
        """Make this socket join ``rooms`` (names, or iterables of names)."""
        self._operator.sockets_join(*rooms)

    def leave(self, room: str) -> None:
        """Make this socket leave ``room``."""
        self._operator.sockets_leave(room)

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect this socket (``close``: its whole connection)."""
        await self._operator.disconnect_sockets(close)


class _RemoteSocketWithTimeout:
    __slots__ = ("_seconds", "_socket")

    def __init__(self, socket: RemoteSocket, seconds: float) -> None:
        self._socket = socket
        self._seconds = seconds

    async def emit_with_ack(self, event: str, *args: Any) -> Any:
        """Send an event and wait up to the timeout for the socket's single answer."""
        return await self._socket.emit_with_ack(event, *args, timeout=self._seconds)
