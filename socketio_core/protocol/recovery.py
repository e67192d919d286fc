"""Connection state recovery's bookkeeping on one server, as pure data (socket.io 4.6+
``connectionStateRecovery``; socket.io-adapter ``SessionAwareAdapter``).

A socket that leaves for a recoverable reason (``RECOVERABLE_REASONS``) leaves a ``Session``
behind: its id, its private id (``pid``), its rooms and its ``data``. Every event broadcast
without an ack and not volatile gets an *offset* appended as its last argument and is kept in
a history; a client that comes back within ``max_disconnection_duration`` with its ``pid`` and
the offset of the last event it received gets its session back and every kept event after that
offset that was meant for it (socket.io ``Namespace._createSocket``, ``Socket`` constructor).

Where this differs from Node's in-memory adapter, on purpose:

- The history is bounded by a packet count and a byte size (Node keeps every packet for
  ``max_disconnection_duration``, however many). A session can be restored while every packet
  broadcast after the client's offset is still kept; once one of them has been dropped the
  client may have missed it, so the restore fails (a fresh socket), rather than replay with a
  hole. The offset's own packet need not be kept: a client whose last packet was dropped but
  that missed nothing after it still recovers (Node then fails, as after a quiet period).
- A session is restored once: restoring takes it (Node's in-memory adapter leaves it in place,
  so two clients presenting the same ``pid`` would both get the same socket id).

Offsets are ``"<tag>.<n>"``: a tag the runtime draws once per history, then a counter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

__all__ = [
    "DEFAULT_HISTORY_MAX_BYTES",
    "DEFAULT_HISTORY_MAX_PACKETS",
    "DEFAULT_MAX_DISCONNECTION_DURATION",
    "ConnectionStateRecovery",
    "PacketHistory",
    "RestoredSession",
    "Session",
    "recovery_options",
    "session_includes",
]

#: Node's ``maxDisconnectionDuration`` default (2 minutes), in seconds.
DEFAULT_MAX_DISCONNECTION_DURATION = 120.0
#: How many broadcast packets a namespace keeps for recovering clients.
DEFAULT_HISTORY_MAX_PACKETS = 10_000
#: How many bytes of encoded packets a namespace keeps for recovering clients.
DEFAULT_HISTORY_MAX_BYTES = 8 * 1024 * 1024

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class ConnectionStateRecovery:
    """The options of connection state recovery (Node's ``connectionStateRecovery``, in
    seconds).

    Attributes:
        max_disconnection_duration: how long a disconnected socket's session (id, rooms,
            ``data``) waits for its client (Node: 2 minutes).
        skip_middlewares: skip the namespace's middlewares for a socket that was recovered
            (Node's default: ``True``).
        max_packets: the in-memory adapter keeps at most this many of a namespace's packets for
            recovering clients (ours; Node keeps every packet of the last
            ``max_disconnection_duration``).
        max_bytes: and at most this many bytes of them, encoded (ours).
    """

    max_disconnection_duration: float = DEFAULT_MAX_DISCONNECTION_DURATION
    skip_middlewares: bool = True
    max_packets: int = DEFAULT_HISTORY_MAX_PACKETS
    max_bytes: int = DEFAULT_HISTORY_MAX_BYTES

    def __post_init__(self) -> None:
        if self.max_disconnection_duration < 0 or self.max_packets < 0 or self.max_bytes < 0:
            raise ValueError("connection_state_recovery: the durations and bounds must not be "
                             "negative")


def recovery_options(
    value: bool | Mapping[str, Any] | ConnectionStateRecovery | None,
) -> ConnectionStateRecovery | None:
    """``Server(connection_state_recovery=...)``: ``True`` or ``{}`` for the defaults (as
    Node's ``connectionStateRecovery: {}``), a mapping of the option names, the options
    themselves; ``None`` or ``False`` for off.

    Raises:
        TypeError: an unknown option name or another kind of value.
    """
    if value is None or value is False:
        return None
    if value is True:
        return ConnectionStateRecovery()
    if isinstance(value, ConnectionStateRecovery):
        return value
    if isinstance(value, Mapping):
        known = {field.name for field in fields(ConnectionStateRecovery)}
        unknown = set(value) - known
        if unknown:
            raise TypeError(f"connection_state_recovery: unknown option {sorted(unknown)[0]!r}"
                            f" (known: {', '.join(sorted(known))})")
        return ConnectionStateRecovery(**value)
    raise TypeError("connection_state_recovery takes True, a mapping of its options or a "
                    "ConnectionStateRecovery")


@dataclass(frozen=True, slots=True)
class Session:
    """What a socket leaves behind for its client to recover (Node's ``SessionToPersist``).

    Attributes:
        sid: the socket id the client gets back.
        pid: the private session id the client presents (sent only to that client).
        rooms: the socket's rooms, its own id among them.
        data: the socket's ``data``.
    """

    sid: str
    pid: str
    rooms: tuple[str, ...]
    data: Any


@dataclass(frozen=True, slots=True)
class RestoredSession(Generic[P]):
    """A session taken back, with the kept packets its client missed, oldest first."""

    session: Session
    missed: tuple[P, ...]


def session_includes(session_rooms: Iterable[str], rooms: Iterable[str],
                     except_rooms: Iterable[str]) -> bool:
    """Whether a broadcast to ``rooms`` minus ``except_rooms`` was meant for a socket in
    ``session_rooms`` (socket.io-adapter ``shouldIncludePacket``): ``rooms`` empty or sharing
    a room with it, and none of its rooms excepted."""
    mine = set(session_rooms)
    rooms = frozenset(rooms)
    return (not rooms or not mine.isdisjoint(rooms)) and mine.isdisjoint(except_rooms)


@dataclass(slots=True)
class _Entry(Generic[P]):
    seq: int
    rooms: frozenset[str]
    except_rooms: frozenset[str]
    payload: P
    size: int


class PacketHistory(Generic[P]):
    """The sessions of disconnected sockets and the recent broadcasts of one namespace.

    Packets are opaque here (``P``, the runtime's encoded packet) with the size the byte bound
    counts. Time comes in as ``now`` (seconds, any monotonic clock).

    Args:
        tag: the prefix of this history's offsets (the runtime draws it at random, so that an
            offset of another history, or another run, is not mistaken for one of this).
        max_disconnection_duration: seconds a session stays restorable.
        max_packets: packets kept at most.
        max_bytes: bytes of packets kept at most (the newest packet is dropped too when it
            alone is larger).
    """

    def __init__(
        self,
        tag: str,
        *,
        max_disconnection_duration: float = DEFAULT_MAX_DISCONNECTION_DURATION,
        max_packets: int = DEFAULT_HISTORY_MAX_PACKETS,
        max_bytes: int = DEFAULT_HISTORY_MAX_BYTES,
    ) -> None:
        if "." in tag:
            raise ValueError("an offset tag may not contain '.'")
        if max_packets < 0 or max_bytes < 0 or max_disconnection_duration < 0:
            raise ValueError("the history's bounds must not be negative")
        self.tag = tag
        self.max_disconnection_duration = max_disconnection_duration
        self.max_packets = max_packets
        self.max_bytes = max_bytes
        self._entries: deque[_Entry[P]] = deque()
        self._bytes = 0
        self._next = 1
        self._dropped_through = 0  # every packet numbered up to this one is gone
        # pid -> (session, disconnected at), oldest first: ``now`` never goes back.
        self._sessions: dict[str, tuple[Session, float]] = {}

    def __len__(self) -> int:
        """How many packets are kept."""
        return len(self._entries)

    @property
    def size(self) -> int:
        """How many bytes of packets are kept."""
        return self._bytes

    @property
    def sessions(self) -> int:
        """How many sessions wait for their client (expired ones may still be counted until
        the next ``persist`` or ``restore``)."""
        return len(self._sessions)

    def next_offset(self) -> str:
        """The offset the next ``record`` gives its packet (to put inside it first)."""
        return f"{self.tag}.{self._next}"

    def record(self, payload: P, size: int, rooms: Iterable[str] = (),
               except_rooms: Iterable[str] = ()) -> str:
        """Keep a packet broadcast to ``rooms`` minus ``except_rooms``, under the offset
        ``next_offset()`` gave; returns that offset. The oldest packets go past the bounds."""
        offset = self.next_offset()
        self._entries.append(_Entry(self._next, frozenset(rooms), frozenset(except_rooms),
                                    payload, size))
        self._next += 1
        self._bytes += size
        while self._entries and (len(self._entries) > self.max_packets
                                 or self._bytes > self.max_bytes):
            dropped = self._entries.popleft()
            self._bytes -= dropped.size
            self._dropped_through = dropped.seq
        return offset

    def persist(self, session: Session, *, now: float) -> None:
        """Keep ``session`` for its client until ``now + max_disconnection_duration``."""
        self._expire(now)
        self._sessions.pop(session.pid, None)
        self._sessions[session.pid] = (session, now)

    def restore(self, pid: str, offset: str, *, now: float) -> RestoredSession[P] | None:
        """Take the session ``pid`` with the packets meant for it after ``offset``; ``None``
        when there is no such session, it has expired, or ``offset`` is not one of this
        history's or packets after it are gone. The session is taken either way, as the
        streams adapter's GETDEL takes it: its client starts afresh with a new ``pid``."""
        self._expire(now)
        found = self._sessions.pop(pid, None)
        seq = self._parse(offset)
        if found is None or seq is None or seq < self._dropped_through:
            return None
        session, _ = found
        rooms = session.rooms
        missed = tuple(entry.payload for entry in self._entries
                       if entry.seq > seq and session_includes(rooms, entry.rooms,
                                                               entry.except_rooms))
        return RestoredSession(session, missed)

    def _parse(self, offset: str) -> int | None:
        tag, dot, number = offset.rpartition(".")
        if not dot or tag != self.tag or not (number.isascii() and number.isdigit()):
            return None
        seq = int(number)
        return seq if 0 < seq < self._next else None

    def _expire(self, now: float) -> None:
        limit = now - self.max_disconnection_duration
        while self._sessions:
            pid, (_, at) = next(iter(self._sessions.items()))
            if at >= limit:  # Node: expired once disconnectedAt + max < now
                return
            del self._sessions[pid]
