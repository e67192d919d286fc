"""Rooms and broadcast selections (socket.io-adapter ``InMemoryAdapter``; socket.io
``BroadcastOperator``).

``RoomIndex`` keeps the two maps Node keeps, room → sids and sid → rooms, in step: a room
exists while it has a member. A socket's first ``join`` also puts it in the room named by its
own id (Node's ``socket.join(socket.id)`` on connect); like Node, it may ``leave`` that room.

``BroadcastTarget`` is an immutable selection: each method returns a new one, as each of
Node's ``to``/``in``/``except``/``volatile``/``compress``/``local``/``timeout`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

__all__ = ["BroadcastTarget", "RoomIndex", "Rooms", "flatten_rooms"]

Rooms = str | Iterable[str]
"""A room name, or several (Node's ``Room | Room[]``)."""


def flatten_rooms(*rooms: Rooms) -> tuple[str, ...]:
    """The room names of ``rooms`` (each a name or an iterable of names), in order, once each:
    ``flatten_rooms("a", ["b", "a"])`` is ``("a", "b")``."""
    out: dict[str, None] = {}
    for item in rooms:
        if isinstance(item, str):
            out[item] = None
        else:
            out.update(dict.fromkeys(item))
    return tuple(out)


def _flatten(rooms: tuple[Rooms, ...]) -> frozenset[str]:
    if len(rooms) == 1 and type(rooms[0]) is str:  # ``to(room)``: once per broadcast
        return frozenset(rooms)  # type: ignore[arg-type]
    return frozenset(flatten_rooms(*rooms))


class RoomIndex:
    """Who is in which room, both ways round."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, None]] = {}
        self._sids: dict[str, dict[str, None]] = {}

    def __contains__(self, sid: object) -> bool:
        return sid in self._sids

    def __len__(self) -> int:
        return len(self._sids)

    def join(self, sid: str, *rooms: str) -> None:
        """Put ``sid`` in each of ``rooms`` (a new sid is first put in its own room)."""
        if sid not in self._sids:
            self._sids[sid] = {}
            self._rooms.setdefault(sid, {})[sid] = None
            self._sids[sid][sid] = None
        for room in rooms:
            self._sids[sid][room] = None
            self._rooms.setdefault(room, {})[sid] = None

    def leave(self, sid: str, room: str) -> None:
        """Take ``sid`` out of ``room`` (nothing if it was not there); an emptied room goes."""
        self._sids.get(sid, {}).pop(room, None)
        members = self._rooms.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del self._rooms[room]

    def leave_all(self, sid: str) -> None:
        """Forget ``sid``: out of every room, its own included."""
        for room in self._sids.pop(sid, {}):
            members = self._rooms[room]
            del members[sid]
            if not members:
                del self._rooms[room]

    def has_room(self, room: str) -> bool:
        """Whether ``room`` has a member."""
        return room in self._rooms

    def rooms_of(self, sid: str) -> frozenset[str]:
        """The rooms ``sid`` is in (empty for an unknown sid)."""
        return frozenset(self._sids.get(sid, ()))

    def sids_in(self, room: str) -> frozenset[str]:
        """The sids in ``room`` (empty for a room that does not exist)."""
        return frozenset(self._rooms.get(room, ()))

    def rooms(self) -> frozenset[str]:
        """Every room that has a member (each socket's own room included)."""
        return frozenset(self._rooms)

    def sids(self) -> list[str]:
        """Every sid, in the order they were added."""
        return list(self._sids)

    def select(self, rooms: Iterable[str] = (), except_rooms: Iterable[str] = ()) -> list[str]:
        """The sids in any of ``rooms`` (every sid when ``rooms`` is empty), minus those in any
        of ``except_rooms``; each once, in room then join order (socket.io-adapter
        ``apply``)."""
        excluded: set[str] = set()
        for room in except_rooms:
            excluded.update(self._rooms.get(room, ()))
        rooms = list(rooms)
        if not rooms:
            return [sid for sid in self._sids if sid not in excluded]
        if len(rooms) == 1 and not excluded:  # the common broadcast: one room's members
            return list(self._rooms.get(rooms[0], ()))
        selected: dict[str, None] = {}
        for room in rooms:
            for sid in self._rooms.get(room, ()):
                if sid not in excluded:
                    selected[sid] = None
        return list(selected)


@dataclass(frozen=True, slots=True)
class BroadcastTarget:
    """Which sockets a broadcast reaches, and how (Node's ``BroadcastOperator`` state).

    Attributes:
        rooms: sockets in any of these (all sockets when empty).
        except_rooms: minus the sockets in any of these.
        volatile: drop the packet for clients not ready to take it.
        compress: allow compression (Node's default: ``True``).
        local: only this node's sockets, with a cluster adapter.
        timeout: seconds to wait for every ack, for an emit with ack.
        expect_single_response: the selection is one socket whose single answer is awaited
            (Node's flag of the same name, set on a ``RemoteSocket``'s operations).
    """

    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    volatile: bool = False
    compress: bool = True
    local: bool = False
    timeout: float | None = None
    expect_single_response: bool = False

    def to(self, *rooms: Rooms) -> BroadcastTarget:
        """Also target ``rooms`` (each argument a room name or an iterable of names)."""
        added = _flatten(rooms)
        return self._with_rooms(self.rooms | added if self.rooms else added, self.except_rooms)

    in_ = to

    def except_(self, *rooms: Rooms) -> BroadcastTarget:
        """Leave out the sockets in ``rooms``."""
        return self._with_rooms(self.rooms, self.except_rooms | _flatten(rooms))

    def _with_rooms(self, rooms: frozenset[str], except_rooms: frozenset[str]) -> BroadcastTarget:
        # Built directly rather than with ``dataclasses.replace`` (which looks the fields up
        # each time): ``server.to(room)`` comes once per broadcast.
        return BroadcastTarget(rooms, except_rooms, self.volatile, self.compress, self.local,
                               self.timeout, self.expect_single_response)

    def with_volatile(self, volatile: bool = True) -> BroadcastTarget:
        """A copy with ``volatile`` set."""
        return replace(self, volatile=volatile)

    def with_compress(self, compress: bool) -> BroadcastTarget:
        """A copy with ``compress`` set."""
        return replace(self, compress=compress)

    def with_local(self, local: bool = True) -> BroadcastTarget:
        """A copy with ``local`` set."""
        return replace(self, local=local)

    def with_timeout(self, timeout: float | None) -> BroadcastTarget:
        """A copy with ``timeout`` set."""
        return replace(self, timeout=timeout)
