"""The Socket.IO v5 packet codec (socket.io-protocol README, "Packet format"; socket.io-parser).

A packet is one text Engine.IO message, followed by its binary attachments (one binary
Engine.IO message each) for ``BINARY_EVENT`` and ``BINARY_ACK``::

    <type>[<attachments>-][<namespace>,][<ack id>][<JSON payload>]

``encode`` writes exactly what socket.io-parser's ``Encoder`` writes. ``Decoder`` reads one
Engine.IO message at a time and returns each complete ``Packet``; it validates at least as
strictly as socket.io-parser's ``Decoder``/``isPayloadValid`` and raises
``RemoteProtocolError(reason="parse error")`` for anything else.

Stricter than Node, on purpose: an event name must be a string (Node's parser also lets a
number through and its server then dispatches it as the string form; we refuse it); an ack id
is ASCII digits only, at most ``Number.MAX_SAFE_INTEGER``, and only on EVENT/ACK; EVENT and
CONNECT_ERROR need a payload and ACK needs an id; a payload starts with ``[``, ``{`` or ``"``;
a placeholder's ``num`` must be an ``int``; the pending attachment bytes are capped.

Payloads are JSON as ``JSON.stringify`` writes it (``jsjson``), unless the application gives
its own codec (``json=``, a ``json_codec.JSONCodec``): then that codec writes and reads them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from . import jsjson, json_codec
from .errors import LocalProtocolError, RemoteProtocolError
from .json_codec import JSONCodec
from .reasons import RESERVED_EVENTS

__all__ = [
    "DEFAULT_MAX_ATTACHMENTS",
    "DEFAULT_MAX_ATTACHMENT_BYTES",
    "MAX_ACK_ID",
    "Decoder",
    "Packet",
    "PacketType",
    "encode",
    "encode_event",
]

#: socket.io-parser's default ``maxAttachments``.
DEFAULT_MAX_ATTACHMENTS = 10
#: Bytes of attachments one packet may carry while it is being reassembled.
DEFAULT_MAX_ATTACHMENT_BYTES = 10_000_000
#: ``Number.MAX_SAFE_INTEGER``: the largest ack id both sides read exactly.
MAX_ACK_ID = 2**53 - 1

_DIGITS = frozenset("0123456789")
_PAYLOAD_START = frozenset('[{"')


class PacketType(IntEnum):
    """Packet types (socket.io-protocol README, "Packet types")."""

    CONNECT = 0
    DISCONNECT = 1
    EVENT = 2
    ACK = 3
    CONNECT_ERROR = 4
    BINARY_EVENT = 5
    BINARY_ACK = 6


@dataclass(frozen=True, slots=True)
class Packet:
    """One Socket.IO packet.

    ``data`` is the JSON payload with binary values (``bytes``) in place; a decoded packet is
    never ``BINARY_EVENT``/``BINARY_ACK``: as in Node, those come out as ``EVENT``/``ACK``, and
    ``encode`` picks the binary type itself when the data holds bytes.
    """

    type: PacketType
    namespace: str = "/"
    data: Any = None
    id: int | None = None


# Members as module globals: looking one up on its Enum class costs several times more.
_CONNECT = PacketType.CONNECT
_DISCONNECT = PacketType.DISCONNECT
_EVENT = PacketType.EVENT
_ACK = PacketType.ACK
_CONNECT_ERROR = PacketType.CONNECT_ERROR
_BINARY_EVENT = PacketType.BINARY_EVENT
_BINARY_ACK = PacketType.BINARY_ACK


def _valid_payload(kind: PacketType, data: Any, ack_id: int | None) -> bool:
    if kind is _CONNECT:
        return data is None or isinstance(data, dict)
    if kind is _DISCONNECT:
        return data is None
    if kind is _CONNECT_ERROR:
        return isinstance(data, (str, dict))
    if kind in (_EVENT, _BINARY_EVENT):
        return (
            isinstance(data, list)
            and len(data) > 0
            and isinstance(data[0], str)
            and data[0] not in RESERVED_EVENTS
        )
    return ack_id is not None and isinstance(data, list)


def _valid_id(kind: PacketType, ack_id: int | None) -> bool:
    if ack_id is None:
        return True
    return (
        kind in (_EVENT, _ACK, _BINARY_EVENT, _BINARY_ACK)
        and type(ack_id) is int
        and 0 <= ack_id <= MAX_ACK_ID
    )


def _valid_namespace(namespace: str) -> bool:
    return namespace.startswith("/") and "," not in namespace


def encode(packet: Packet, *, json: JSONCodec | None = None) -> list[str | bytes]:
    """The Engine.IO messages carrying ``packet``: the text packet, then one ``bytes`` per
    binary attachment (socket.io-parser ``Encoder.encode``). ``json``: the application's
    codec, which then writes the payload.

    Raises:
        TypeError: the data holds a value JSON cannot represent, named by its type (without
            ``json``; with it, what its ``dumps`` raises).
        LocalProtocolError: the packet is not valid for its type (an event name that is not a
            string or is reserved, an ACK without an id, a namespace not starting with ``/`` or
            holding a comma, an id out of range) or its data is nested too deeply.
    """
    kind = PacketType(packet.type)
    if kind is _BINARY_EVENT:
        kind = _EVENT
    elif kind is _BINARY_ACK:
        kind = _ACK
    if not isinstance(packet.namespace, str) or not _valid_namespace(packet.namespace):
        raise LocalProtocolError(f"invalid namespace {packet.namespace!r}")
    if not _valid_id(kind, packet.id):
        raise LocalProtocolError(f"invalid ack id {packet.id!r} for {kind.name}")
    plain = False
    try:
        if json is None:
            ready, attachments, plain = jsjson.deconstruct(packet.data)
        else:
            ready, attachments = json_codec.deconstruct(packet.data)
    except RecursionError:
        raise LocalProtocolError("cannot encode the payload: nested too deeply") from None
    if not _valid_payload(kind, ready, packet.id):
        raise LocalProtocolError(f"invalid payload for {kind.name}: {packet.data!r}")
    parts: list[str] = []
    if attachments and kind in (_EVENT, _ACK):
        kind = _BINARY_EVENT if kind is _EVENT else _BINARY_ACK
        parts.append(f"{int(kind)}{len(attachments)}-")
    elif attachments:
        raise LocalProtocolError(f"{kind.name} cannot carry binary data")
    else:
        parts.append(str(int(kind)))
    if packet.namespace != "/":
        parts.append(packet.namespace + ",")
    if packet.id is not None:
        parts.append(str(packet.id))
    if ready is not None:
        parts.append(jsjson.dumps(ready, plain=plain) if json is None else json.encode(ready))
    return ["".join(parts), *attachments]


_PLAIN_HEAD = {_EVENT: "2", _ACK: "3"}


def encode_event(
    kind: PacketType, namespace: str, data: list[Any], ack_id: int | None,
    json: JSONCodec | None = None,
) -> list[str | bytes]:
    """``encode(Packet(kind, namespace, data, ack_id), json=json)`` for an ``EVENT`` or
    ``ACK``; without ``json``, a list of plain scalars (the usual arguments) is written without
    building the packet or walking the data, anything else takes ``encode``.

    Raises:
        TypeError, LocalProtocolError: as ``encode``.
    """
    head = _PLAIN_HEAD.get(kind)
    if (
        json is None
        and head is not None
        and (ack_id is None or (type(ack_id) is int and 0 <= ack_id <= MAX_ACK_ID))
        and _valid_payload(kind, data, ack_id)
    ):
        payload = jsjson.dumps_flat(data)
        if payload is not None:
            if namespace != "/":
                if type(namespace) is not str or not _valid_namespace(namespace):
                    return encode(Packet(kind, namespace, data, ack_id))
                head += namespace + ","
            if ack_id is not None:
                head += str(ack_id)
            return [head + payload]
    return encode(Packet(kind, namespace, data, ack_id), json=json)


_PLAIN_KIND = {"2": _EVENT, "3": _ACK}
# At most 16 digits: a 17th makes the general path refuse the id as too long.
_ACK_DIGITS = re.compile("[0-9]{0,16}")


def decode_plain(text: str) -> tuple[PacketType, Any, int | None] | None:
    """``(type, data, id)`` of ``text`` when it is a valid ``EVENT`` or ``ACK`` on ``"/"``
    without attachments, as ``Decoder`` would decode it; ``None`` for anything else (another
    shape, or invalid), which the general decoder then reads or refuses. Never raises."""
    kind = _PLAIN_KIND.get(text[:1])
    if kind is None:
        return None
    end = _ACK_DIGITS.match(text, 1).end()  # type: ignore[union-attr]
    if end >= len(text) or text[end] != "[":
        return None
    try:
        data = jsjson.loads_at(text, end)
    except (ValueError, RecursionError):
        return None
    if end > 1:
        ack_id: int | None = int(text[1:end])
        if ack_id > MAX_ACK_ID:  # type: ignore[operator]
            return None
    elif kind is _ACK:
        return None
    else:
        ack_id = None
    if kind is _EVENT and not (
        data and type(data[0]) is str and data[0] not in RESERVED_EVENTS
    ):
        return None
    return kind, data, ack_id


def _fail(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, reason="parse error")


@dataclass(slots=True)
class _Pending:
    header: Packet
    expected: int
    attachments: list[bytes]
    size: int
    keep: bool


class Decoder:
    """Reads Engine.IO messages (``str`` packets, ``bytes`` attachments) one at a time.

    Args:
        max_attachments: the most attachments one packet may announce (Node: 10).
        max_attachment_bytes: the most attachment bytes one packet may carry.
        json: the application's codec, which then reads the payloads.

    After an error the decoder has dropped any partial packet; the caller should close.
    """

    def __init__(
        self,
        *,
        max_attachments: int = DEFAULT_MAX_ATTACHMENTS,
        max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
        json: JSONCodec | None = None,
    ) -> None:
        self.max_attachments = max_attachments
        self.max_attachment_bytes = max_attachment_bytes
        self.json = json
        self._pending: _Pending | None = None

    @property
    def pending(self) -> Packet | None:
        """The header (with placeholders) of the binary packet being reassembled, if any."""
        return self._pending.header if self._pending is not None else None

    def reset(self) -> None:
        """Drop any partial packet."""
        self._pending = None

    def discard_pending(self) -> None:
        """Keep reading the pending packet's attachments but throw them away; ``receive``
        then returns ``None`` for it."""
        if self._pending is not None:
            self._pending.keep = False
            self._pending.attachments = []

    def receive(self, message: str | bytes | bytearray | memoryview) -> Packet | None:
        """Feed one Engine.IO message; returns the packet it completes, or ``None``.

        Raises:
            RemoteProtocolError: (reason ``"parse error"``) a malformed packet, a text message
                while attachments are due, a binary message when none is, or a limit exceeded.
        """
        if isinstance(message, str):
            if self._pending is not None:
                self._pending = None
                raise _fail("got plaintext data when reconstructing a packet")
            return self._receive_text(message)
        if not isinstance(message, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected str or bytes, not {type(message).__name__}")
        pending = self._pending
        if pending is None:
            raise _fail("got binary data when not reconstructing a packet")
        pending.size += len(message)
        if pending.size > self.max_attachment_bytes:
            self._pending = None
            raise _fail("attachments too large")
        if pending.keep:
            pending.attachments.append(bytes(message))
        pending.expected -= 1
        if pending.expected:
            return None
        self._pending = None
        if not pending.keep:
            return None
        header = pending.header
        data = jsjson.reconstruct(header.data, pending.attachments)
        return Packet(header.type, header.namespace, data, header.id)

    def _receive_text(self, text: str) -> Packet | None:
        plain = decode_plain(text) if self.json is None else None
        if plain is not None:
            kind, data, ack_id = plain
            return Packet(kind, "/", data, ack_id)
        return self._receive_general(text)

    def _receive_general(self, text: str) -> Packet | None:
        if not text or text[0] not in "0123456":
            raise _fail("unknown packet type")
        kind = PacketType(int(text[0]))
        pos = 1
        attachments = 0
        if kind in (_BINARY_EVENT, _BINARY_ACK):
            dash = text.find("-", pos, pos + 12)
            count = text[pos:dash] if dash > pos else ""
            if not count or not _DIGITS.issuperset(count):
                raise _fail("illegal attachments")
            attachments = int(count)
            if attachments < 1:
                raise _fail("illegal attachments")
            if attachments > self.max_attachments:
                raise _fail("too many attachments")
            pos = dash + 1
        namespace = "/"
        if text.startswith("/", pos):
            comma = text.find(",", pos)
            end = len(text) if comma < 0 else comma
            namespace = text[pos:end]
            pos = end + 1
        start = pos
        while pos < len(text) and text[pos] in _DIGITS:
            pos += 1
            if pos - start > 16:
                raise _fail("ack id too long")
        ack_id = int(text[start:pos]) if pos > start else None
        if ack_id is not None and ack_id > MAX_ACK_ID:
            raise _fail("ack id is not a safe integer")
        data: Any = None
        if pos < len(text):
            if text[pos] not in _PAYLOAD_START:
                raise _fail("invalid payload")
            data = self._load(text, pos)
        if not _valid_id(kind, ack_id) or not _valid_payload(kind, data, ack_id):
            raise _fail("invalid payload")
        if not attachments:
            return Packet(kind, namespace, data, ack_id)
        try:
            placeholders_ok = jsjson.find_placeholders(data, attachments)
        except RecursionError:
            placeholders_ok = False
        if not placeholders_ok:
            raise _fail("illegal attachments")
        plain = _EVENT if kind is _BINARY_EVENT else _ACK
        self._pending = _Pending(Packet(plain, namespace, data, ack_id), attachments, [], 0, True)
        return None

    def _load(self, text: str, pos: int) -> Any:
        if self.json is None:
            try:
                return jsjson.loads_at(text, pos)
            except (ValueError, RecursionError):
                raise _fail("invalid payload") from None
        try:
            return self.json.loads(text[pos:])
        except Exception:  # the application's decoder: whatever it raises, the peer sent it
            raise _fail("invalid payload") from None
