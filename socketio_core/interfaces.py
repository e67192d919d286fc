"""What the server's objects use of one another, as small Protocols.

The objects reference each other as Node's do (a socket its namespace and its connection, an
adapter its namespace and sockets, a namespace its server), yet each module imports only the
modules below it: a reference upward is typed with one of these Protocols, which the object
above satisfies. This module imports no other runtime module of the package.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from engineio_core.protocol import PreparedPacket
    from engineio_core.server import Server as EngineServer
    from engineio_core.server import Socket as EngineSocket

    from .handlers import Ack
    from .handshake import Handshake
    from .protocol import JSONCodec, Packet
    from .protocol.recovery import ConnectionStateRecovery
    from .protocol.rooms import Rooms

__all__ = ["FetchedSocket", "LocalSocket", "NamespaceLike", "ServerLike", "SocketLink"]


class ServerLike(Protocol):
    """A ``Server``, as its namespaces, sockets and adapters see it."""

    @property
    def engine(self) -> EngineServer:
        """The Engine.IO server under it."""
        ...

    @property
    def connection_state_recovery(self) -> ConnectionStateRecovery | None:
        """Its connection state recovery options, ``None`` when off."""
        ...

    @property
    def json(self) -> JSONCodec | None:
        """The application's JSON codec, which writes every packet (``None``: the built-in
        one)."""
        ...


class FetchedSocket(Protocol):
    """A socket as ``fetch_sockets`` returns it, on this server or another (Node's
    ``RemoteSocket`` interface): ``Socket`` and ``RemoteSocket`` both are one."""

    @property
    def id(self) -> str:
        """The socket id."""
        ...

    @property
    def handshake(self) -> Handshake:
        """The details of its connection."""
        ...

    @property
    def rooms(self) -> frozenset[str]:
        """The rooms it is in (its own id among them)."""
        ...

    @property
    def data(self) -> dict[str, Any]:
        """The application's data attached to it."""
        ...

    async def emit(self, event: str, *args: Any) -> None:
        """Send it an event."""
        ...

    def join(self, *rooms: Rooms) -> None:
        """Make it join ``rooms`` (names, or lists of names)."""
        ...

    def leave(self, room: str) -> None:
        """Make it leave ``room``."""
        ...

    async def disconnect(self, close: bool = False) -> None:
        """Disconnect it (``close``: its whole connection)."""
        ...

    async def emit_with_ack(self, event: str, *args: Any, timeout: float | None = None) -> Any:
        """Send an event and wait for the client's ack (through the cluster for a
        ``RemoteSocket``)."""
        ...


class LocalSocket(FetchedSocket, Protocol):
    """A socket of this server, as its namespace's adapter reaches it."""

    def write_encoded(
        self, packet: Packet, parts: Sequence[str | bytes | PreparedPacket], *, volatile: bool
    ) -> bool:
        """Queue an EVENT ``packet`` already encoded as ``parts`` (``protocol.encode``, each
        part best prepared once for every recipient with
        ``engineio_core.protocol.prepare_message``), for a broadcast; ``False`` when it was not
        (the socket is gone, or ``volatile`` and its client is behind)."""
        ...

    def plain_engine(self) -> EngineSocket | None:
        """Its Engine.IO socket, when ``write_encoded(packet, parts, volatile=False)`` would
        do nothing but ``send_nowait(*parts)`` on it (a broadcast may then hand its message
        to many at once, ``engineio_core.Socket.send_each``); else ``None``."""
        ...

    async def wait_for_drain(self) -> None:
        """Wait while its client is behind by more than the high-water mark (a client that
        takes nothing for the engine's ``stall_timeout`` meanwhile is dropped)."""
        ...

    def saturated(self) -> bool:
        """Whether its client is behind by more than the high-water mark (its stall timeout
        runs from the first time this is seen true)."""
        ...


class NamespaceLike(Protocol):
    """A namespace, as its sockets and adapter see it."""

    @property
    def name(self) -> str:
        """The namespace's name, e.g. ``/admin``."""
        ...

    @property
    def server(self) -> ServerLike:
        """The server it belongs to."""
        ...

    @property
    def sockets(self) -> Mapping[str, LocalSocket]:
        """Its sockets on this server, by id."""
        ...

    def forget(self, socket: LocalSocket) -> None:
        """Forget a socket that left: out of ``sockets`` and every room."""
        ...

    async def receive_server_event(self, args: list[Any], ack: Ack | None) -> None:
        """Run the server-side listeners of ``args[0]`` with the rest: what another server
        of a cluster sent with ``server_side_emit`` (a cluster adapter calls this)."""
        ...


class SocketLink(Protocol):
    """The connection a server-side ``Socket`` came on (a ``Link``), as the socket uses it."""

    @property
    def engine(self) -> EngineSocket:
        """The Engine.IO session under it."""
        ...

    def accept(self, namespace: str, sid: str, pid: str | None = None) -> bool:
        """Tell the client it joined ``namespace`` as ``sid`` (CONNECT, with its private session
        id ``pid`` under connection state recovery); ``False`` when the connection is gone."""
        ...

    def reject(self, namespace: str, message: str, data: Any) -> None:
        """Refuse the client on ``namespace`` (CONNECT_ERROR with ``message`` and ``data``)."""
        ...

    def emit(self, namespace: str, event: str, args: Sequence[Any]) -> None:
        """Send an event on ``namespace``."""
        ...

    def flush(self) -> None:
        """Hand what the connection queued (a CONNECT, say) to its Engine.IO session."""
        ...

    async def emit_with_ack(
        self, namespace: str, event: str, args: Sequence[Any], timeout: float | None
    ) -> tuple[Any, ...]:
        """Send an event on ``namespace`` and wait for its ack's arguments."""
        ...

    def disconnect(self, namespace: str) -> None:
        """Leave ``namespace`` (the client hears DISCONNECT)."""
        ...

    def close(self, reason: str) -> None:
        """Disconnect every namespace and close the connection."""
        ...

    def spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` in a task the connection owns."""
        ...

    async def run_counted(self, rest: Awaitable[Any]) -> None:
        """Await ``rest`` (the connection's work, in a task it does not own) as if it were
        one of its tasks: the connection's close waits for it."""
        ...

    def lost(self) -> None:
        """End the connection's sockets as if its transport closed, and close it."""
        ...
