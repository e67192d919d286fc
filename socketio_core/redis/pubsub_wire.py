"""The wire format of ``@socket.io/redis-adapter`` 8.3 ``createAdapter`` and of
``@socket.io/redis-emitter`` 5.1 (shared/cluster-wire.md §2 and §6), as pure functions.

Broadcasts are notepack ``[uid, packet, opts]`` on ``{key}#{nsp}#`` (or ``{key}#{nsp}#{room}#``
for exactly one room). Requests go to ``{key}-request#{nsp}#`` as JSON, except a broadcast with
ack (type 7), which is msgpack; responses go to ``{key}-response#{nsp}#`` (or the requester's
own ``{key}-response#{nsp}#{uid}#``), JSON except a client's ack (type 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from ..protocol import BroadcastTarget
from .codec import CodecError, decode_auto, json_dumps, pack, unpack
from .wire import (
    decode_event_data,
    decode_opts,
    encode_opts,
    optional_str,
    require_dict,
    require_str,
)

__all__ = [
    "EMITTER_UID",
    "Broadcast",
    "Channels",
    "Request",
    "RequestType",
    "Response",
    "decode_broadcast",
    "decode_request",
    "decode_response",
    "encode_broadcast",
]

#: The uid the emitter writes in its messages (EM ``UID``).
EMITTER_UID = "emitter"


class RequestType(IntEnum):
    """RA ``RequestType``."""

    SOCKETS = 0
    ALL_ROOMS = 1
    REMOTE_JOIN = 2
    REMOTE_LEAVE = 3
    REMOTE_DISCONNECT = 4
    REMOTE_FETCH = 5
    SERVER_SIDE_EMIT = 6
    BROADCAST = 7
    BROADCAST_CLIENT_COUNT = 8
    BROADCAST_ACK = 9


@dataclass(frozen=True, slots=True)
class Channels:
    """The channel names of one namespace under ``key``."""

    key: str
    nsp: str

    @property
    def broadcast(self) -> str:
        """``{key}#{nsp}#``: broadcasts to all or to several rooms."""
        return f"{self.key}#{self.nsp}#"

    @property
    def pattern(self) -> str:
        """``{key}#{nsp}#*``: every broadcast channel of the namespace."""
        return f"{self.key}#{self.nsp}#*"

    @property
    def request(self) -> str:
        """``{key}-request#{nsp}#``: requests; counts the servers."""
        return f"{self.key}-request#{self.nsp}#"

    @property
    def response(self) -> str:
        """``{key}-response#{nsp}#``: responses."""
        return f"{self.key}-response#{self.nsp}#"

    def specific_response(self, uid: str) -> str:
        """``{key}-response#{nsp}#{uid}#``: responses to the node ``uid``."""
        return f"{self.key}-response#{self.nsp}#{uid}#"

    def broadcast_to(self, target: BroadcastTarget) -> str:
        """Where a broadcast to ``target`` is published: the room's own channel for exactly one
        room (RA ``broadcast``)."""
        if len(target.rooms) == 1:
            (room,) = target.rooms
            return f"{self.key}#{self.nsp}#{room}#"
        return self.broadcast


def encode_broadcast(uid: str, nsp: str, data: list[Any], target: BroadcastTarget,
                     *, emitter: bool = False) -> bytes:
    """``[uid, {type: 2, data, nsp}, opts]`` in notepack; the emitter writes its options in
    the order rooms, flags, except."""
    opts = encode_opts(target)
    if emitter:
        opts = {"rooms": opts["rooms"], "flags": opts["flags"], "except": opts["except"]}
    return pack([uid, {"type": 2, "data": data, "nsp": nsp}, opts])


@dataclass(frozen=True, slots=True)
class Broadcast:
    uid: str
    nsp: str
    data: list[Any]
    target: BroadcastTarget


def decode_broadcast(raw: bytes) -> Broadcast:
    """A message of the broadcast channels (RA ``onmessage``; a missing ``nsp`` is ``/``)."""
    message = unpack(raw)
    if not isinstance(message, list) or len(message) < 3:
        raise CodecError("invalid broadcast", "not an array [uid, packet, opts]")
    uid, packet, opts = message[:3]
    if not isinstance(uid, str):
        raise CodecError("invalid broadcast", "uid is not a string")
    packet = require_dict(packet, "broadcast")
    nsp = packet.get("nsp", "/")
    if not isinstance(nsp, str):
        raise CodecError("invalid broadcast", "nsp is not a string")
    return Broadcast(uid, nsp, decode_event_data(packet, "broadcast"),
                     decode_opts(opts, "broadcast"))


def encode_json(message: dict[str, Any]) -> bytes:
    """A request or response that Node writes with ``JSON.stringify``."""
    return json_dumps(message)


def encode_msgpack(message: dict[str, Any]) -> bytes:
    """A request or response that Node writes with notepack (types 7 and 9)."""
    return pack(message)


@dataclass(frozen=True, slots=True)
class Request:
    """A message of the request channel, the fields its type uses checked."""

    type: int
    uid: str | None
    request_id: str | None
    target: BroadcastTarget | None = None
    rooms: tuple[str, ...] = ()
    close: bool = False
    data: list[Any] | None = None
    sid: str | None = None


def _room_list(message: dict[str, Any], key: str) -> tuple[str, ...]:
    value = message.get(key)
    if not isinstance(value, list) or not all(isinstance(room, str) for room in value):
        raise CodecError("invalid request", f"{key} is not an array of strings")
    return tuple(value)


def decode_request(raw: bytes) -> Request:
    """A request (RA ``onrequest``). Unknown types are refused; the legacy single-socket forms
    of types 2-4 (``sid`` instead of ``opts``) are read, as 8.x still answers them."""
    message = require_dict(decode_auto(raw), "request")
    kind = message.get("type")
    if not isinstance(kind, int) or isinstance(kind, bool) or not 0 <= kind <= 7:
        raise CodecError("unknown request type", repr(kind)[:40])
    uid = optional_str(message, "uid", "request")
    request_id = optional_str(message, "requestId", "request")
    if kind in (RequestType.SOCKETS, RequestType.ALL_ROOMS, RequestType.REMOTE_FETCH,
                RequestType.BROADCAST) and request_id is None:
        raise CodecError("invalid request", "requestId is missing")
    if kind == RequestType.SOCKETS:
        return Request(kind, uid, request_id, rooms=_room_list(message, "rooms"))
    if kind == RequestType.ALL_ROOMS:
        return Request(kind, uid, request_id)
    if kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE,
                RequestType.REMOTE_DISCONNECT):
        close = message.get("close") is True
        if "opts" not in message:  # the legacy form, for one socket
            sid = require_str(message, "sid", "request")
            room = message.get("room")
            rooms: tuple[str, ...] = (room,) if isinstance(room, str) else ()
            return Request(kind, uid, request_id, rooms=rooms, close=close, sid=sid)
        target = decode_opts(message["opts"], "request")
        rooms = () if kind == RequestType.REMOTE_DISCONNECT else _room_list(message, "rooms")
        return Request(kind, uid, request_id, target=target, rooms=rooms, close=close)
    if kind == RequestType.REMOTE_FETCH:
        return Request(kind, uid, request_id, target=decode_opts(message.get("opts"), "request"))
    if kind == RequestType.SERVER_SIDE_EMIT:
        data = message.get("data")
        if not isinstance(data, list) or not data or not isinstance(data[0], str):
            raise CodecError("invalid request", "server-side emit without an event name")
        return Request(kind, uid, request_id, data=data)
    target = decode_opts(message.get("opts"), "request")
    return Request(kind, uid, request_id, target=target,
                   data=decode_event_data(message.get("packet"), "request"))


@dataclass(frozen=True, slots=True)
class Response:
    """A message of a response channel. ``values`` holds what its kind carries: the socket
    ids, rooms or socket details of an answer, the server-side ack's or client's ack value
    (empty when Node left it out), or the client count."""

    type: int | None
    request_id: str
    values: tuple[Any, ...]


def decode_response(raw: bytes) -> Response:
    """A response (RA ``onresponse``): typed ones (6, 8, 9) by their type, untyped ones by
    their key (``sockets`` or ``rooms``)."""
    message = require_dict(decode_auto(raw), "response")
    request_id = require_str(message, "requestId", "response")
    kind = message.get("type")
    if kind == RequestType.SERVER_SIDE_EMIT:
        return Response(kind, request_id, (message["data"],) if "data" in message else ())
    if kind == RequestType.BROADCAST_CLIENT_COUNT:
        count = message.get("clientCount")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise CodecError("invalid response", "clientCount is not a count")
        return Response(kind, request_id, (count,))
    if kind == RequestType.BROADCAST_ACK:
        return Response(kind, request_id, (message["packet"],) if "packet" in message else ())
    if kind is not None:
        raise CodecError("unknown response type", repr(kind)[:40])
    for key in ("sockets", "rooms"):
        if isinstance(message.get(key), list):
            return Response(None, request_id, tuple(message[key]))
    return Response(None, request_id, ())
