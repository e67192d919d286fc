"""HTTP long-polling payloads: several packets in one HTTP body.

Format (engine.io-protocol README, "Packet encoding / HTTP long-polling"): the text-encoded packets
joined by the record separator ``"\\x1e"``; binary messages as ``"b"`` + base64; the whole body is
UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from .errors import LocalProtocolError, RemoteProtocolError
from .packet import Packet, decode_text_packet, encode_text_packet

__all__ = ["SEPARATOR", "check_payload_size", "decode_payload", "decode_payload_text",
           "encode_payload", "iter_payload_text", "only_messages_and_pongs"]

SEPARATOR = "\x1e"

# The first byte of a message (text; binary as base64) and of a pong.
_MESSAGE_OR_PONG = (b"4", b"b", b"3")


def encode_payload(packets: Iterable[Packet]) -> bytes:
    """Encode packets as one polling body (UTF-8).

    Raises:
        LocalProtocolError: no packets, or a text payload containing the separator ``"\\x1e"``
            (the protocol cannot frame it; the reference would silently corrupt it).
    """
    parts: list[str] = []
    for packet in packets:
        if isinstance(packet.data, str) and SEPARATOR in packet.data:
            raise LocalProtocolError(
                "a text packet sent over long-polling cannot contain the record separator \\x1e",
                http_status=None, ws_close_code=None,
            )
        parts.append(encode_text_packet(packet))
    if not parts:
        raise LocalProtocolError("an empty payload cannot be encoded",
                                 http_status=None, ws_close_code=None)
    return SEPARATOR.join(parts).encode("utf-8")


def decode_payload(body: bytes, *, max_payload: int) -> list[Packet]:
    """Decode one polling body into its packets; all or nothing.

    Args:
        body: the raw HTTP body.
        max_payload: the largest body accepted, in bytes (Node's ``maxHttpBufferSize``).

    Raises:
        RemoteProtocolError: ``http_status`` 413 and reason ``"transport error"`` when the body is
            larger than ``max_payload``; reason ``"parse error"`` for bad UTF-8, an empty segment,
            an unknown packet type or bad base64.
    """
    check_payload_size(body, max_payload)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RemoteProtocolError("payload is not valid UTF-8", reason="parse error") from exc
    return decode_payload_text(text)


def decode_payload_text(text: str) -> list[Packet]:
    """Decode an already decoded polling body into its packets; all or nothing.

    Raises:
        RemoteProtocolError: reason ``"parse error"`` for an empty segment, an unknown packet
            type or bad base64.
    """
    return list(iter_payload_text(text))


def iter_payload_text(text: str) -> Iterator[Packet]:
    """Decode an already decoded polling body one packet at a time, as Node's ``decodePayload``
    (``engine.io-parser``) does: the packets before a malformed segment are yielded, then the
    error is raised, and nothing after it is read.

    Raises:
        RemoteProtocolError: reason ``"parse error"`` at the first empty segment, unknown packet
            type or bad base64.
    """
    for segment in text.split(SEPARATOR):
        yield decode_text_packet(segment)


def check_payload_size(body: bytes, max_payload: int) -> None:
    """Refuse a polling body larger than ``max_payload`` bytes.

    Raises:
        RemoteProtocolError: ``http_status`` 413, reason ``"transport error"``.
    """
    if len(body) > max_payload:
        raise RemoteProtocolError(
            f"payload of {len(body)} bytes exceeds max_payload={max_payload}",
            reason="transport error", http_status=413, ws_close_code=1009,
        )


def only_messages_and_pongs(body: bytes) -> bool:
    """Whether a polling body holds only messages and pongs, judged by each packet's first byte
    without decoding it (an empty body, or an empty packet, is not). A runtime may act on such a
    body at once: nothing in it closes the session, upgrades it or answers a parked GET by
    itself."""
    if b"\x1e" not in body:
        return body[:1] in _MESSAGE_OR_PONG
    return all(packet[:1] in _MESSAGE_OR_PONG for packet in body.split(b"\x1e"))
