"""One Engine.IO v4 packet and its WebSocket encoding.

Wire format (engine.io-protocol README, "Packet encoding"): a packet is its type digit followed
by its optional payload, ``"4hello"``. On WebSocket each packet is one frame; a binary message is
sent as the raw bytes of a binary frame, with no type prefix. A text frame starting with ``"b"``
carries a base64 binary message (the long-polling form, which the reference decoder accepts
everywhere).

Canonical form: a message always carries ``str`` or ``bytes`` (``""`` when the wire had nothing
after the type), any other packet ``None`` or a non-empty ``str``; so ``decode(encode(p)) == p``.
"""

from __future__ import annotations

import base64
import binascii
import enum
from dataclasses import dataclass

from .errors import LocalProtocolError, RemoteProtocolError

__all__ = [
    "Packet",
    "PacketType",
    "decode_text_packet",
    "decode_ws_frame",
    "encode_text_packet",
    "encode_ws_frame",
]


class PacketType(enum.IntEnum):
    """The seven packet types (engine.io-protocol README, "Protocol")."""

    OPEN = 0
    CLOSE = 1
    PING = 2
    PONG = 3
    MESSAGE = 4
    UPGRADE = 5
    NOOP = 6


_BY_DIGIT = {str(t.value): t for t in PacketType}


@dataclass(frozen=True, slots=True)
class Packet:
    """An Engine.IO packet.

    Args:
        type: the packet type.
        data: the payload; ``bytes`` only for a message. Normalised to the canonical form described
            in the module docstring.

    Raises:
        LocalProtocolError: binary data on a packet that is not a message.
    """

    type: PacketType
    data: str | bytes | None = None

    def __post_init__(self) -> None:
        data = self.data
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if isinstance(data, bytes) and self.type is not PacketType.MESSAGE:
            raise LocalProtocolError(
                f"binary data is only allowed in a message, not in {self.type.name.lower()}",
                http_status=None, ws_close_code=None,
            )
        if self.type is PacketType.MESSAGE and data is None:
            data = ""
        elif self.type is not PacketType.MESSAGE and data == "":
            data = None
        object.__setattr__(self, "data", data)


_TEXT_HEAD = {t: str(t.value) for t in PacketType}
_new = object.__new__
# The slots' own setters: the frozen dataclass refuses ``setattr``.
_set_type = Packet.__dict__["type"].__set__
_set_data = Packet.__dict__["data"].__set__


def message_packet(data: str | bytes) -> Packet:
    """``Packet(PacketType.MESSAGE, data)`` for ``data`` already ``str`` or ``bytes`` (which
    ``__post_init__`` would keep as is), without its checks."""
    packet: Packet = _new(Packet)
    _set_type(packet, PacketType.MESSAGE)
    _set_data(packet, data)
    return packet


def _parse_error(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, reason="parse error")


def encode_text_packet(packet: Packet) -> str:
    """Encode ``packet`` as text: ``"<type>[<data>]"``, or ``"b" + base64`` for binary data (the
    long-polling form)."""
    if isinstance(packet.data, bytes):
        return "b" + base64.b64encode(packet.data).decode("ascii")
    return _TEXT_HEAD[packet.type] + (packet.data or "")


def decode_text_packet(text: str) -> Packet:
    """Decode one text-encoded packet (a polling payload segment or a WebSocket text frame).

    Raises:
        RemoteProtocolError: reason ``"parse error"``: empty text, an unknown type or bad base64.
    """
    if not text:
        raise _parse_error("empty packet")
    head = text[0]
    if head == "b":
        try:
            raw = base64.b64decode(text[1:].encode("ascii"), validate=True)
        except (UnicodeEncodeError, binascii.Error) as exc:
            raise _parse_error("invalid base64 payload") from exc
        return Packet(PacketType.MESSAGE, raw)
    packet_type = _BY_DIGIT.get(head)
    if packet_type is None:
        raise _parse_error(f"unknown packet type {head!r}")
    return Packet(packet_type, text[1:])


def encode_ws_frame(packet: Packet) -> str | bytes:
    """Encode ``packet`` as one WebSocket message: ``bytes`` for a binary message (sent as is), else
    text."""
    if isinstance(packet.data, bytes):
        return packet.data
    return encode_text_packet(packet)


def decode_ws_frame(frame: str | bytes) -> Packet:
    """Decode one WebSocket message: a binary frame is a binary message, a text frame a text packet.

    Raises:
        RemoteProtocolError: reason ``"parse error"`` (see ``decode_text_packet``).
    """
    if isinstance(frame, bytes | bytearray | memoryview):
        return Packet(PacketType.MESSAGE, bytes(frame))
    return decode_text_packet(frame)
