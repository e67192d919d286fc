"""Connection state recovery on the server (socket.io 4.6+ ``connectionStateRecovery``): its
options, and the in-memory adapter that keeps sessions and a bounded history of packets
(socket.io-adapter ``SessionAwareAdapter``). docs/recovery.md describes the feature.

The pure bookkeeping (sessions, offsets, the bounds, what a restore gives back) is
``protocol.PacketHistory``; this module adds the clock and the encoded packets.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import trio

from .adapter import Encoded, InMemoryAdapter, Parts, Restoring, prepare
from .protocol import (
    BroadcastTarget,
    Packet,
    PacketHistory,
    PacketType,
    Session,
)
from .protocol.recovery import ConnectionStateRecovery

if TYPE_CHECKING:
    from .interfaces import NamespaceLike

__all__ = ["SessionAwareAdapter"]

_EVENT = PacketType.EVENT


def recordable(packet: Packet, target: BroadcastTarget) -> bool:
    """Whether a broadcast gets an offset and is kept for recovering clients: an EVENT without
    an ack id, not volatile (socket.io-adapter ``addOffsetIfNecessary``)."""
    return packet.type is _EVENT and packet.id is None and not target.volatile


class SessionAwareAdapter(InMemoryAdapter):
    """The in-memory adapter with connection state recovery: each recordable broadcast gets
    its offset as a last argument and is kept in a bounded history, and the sessions of
    disconnected sockets wait there for their clients (socket.io-adapter
    ``SessionAwareAdapter``). ``Server(connection_state_recovery=...)`` picks it unless
    another adapter is given. ``local`` broadcasts are kept too, as in Node: on one server
    they reach every socket."""

    keeps_sessions = True

    def __init__(self, namespace: NamespaceLike) -> None:
        super().__init__(namespace)
        options = namespace.server.connection_state_recovery or ConnectionStateRecovery()
        self.history: PacketHistory[Encoded] = PacketHistory(
            secrets.token_urlsafe(6),
            max_disconnection_duration=options.max_disconnection_duration,
            max_packets=options.max_packets, max_bytes=options.max_bytes)

    def _prepare(self, packet: Packet, target: BroadcastTarget
                 ) -> tuple[Packet, Parts, str | None]:
        if not recordable(packet, target):
            return packet, prepare(packet, self.namespace.server.json), None
        offset = self.history.next_offset()
        packet = Packet(_EVENT, packet.namespace, [*packet.data, offset])
        parts = prepare(packet, self.namespace.server.json)
        self.history.record((packet, parts), sum(part.size for part in parts), target.rooms,
                            target.except_rooms)
        return packet, parts, offset

    async def broadcast(self, packet: Packet, target: BroadcastTarget) -> int:
        """Encode the packet once (with its offset when it is kept) and queue it for every
        selected socket."""
        packet, parts, offset = self._prepare(packet, target)
        sent = self.write(packet, parts, target, offset)
        await self.pace(parts)
        return sent

    def broadcast_nowait(self, packet: Packet, target: BroadcastTarget) -> None:
        """As ``broadcast``, without the pause a long burst of broadcasts takes."""
        packet, parts, offset = self._prepare(packet, target)
        self.write(packet, parts, target, offset)

    def persist_session(self, session: Session) -> None:
        """Keep ``session`` for ``max_disconnection_duration``."""
        self.history.persist(session, now=trio.current_time())

    async def restore_session(self, pid: str, offset: str) -> Restoring | None:
        """Take back the session ``pid`` with the kept packets meant for it after
        ``offset``; ``None`` when there is none, it expired, or packets after ``offset`` are
        no longer kept. Nothing here waits, so nothing is broadcast in between."""
        restored = self.history.restore(pid, offset, now=trio.current_time())
        if restored is None:
            return None
        return Restoring(self, restored.session, list(restored.missed))
