"""The ``ClusterAdapter`` messages of socket.io-adapter 2.5, as the sharded Redis adapter and
the streams adapter carry them (shared/cluster-wire.md §3 and §4), as pure functions.

A message is ``{type, data, uid, nsp}``. The sharded adapter writes it as JSON, or as notepack
when its type may carry binary and its data does; the streams adapter publishes it whole as
msgpack, and writes a stream entry as the fields ``uid``, ``nsp``, ``type`` (decimal text) and
``data`` (JSON text, or base64 of msgpack for binary).

With connection state recovery, the streams adapter also stores sessions, as base64 of msgpack
``{sid, pid, rooms, data}``, and the ids of stream entries are the offsets clients present
(shared/cluster-wire.md §4).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ..protocol import BroadcastTarget, Session
from .codec import CodecError, decode_auto, has_binary, json_dumps, json_loads, pack, unpack
from .wire import decode_event_data, decode_opts, optional_str, require_dict, require_str

__all__ = [
    "ClusterMessage",
    "MessageType",
    "decode_entry",
    "decode_message",
    "decode_session",
    "decode_sharded",
    "decode_streams",
    "encode_entry",
    "encode_session",
    "encode_sharded",
    "encode_streams",
    "entry_after",
    "message",
    "next_entry_id",
    "stream_offset",
]


class MessageType(IntEnum):
    """socket.io-adapter ``MessageType``."""

    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


#: The types whose data may hold binary (RA-sh and RSA ``encode``).
_MAY_HOLD_BINARY = frozenset({MessageType.BROADCAST, MessageType.BROADCAST_ACK,
                              MessageType.FETCH_SOCKETS_RESPONSE, MessageType.SERVER_SIDE_EMIT,
                              MessageType.SERVER_SIDE_EMIT_RESPONSE})


def message(kind: MessageType, data: dict[str, Any] | None, uid: str, nsp: str
            ) -> dict[str, Any]:
    """``{type, data, uid, nsp}`` in Node's key order (``data`` left out when there is none)."""
    built: dict[str, Any] = {"type": int(kind)}
    if data is not None:
        built["data"] = data
    built["uid"] = uid
    built["nsp"] = nsp
    return built


def encode_sharded(built: dict[str, Any]) -> bytes:
    """JSON, or notepack when the type may hold binary and the data does (RA-sh ``encode``)."""
    if built["type"] in _MAY_HOLD_BINARY and has_binary(built.get("data")):
        return pack(built)
    return json_dumps(built)


def encode_streams(built: dict[str, Any]) -> bytes:
    """The streams adapter's pub/sub payload: the whole message as msgpack (RSA ``doPublish``)."""
    return pack(built)


def encode_entry(built: dict[str, Any], *, plaintext: bool = False) -> dict[str, bytes]:
    """The fields of a stream entry (RSA ``encode``), in XADD order; ``plaintext`` writes
    binary data as JSON too (Node's ``onlyPlaintext``)."""
    fields = {"uid": built["uid"].encode(), "nsp": built["nsp"].encode(),
              "type": str(built["type"]).encode()}
    data = built.get("data")
    if data is not None:
        if not plaintext and built["type"] in _MAY_HOLD_BINARY and has_binary(data):
            fields["data"] = base64.b64encode(pack(data))
        else:
            fields["data"] = json_dumps(data)
    return fields


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    """A checked message. What each type carries: ``target`` (3-7), ``packet`` (the event data
    of 3 and 9), ``request_id`` (3 with ack, 7-12), ``rooms`` (4, 5), ``close`` (6),
    ``values`` (8: socket details; 10, 12: the ack value, empty when left out; 11: the count),
    ``packet_id`` (3: whether the packet carried an ack id, which a node with connection state
    recovery sends for ``socket.emit`` with an ack: such a packet gets no offset)."""

    type: int
    uid: str
    nsp: str
    request_id: str | None = None
    target: BroadcastTarget | None = None
    packet: list[Any] | None = None
    rooms: tuple[str, ...] = ()
    close: bool = False
    values: tuple[Any, ...] = ()
    packet_id: bool = False


def _rooms(data: dict[str, Any]) -> tuple[str, ...]:
    rooms = data.get("rooms")
    if not isinstance(rooms, list) or not all(isinstance(room, str) for room in rooms):
        raise CodecError("invalid cluster message", "rooms is not an array of strings")
    return tuple(rooms)


def decode_message(value: Any) -> ClusterMessage:
    """Check a decoded ``{type, data, uid, nsp}`` (CA ``onMessage``/``onResponse``)."""
    raw = require_dict(value, "cluster message")
    kind = raw.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool) or not 1 <= kind <= 13:
        raise CodecError("unknown cluster message type", repr(kind)[:40])
    uid = require_str(raw, "uid", "cluster message")
    nsp = require_str(raw, "nsp", "cluster message")
    if kind in (MessageType.INITIAL_HEARTBEAT, MessageType.HEARTBEAT,
                MessageType.ADAPTER_CLOSE):
        return ClusterMessage(kind, uid, nsp)
    data = require_dict(raw.get("data"), "cluster message")
    request_id = optional_str(data, "requestId", "cluster message")
    if kind not in (MessageType.BROADCAST, MessageType.SOCKETS_JOIN, MessageType.SOCKETS_LEAVE,
                    MessageType.DISCONNECT_SOCKETS, MessageType.SERVER_SIDE_EMIT
                    ) and request_id is None:
        raise CodecError("invalid cluster message", "requestId is missing")
    if kind == MessageType.BROADCAST:
        packet = data.get("packet")
        return ClusterMessage(kind, uid, nsp, request_id, decode_opts(data.get("opts")),
                              decode_event_data(packet),
                              packet_id=isinstance(packet, dict) and "id" in packet)
    if kind in (MessageType.SOCKETS_JOIN, MessageType.SOCKETS_LEAVE):
        return ClusterMessage(kind, uid, nsp, target=decode_opts(data.get("opts")),
                              rooms=_rooms(data))
    if kind == MessageType.DISCONNECT_SOCKETS:
        return ClusterMessage(kind, uid, nsp, target=decode_opts(data.get("opts")),
                              close=data.get("close") is True)
    if kind == MessageType.FETCH_SOCKETS:
        return ClusterMessage(kind, uid, nsp, request_id, decode_opts(data.get("opts")))
    if kind == MessageType.SERVER_SIDE_EMIT:
        packet = data.get("packet")
        if not isinstance(packet, list) or not packet or not isinstance(packet[0], str):
            raise CodecError("invalid cluster message", "server-side emit without an event")
        return ClusterMessage(kind, uid, nsp, request_id, packet=packet)
    if kind == MessageType.FETCH_SOCKETS_RESPONSE:
        sockets = data.get("sockets")
        if not isinstance(sockets, list):
            raise CodecError("invalid cluster message", "sockets is not an array")
        return ClusterMessage(kind, uid, nsp, request_id, values=tuple(sockets))
    if kind == MessageType.BROADCAST_CLIENT_COUNT:
        count = data.get("clientCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise CodecError("invalid cluster message", "clientCount is not a count")
        return ClusterMessage(kind, uid, nsp, request_id, values=(count,))
    # SERVER_SIDE_EMIT_RESPONSE, BROADCAST_ACK
    return ClusterMessage(kind, uid, nsp, request_id,
                          values=(data["packet"],) if "packet" in data else ())


def decode_sharded(raw: bytes) -> ClusterMessage:
    """A sharded-channel payload: JSON or notepack by its first byte (RA-sh ``onRawMessage``)."""
    return decode_message(decode_auto(raw))


def decode_entry(fields: dict[bytes, bytes] | dict[str, str]) -> ClusterMessage:
    """A stream entry (RSA ``decode``): ``type`` parsed as decimal, ``data`` JSON when it
    starts with ``{``, else base64 msgpack."""
    text: dict[str, bytes] = {}
    for key, item in fields.items():
        text[key.decode() if isinstance(key, bytes) else key] = (
            item if isinstance(item, bytes) else item.encode())
    kind_text = text.get("type", b"")
    if not kind_text.isdigit() or len(kind_text) > 3:
        raise CodecError("unknown cluster message type", repr(kind_text)[:40])
    try:
        uid, nsp = text["uid"].decode(), text["nsp"].decode()
    except (KeyError, UnicodeDecodeError):
        raise CodecError("invalid stream entry", "uid or nsp missing") from None
    built: dict[str, Any] = {"type": int(kind_text), "uid": uid, "nsp": nsp}
    data = text.get("data")
    if data:
        if data[:1] == b"{":
            built["data"] = json_loads(data)
        else:
            try:
                built["data"] = unpack(base64.b64decode(data, validate=True))
            except (binascii.Error, ValueError) as error:
                if isinstance(error, CodecError):
                    raise
                raise CodecError("invalid stream entry", "data is not base64") from None
    return decode_message(built)


def decode_streams(raw: bytes) -> ClusterMessage:
    """A streams-adapter pub/sub payload: the whole message as msgpack (RSA subscriber)."""
    return decode_message(unpack(raw))


_ENTRY_ID = re.compile(r"[0-9]+-[0-9]+")


def stream_offset(offset: str) -> tuple[int, int] | None:
    """A stream entry id ``"<ms>-<seq>"`` as numbers, or ``None`` for anything else (RSA
    ``restoreSession`` refuses an offset not matching ``^[0-9]+-[0-9]+$``)."""
    if not _ENTRY_ID.fullmatch(offset):
        return None
    ms, seq = offset.split("-")
    return int(ms), int(seq)


def next_entry_id(offset: str) -> str:
    """The smallest entry id after ``offset`` (RSA ``nextOffset``: the sequence plus one, for
    an ``XRANGE`` that leaves ``offset`` out)."""
    ms, seq = offset.split("-")
    return f"{ms}-{int(seq) + 1}"


def entry_after(offset: str, other: str) -> bool:
    """Whether the entry id ``offset`` comes after ``other`` in the stream."""
    a, b = stream_offset(offset), stream_offset(other)
    return a is not None and b is not None and a > b


def encode_session(session: Session) -> bytes:
    """A session as the streams adapter stores it (RSA ``persistSession``): base64 of msgpack
    ``{sid, pid, rooms, data}``, in that key order.

    Raises:
        CodecError: ``data`` holds something msgpack cannot carry.
    """
    return base64.b64encode(pack({"sid": session.sid, "pid": session.pid,
                                  "rooms": list(session.rooms), "data": session.data}))


def decode_session(raw: bytes) -> Session:
    """A stored session (RSA ``restoreSession``): its id, private id, rooms and data.

    Raises:
        CodecError: not base64 of a msgpack map with ``sid``, ``pid`` and ``rooms`` (strings,
            and an array of strings).
    """
    try:
        value = unpack(base64.b64decode(raw, validate=True))
    except binascii.Error:
        raise CodecError("invalid session", "not base64") from None
    stored = require_dict(value, "session")
    sid = require_str(stored, "sid", "session")
    pid = require_str(stored, "pid", "session")
    rooms = stored.get("rooms")
    if not isinstance(rooms, list) or not all(isinstance(room, str) for room in rooms):
        raise CodecError("invalid session", "rooms is not an array of strings")
    return Session(sid, pid, tuple(rooms), stored.get("data"))
