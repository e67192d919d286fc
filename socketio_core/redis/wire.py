"""The parts every Redis adapter message shares (shared/cluster-wire.md §1), as pure functions:
broadcast options, the EVENT packet, and the details of a socket in a fetch answer.

Builders write keys in the order Node writes them, and leave absent values out (Node reads a
``null`` key as present). Readers check every field they use and raise ``CodecError`` for
anything else, so a foreign or truncated message is dropped, never half-applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..protocol import BroadcastTarget, jsjson
from .codec import CodecError

__all__ = [
    "SocketDetails",
    "decode_details",
    "decode_event_data",
    "decode_opts",
    "encode_details",
    "encode_opts",
    "optional_str",
    "require_dict",
    "require_str",
]


def require_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is an object, else ``CodecError``."""
    if not isinstance(value, dict):
        raise CodecError(f"invalid {what}", f"expected an object, got {type(value).__name__}")
    return value


def require_str(message: dict[str, Any], key: str, what: str) -> str:
    """``message[key]`` if it is a string, else ``CodecError``."""
    value = message.get(key)
    if not isinstance(value, str):
        raise CodecError(f"invalid {what}", f"{key} is not a string")
    return value


def optional_str(message: dict[str, Any], key: str, what: str) -> str | None:
    """``message[key]`` when present (Node's ``!== undefined``: a ``null`` counts as present
    and is refused here, since no Node node sends one)."""
    if key not in message:
        return None
    return require_str(message, key, what)


def _ms(seconds: float) -> int | float:
    ms = seconds * 1000
    return int(ms) if ms == int(ms) else ms


def encode_opts(target: BroadcastTarget, *, flags: bool = True) -> dict[str, Any]:
    """``{rooms, except, flags}`` of a target (socket.io-adapter ``encodeOptions``). Only the
    flags a Node operator would hold travel: ``local`` never does (a local operation is not
    published), ``compress`` only when turned off (Node's operator holds it only once set).
    ``flags=False`` gives the ``{rooms, except}`` of the pub/sub adapter's requests."""
    opts: dict[str, Any] = {"rooms": sorted(target.rooms), "except": sorted(target.except_rooms)}
    if flags:
        wire: dict[str, Any] = {}
        if target.expect_single_response:
            wire["expectSingleResponse"] = True
        if target.volatile:
            wire["volatile"] = True
        if not target.compress:
            wire["compress"] = False
        if target.timeout is not None:
            wire["timeout"] = _ms(target.timeout)
        opts["flags"] = wire
    return opts


def _rooms(value: Any, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise CodecError(f"invalid {what}", "rooms is not an array")
    rooms = set()
    for room in value:
        if isinstance(room, str):
            rooms.add(room)
        elif isinstance(room, (int, float)) and not isinstance(room, bool):
            rooms.add(jsjson.js_number(room))  # Node allows numeric rooms; ours are text
        else:
            raise CodecError(f"invalid {what}", "a room is not a string or a number")
    return frozenset(rooms)


def decode_opts(value: Any, what: str = "options") -> BroadcastTarget:
    """The target of ``{rooms, except, flags}`` (a missing part means none, as in Node)."""
    opts = require_dict(value, what)
    flags = opts.get("flags")
    if flags is None:
        flags = {}
    elif not isinstance(flags, dict):
        raise CodecError(f"invalid {what}", "flags is not an object")
    timeout = flags.get("timeout")
    if timeout is not None and (not isinstance(timeout, (int, float))
                                or isinstance(timeout, bool)):
        raise CodecError(f"invalid {what}", "timeout is not a number")
    return BroadcastTarget(
        rooms=_rooms(opts.get("rooms"), what),
        except_rooms=_rooms(opts.get("except"), what),
        volatile=bool(flags.get("volatile")),
        compress=flags.get("compress") is not False,
        timeout=None if timeout is None else timeout / 1000,
        expect_single_response=bool(flags.get("expectSingleResponse")),
    )


def decode_event_data(packet: Any, what: str = "packet") -> list[Any]:
    """The ``data`` of an EVENT packet object ``{type: 2, data: [event, ...args]}``."""
    packet = require_dict(packet, what)
    data = packet.get("data")
    if packet.get("type") != 2 or not isinstance(data, list) or not data:
        raise CodecError(f"invalid {what}", "not an EVENT packet with data")
    if not isinstance(data[0], str):
        raise CodecError(f"invalid {what}", "the event name is not a string")
    return data


def encode_details(socket: Any) -> dict[str, Any]:
    """``{id, handshake, rooms, data}`` of a local socket, as Node answers a fetch."""
    handshake = socket.handshake
    return {
        "id": socket.id,
        "handshake": {
            "headers": dict(handshake.headers),
            "time": handshake.time,
            "address": handshake.address,
            "xdomain": handshake.xdomain,
            "secure": handshake.secure,
            "issued": handshake.issued,
            "url": handshake.url,
            "query": dict(handshake.query),
            "auth": handshake.auth,
        },
        "rooms": sorted(socket.rooms),
        "data": socket.data,
    }


@dataclass(frozen=True, slots=True)
class SocketDetails:
    """A socket of another node, as a fetch answer describes it. ``handshake`` holds the
    keyword arguments of ``socketio_core.Handshake``."""

    id: str
    handshake: dict[str, Any]
    rooms: frozenset[str]
    data: Any


def _text_map(value: Any) -> dict[str, Any]:
    return {str(key): item for key, item in value.items()} if isinstance(value, dict) else {}


def decode_details(value: Any) -> SocketDetails:
    """One socket of a fetch answer. The handshake is taken as far as it is well formed (a
    missing or odd field gets an empty default): it is shown to user code, not acted on."""
    details = require_dict(value, "socket details")
    sid = require_str(details, "id", "socket details")
    handshake = details.get("handshake")
    handshake = handshake if isinstance(handshake, dict) else {}
    issued = handshake.get("issued")
    fields = {
        "headers": _text_map(handshake.get("headers")),
        "query": _text_map(handshake.get("query")),
        "auth": _text_map(handshake.get("auth")),
        "address": str(handshake.get("address") or ""),
        "url": str(handshake.get("url") or ""),
        "secure": handshake.get("secure") is True,
        "xdomain": handshake.get("xdomain") is True,
    }
    if isinstance(issued, int) and not isinstance(issued, bool):
        fields["issued"] = issued
    return SocketDetails(sid, fields, _rooms(details.get("rooms"), "socket details"),
                         details.get("data"))
