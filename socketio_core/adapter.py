"""Adapters: who is in which room, and how a broadcast reaches its sockets.

``Adapter`` is the interface a cluster adapter (Redis, later) implements; ``InMemoryAdapter``
serves one process. A broadcast hands the adapter the packet already encoded, so the same
bytes go to every recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .protocol import BroadcastTarget, RoomIndex

if TYPE_CHECKING:
    from .namespace import Namespace
    from .socket import Socket

__all__ = ["Adapter", "InMemoryAdapter"]


class Adapter:
    """The interface between a namespace and wherever its sockets live."""

    def __init__(self, namespace: Namespace) -> None:
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

    def broadcast(self, parts: Sequence[str | bytes], target: BroadcastTarget) -> int:
        """Send an encoded packet to every selected socket; returns how many it went to."""
        raise NotImplementedError

    def server_count(self) -> int:
        """How many servers share this namespace (1 without a cluster)."""
        return 1


class InMemoryAdapter(Adapter):
    """Rooms and broadcasts within one process."""

    def __init__(self, namespace: Namespace) -> None:
        super().__init__(namespace)
        self.rooms = RoomIndex()

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
        return list(self.rooms.select(target.rooms, target.except_rooms))

    def broadcast(self, parts: Sequence[str | bytes], target: BroadcastTarget) -> int:
        sent = 0
        sockets = self.namespace.sockets
        for sid in self.select(target):
            socket: Socket | None = sockets.get(sid)
            if socket is not None and socket._write_encoded(parts, volatile=target.volatile):
                sent += 1
        return sent
