"""``PreparedPacket``: a packet to send, with its encodings made once for every session.

A broadcast to a thousand sessions prepares its message once (``prepare_message``) and each
session queues a reference to the same value; its WebSocket message, its long-polling segment
and the transport's bytes for it are each made the first time a session needs them, then
shared. Nothing is kept anywhere else: the value is the cache, and it goes when the last
session has sent it.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from .errors import LocalProtocolError
from .packet import Packet, encode_text_packet, message_packet
from .payload import SEPARATOR

__all__ = ["PreparedPacket", "prepare_message", "prepare_packet"]

class PreparedPacket:
    """A packet and its encodings, each made lazily, once (the WebSocket message is not kept
    once the transport's bytes for it are made, and is made again if asked for).

    The packet never changes, so neither does any encoding: computing one twice (two threads
    asking at once) gives equal values, and either may be kept. Make one with
    ``prepare_message`` or ``prepare_packet``.

    Attributes:
        packet: the packet.
        size: what it counts for in a session's outbound buffer: one byte for the type, plus
            the payload's size in bytes (UTF-8 for text).
    """

    __slots__ = ("_poll", "_wire", "_ws", "packet", "size")

    def __init__(self, packet: Packet, size: int) -> None:
        self.packet = packet
        self.size = size
        self._ws: str | bytes | None = None
        self._poll: bytes | None = None
        self._wire: bytes | None = None

    def ws_frame(self) -> str | bytes:
        """The WebSocket message for the packet: ``bytes`` for a binary message, else the text
        packet (``"4hello"``)."""
        frame = self._ws
        if frame is None:
            data = self.packet.data
            frame = self._ws = data if type(data) is bytes else encode_text_packet(self.packet)
        return frame

    def poll_segment(self) -> bytes:
        """The packet as one segment of a long-polling payload, UTF-8 (binary as ``"b"`` +
        base64); segments are joined by ``SEPARATOR``."""
        segment = self._poll
        if segment is None:
            data = self.packet.data
            segment = self._poll = (b"b" + base64.b64encode(data) if type(data) is bytes
                                    else encode_text_packet(self.packet).encode("utf-8"))
        return segment

    def wire(self, frame: Callable[[str | bytes], bytes]) -> bytes:
        """The transport's bytes for ``ws_frame()``, made by ``frame`` the first time.

        For a transport whose bytes for a message are the same on every connection (a server
        WebSocket without extensions); ``frame`` must be that one pure function.
        """
        wire = self._wire
        if wire is None:
            # The message itself is not kept once framed: where frames are shared, nobody asks
            # for it again, and a large broadcast would be held twice while sessions queue it.
            message = self._ws
            if message is None:
                data = self.packet.data
                message = data if type(data) is bytes else encode_text_packet(self.packet)
            wire = self._wire = frame(message)
            self._ws = None
        return wire

    def __repr__(self) -> str:
        return f"PreparedPacket({self.packet!r})"


def prepare_message(data: str | bytes | bytearray | memoryview) -> PreparedPacket:
    """A message packet carrying ``data``, prepared.

    Raises:
        LocalProtocolError: ``data`` is neither text nor bytes-like, or is text containing
            ``"\\x1e"`` (it cannot be framed on long-polling).
    """
    if isinstance(data, str):
        if SEPARATOR in data:
            raise LocalProtocolError(
                "a text message cannot contain the record separator \\x1e",
                http_status=None, ws_close_code=None)
        size = len(data) if data.isascii() else len(data.encode("utf-8"))
    elif isinstance(data, bytes | bytearray | memoryview):
        data = bytes(data)
        size = len(data)
    else:
        raise LocalProtocolError(f"a message is str or bytes, not {type(data).__name__}",
                                 http_status=None, ws_close_code=None)
    return PreparedPacket(message_packet(data), 1 + size)


def prepare_packet(packet: Packet) -> PreparedPacket:
    """Any packet, prepared (a control packet: open, ping, noop, close...)."""
    data = packet.data
    size = 1 + (len(data) if isinstance(data, bytes) else
                len(data.encode("utf-8")) if data else 0)
    return PreparedPacket(packet, size)
