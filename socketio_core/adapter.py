"""Adapters: who is in which room, and every operation a ``BroadcastOperator`` performs.

``Adapter`` is the interface between a namespace and wherever its sockets live
(socket.io-adapter's ``Adapter``); ``InMemoryAdapter`` serves one process. The operator asks
the adapter for everything it does to a selection of sockets (emit, emit with ack, fetch, join,
leave, disconnect), so a cluster adapter reaches the sockets of other servers by overriding
those methods: it publishes the operation to its peers (unless ``target.local``) and applies it
here with the in-memory behaviour. docs/adapter.md describes the interface and what a Redis
adapter implements.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import trio

from engineio_core.protocol import PreparedPacket, prepare_message
from engineio_core.server import Socket as EngineSocket

from .protocol import (
    BroadcastTarget,
    JSONCodec,
    Packet,
    PacketType,
    RoomIndex,
    Session,
    encode,
    session_includes,
)
from .protocol.packet import encode_event

if TYPE_CHECKING:
    from .interfaces import FetchedSocket, LocalSocket, NamespaceLike

__all__ = ["AckCollector", "Adapter", "InMemoryAdapter", "Restoring", "prepare"]

log = logging.getLogger("socketio_core")

#: A packet's Engine.IO messages, each prepared once for every session that sends it.
Parts = Sequence[PreparedPacket]
#: An EVENT packet with its prepared encoding, as ``write_encoded`` takes it.
Encoded = tuple[Packet, Parts]


def prepare(packet: Packet, json: JSONCodec | None = None) -> list[PreparedPacket]:
    """``packet`` encoded once (with the application's ``json`` codec, if any), as prepared
    messages any number of sessions may queue (each framed once, by the first session that
    writes it)."""
    if packet.type is PacketType.EVENT:  # a broadcast: the plain arguments' shorter path
        parts = encode_event(PacketType.EVENT, packet.namespace, packet.data, packet.id, json)
    else:
        parts = encode(packet, json=json)
    return [prepare_message(part) for part in parts]

# Bytes broadcast since a broadcast last yielded (in any server of the process: yielding more
# often than needed is harmless).
_queued_since_yield = 0


def _plain_engines(sids: Iterable[str], sockets: Mapping[str, LocalSocket], packet: Packet,
                   parts: Parts, taken: list[int]) -> Iterator[EngineSocket]:
    """The Engine.IO sockets of ``sids`` to hand ``parts`` (one message) to; the others
    (held, listened to) are written here as the loop reaches them. ``taken[0]`` counts both."""
    count = 0
    for sid in sids:
        socket = sockets.get(sid)
        if socket is None:
            continue
        engine = socket.plain_engine()
        if engine is not None:
            count += 1
            yield engine
        elif socket.write_encoded(packet, parts, volatile=False):
            count += 1
    taken[0] = count


class AckCollector:
    """The answers to one broadcast with ack, gathered from every server of a cluster.

    Each server that sent the packet reports how many sockets it went to (``expect``), then
    each answer (``answer``); a socket that cannot answer any more (it timed out or
    disconnected) may be reported with ``miss``. ``complete`` is set once as many servers as
    expected have reported and every counted socket has answered or been missed.
    """

    def __init__(self, servers: int) -> None:
        self.servers = servers
        self.reported = 0
        self.expected = 0
        self.responses: list[Any] = []
        self.missed = 0
        self.complete = trio.Event()
        self._check()

    def expect(self, count: int) -> None:
        """One server sent the packet to ``count`` sockets."""
        self.reported += 1
        self.expected += count
        self._check()

    def answer(self, value: Any) -> None:
        """One socket answered with ``value``."""
        self.responses.append(value)
        self._check()

    def miss(self) -> None:
        """One counted socket will not answer."""
        self.missed += 1
        self._check()

    def _check(self) -> None:
        if (self.reported >= self.servers
                and len(self.responses) + self.missed >= self.expected):
            self.complete.set()


class Restoring:
    """A session being restored (connection state recovery): the packets its client missed,
    and, until the socket is admitted, what the adapter sends meanwhile to the session's rooms
    (the socket is in none of them yet). ``finish`` ends the catch and gives every packet to
    write, in order, before the CONNECT answer; ``cancel`` ends it when the socket is refused.

    Args:
        adapter: the adapter whose local deliveries are caught.
        session: the session taken back.
        missed: the packets the client missed, oldest first, with their encodings.
        keep: for a caught packet with an offset, whether it is not among ``missed`` already
            (a cluster adapter reading its history while live packets arrive); by default
            every caught packet is new.
    """

    __slots__ = ("_adapter", "_caught", "_keep", "missed", "session")

    def __init__(self, adapter: InMemoryAdapter, session: Session, missed: list[Encoded],
                 keep: Callable[[str], bool] | None = None) -> None:
        self._adapter = adapter
        self.session = session
        self.missed = missed
        self._keep = keep
        self._caught: list[tuple[str | None, Encoded]] = []
        adapter._restoring.append(self)

    def offer(self, encoded: Encoded, target: BroadcastTarget, offset: str | None) -> None:
        """A packet delivered locally: kept if it was meant for the session's socket."""
        if not target.volatile and session_includes(self.session.rooms, target.rooms,
                                                    target.except_rooms):
            self._caught.append((offset, encoded))

    def finish(self) -> list[Encoded]:
        """Stop catching; every packet to write to the client, oldest first."""
        self.cancel()
        keep = self._keep
        return self.missed + [encoded for offset, encoded in self._caught
                              if offset is None or keep is None or keep(offset)]

    def cancel(self) -> None:
        """Stop catching (the socket was not admitted)."""
        if self in self._adapter._restoring:
            self._adapter._restoring.remove(self)


class Adapter:
    """The interface between a namespace and wherever its sockets live.

    Room bookkeeping (``add_all`` … ``select``) is about this server's sockets and is
    synchronous: it runs inside ``socket.join`` and connection handling. The operations of a
    broadcast operator take the selection as a ``BroadcastTarget`` (rooms, excepted rooms and
    flags, ``local`` among them). Those a cluster answers only after a round trip are async
    (``broadcast_with_ack``, ``fetch_sockets``, ``server_count``), and so are those whose user
    API is awaited anyway (``broadcast``, ``disconnect_sockets``); ``add_sockets`` and
    ``del_sockets`` are synchronous as ``sockets_join``/``sockets_leave`` are, so a cluster
    adapter queues their publication for a task of its own.

    ``Server(adapter=...)`` takes any callable ``namespace -> Adapter``: the class itself, or a
    factory bound to a cluster connection.

    Connection state recovery needs ``persist_session`` and ``restore_session``, which keep
    nothing here (as in Node's base adapter); ``keeps_sessions`` says whether an adapter does.
    """

    #: Whether ``persist_session``/``restore_session`` keep sessions (recovery can succeed).
    keeps_sessions: ClassVar[bool] = False

    def __init__(self, namespace: NamespaceLike) -> None:
        self.namespace = namespace

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Put socket ``sid`` in ``rooms``."""
        raise NotImplementedError

    def delete(self, sid: str, room: str) -> None:
        """Take socket ``sid`` out of ``room``."""
        raise NotImplementedError

    def delete_all(self, sid: str) -> None:
        """Take socket ``sid`` out of every room."""
        raise NotImplementedError

    def rooms_of(self, sid: str) -> frozenset[str]:
        """The rooms socket ``sid`` is in."""
        raise NotImplementedError

    def all_rooms(self) -> frozenset[str]:
        """Every room with at least one socket."""
        raise NotImplementedError

    def select(self, target: BroadcastTarget) -> list[str]:
        """The local sids a target selects."""
        raise NotImplementedError

    def local_sockets(self, target: BroadcastTarget) -> list[LocalSocket]:
        """The local sockets a target selects, in selection order."""
        sockets = self.namespace.sockets
        return [sockets[sid] for sid in self.select(target) if sid in sockets]

    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        """Send an EVENT packet to every selected socket; returns how many local sockets it
        went to."""
        raise NotImplementedError

    def broadcast_nowait(self, packet: Packet, target: BroadcastTarget) -> None:
        """As ``broadcast``, without waiting (a cluster adapter drops its publication when
        its queue is full); ``Socket.emit_nowait`` with connection state recovery on."""
        raise NotImplementedError

    async def broadcast_with_ack(
        self, packet: Packet, target: BroadcastTarget, acks: AckCollector
    ) -> None:
        """Send an EVENT packet asking for an ack to every selected socket and report to
        ``acks``: once per server the number of sockets reached, then each answer. Runs until
        the local answers are in; a cluster adapter keeps its request open until cancelled (the
        operator cancels once ``acks.complete`` is set or its timeout passes)."""
        raise NotImplementedError

    async def fetch_sockets(self, target: BroadcastTarget) -> list[FetchedSocket]:
        """The selected sockets: this server's as ``Socket``, other servers' as
        ``RemoteSocket``."""
        raise NotImplementedError

    def add_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        """Make every selected socket join ``rooms``."""
        raise NotImplementedError

    def del_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        """Make every selected socket leave ``rooms``."""
        raise NotImplementedError

    async def disconnect_sockets(self, target: BroadcastTarget, close: bool) -> None:
        """Disconnect every selected socket (``close``: its whole connection)."""
        raise NotImplementedError

    async def server_count(self) -> int:
        """How many servers share this namespace (1 without a cluster)."""
        return 1

    async def server_side_emit(self, data: list[Any]) -> None:
        """Send ``[event, *args]`` to the namespace's server-side listeners on every other
        server (Node's ``serverSideEmit``; a cluster adapter's job)."""
        raise NotImplementedError(
            "this adapter does not support the server_side_emit() functionality")

    async def server_side_emit_with_ack(self, data: list[Any]) -> list[Any]:
        """As ``server_side_emit``, then gather one answer from each other server; raises
        ``ServerSideEmitTimeoutError`` (with the answers so far) when some do not answer in
        time."""
        raise NotImplementedError(
            "this adapter does not support the server_side_emit() functionality")

    def persist_session(self, session: Session) -> None:
        """Keep the session of a socket that left for a recoverable reason (connection state
        recovery); this base adapter keeps nothing."""

    async def restore_session(self, pid: str, offset: str) -> Restoring | None:
        """Take back the session ``pid`` with the packets its client missed after
        ``offset``; ``None`` when it cannot be restored (this base adapter keeps nothing)."""
        return None

    def close(self) -> None:
        """The namespace is gone (a namespace made by a dynamic matcher, emptied, with
        ``cleanup_empty_child_namespaces``): release what is held for it, such as a cluster
        adapter's subscriptions. Nothing to release here."""


class InMemoryAdapter(Adapter):
    """Rooms and every operation within one process; ``target.local`` changes nothing here."""

    def __init__(self, namespace: NamespaceLike) -> None:
        super().__init__(namespace)
        self.rooms = RoomIndex()
        self._restoring: list[Restoring] = []

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        """Put socket ``sid`` in ``rooms``."""
        for room in rooms:
            self.rooms.join(sid, room)

    def delete(self, sid: str, room: str) -> None:
        """Take socket ``sid`` out of ``room``."""
        self.rooms.leave(sid, room)

    def delete_all(self, sid: str) -> None:
        """Take socket ``sid`` out of every room."""
        self.rooms.leave_all(sid)

    def rooms_of(self, sid: str) -> frozenset[str]:
        """The rooms socket ``sid`` is in."""
        return frozenset(self.rooms.rooms_of(sid))

    def all_rooms(self) -> frozenset[str]:
        """Every room with at least one socket."""
        return frozenset(self.rooms.rooms())

    def select(self, target: BroadcastTarget) -> list[str]:
        """The local sids a target selects."""
        return self.rooms.select(target.rooms, target.except_rooms)  # a list of its own

    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        """Encode the packet once and queue the same parts for every selected socket."""
        parts = prepare(packet, self.namespace.server.json)
        sent = self.write(packet, parts, target)
        await self.pace(parts, target)
        return sent

    def broadcast_nowait(self, packet: Packet, target: BroadcastTarget) -> None:
        """As ``broadcast``, without the pause a long burst of broadcasts takes."""
        self.write(packet, prepare(packet, self.namespace.server.json), target)

    def write(self, packet: Packet, parts: Parts, target: BroadcastTarget,
              offset: str | None = None) -> int:
        """Queue an EVENT ``packet``, encoded as ``parts``, for every selected local socket
        (and a session being restored that it was meant for; ``offset`` is the packet's own,
        if it has one); returns how many sockets took it."""
        sockets = self.namespace.sockets
        sids = self.select(target)
        if len(parts) == 1 and not target.volatile:
            # The usual case: the one message handed to the engine in one call, each socket
            # as it comes (the first is written before the rest are looked up).
            taken = [0]
            EngineSocket.send_each(_plain_engines(sids, sockets, packet, parts, taken), parts[0])
            sent = taken[0]
        else:
            sent = 0
            for sid in sids:
                socket = sockets.get(sid)
                if socket is not None and socket.write_encoded(packet, parts,
                                                               volatile=target.volatile):
                    sent += 1
        if self._restoring:
            for restoring in self._restoring:
                restoring.offer((packet, parts), target, offset)
        if log.isEnabledFor(logging.DEBUG):  # once per broadcast, not per recipient
            log.debug("broadcast %r on %s to %s%s: %d sockets", packet.data[0] if packet.data
                      else None, self.namespace.name, sorted(target.rooms) or "all",
                      f" except {sorted(target.except_rooms)}" if target.except_rooms else "",
                      sent)
        return sent

    async def pace(self, parts: Parts, target: BroadcastTarget | None = None) -> None:
        """After ``write``: let the writers run once a burst of broadcasts has queued enough;
        then wait for each socket ``target`` selects that is still over the high-water mark
        (one whose client stopped reading is dropped instead, see ``wait_for_drain``)."""
        global _queued_since_yield
        # Every recipient queues the same bytes, so a burst of broadcasts in a loop cannot push
        # a client far past the high-water mark while it has queued a quarter of it since the
        # last yield; past that, one scheduler pass lets the writers take it. Not yielding
        # before lets them find many frames at once and write them together.
        _queued_since_yield += sum(part.size for part in parts)
        if 4 * _queued_since_yield >= self.namespace.server.engine.max_buffered_bytes:
            _queued_since_yield = 0
            await trio.lowlevel.checkpoint()
            if target is not None:
                # A burst goes at the pace of the slowest client still reading: otherwise a
                # client reading more slowly than the burst is written falls ever further
                # behind, until it is dropped for its backlog, and memory grows meanwhile.
                # Each one behind is seen first, so that the stall timeouts of several that
                # stopped reading run together rather than one after another.
                behind = [s for s in self.local_sockets(target) if s.saturated()]
                for socket in behind:
                    await socket.wait_for_drain()

    async def broadcast_with_ack(
        self, packet: Packet, target: BroadcastTarget, acks: AckCollector
    ) -> None:
        """Send to each selected local socket with its own ack id and report each answer; a
        socket that times out (``target.timeout``) or disconnects is reported missed."""
        event, *args = packet.data
        sockets = self.local_sockets(target)
        acks.expect(len(sockets))

        async def gather(socket: LocalSocket) -> None:
            try:
                value = await socket.emit_with_ack(event, *args, timeout=target.timeout)
            except (TimeoutError, ConnectionError):
                acks.miss()
            else:
                acks.answer(value)

        async with trio.open_nursery() as nursery:
            for socket in sockets:
                nursery.start_soon(gather, socket)

    async def fetch_sockets(self, target: BroadcastTarget) -> list[FetchedSocket]:
        """The selected local sockets."""
        return list(self.local_sockets(target))

    def add_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        """Make every selected local socket join ``rooms``."""
        for socket in self.local_sockets(target):
            socket.join(*rooms)

    def del_sockets(self, target: BroadcastTarget, rooms: Sequence[str]) -> None:
        """Make every selected local socket leave ``rooms``."""
        for socket in self.local_sockets(target):
            for room in rooms:
                socket.leave(room)

    async def disconnect_sockets(self, target: BroadcastTarget, close: bool) -> None:
        """Disconnect every selected local socket."""
        for socket in self.local_sockets(target):
            await socket.disconnect(close)
