"""The server side of the WebSocket opening handshake (RFC 6455 §4.2), from the request head the
HTTP server already parsed: the checks, the extension negotiation and the 101 response.

wsproto would parse the same head a second time (through a fresh h11 connection) to reach the
same answer; this takes the parsed headers as they are. wsproto's handshake stays the reference:
a hypothesis test holds this to it (the same requests accepted and refused, byte for byte the
same 101), and the frames after the 101 are still wsproto's (``transports.websocket``). Where
wsproto raised something other than its protocol error (a header value that is not ASCII, a Host
that is not IDNA, a permessage-deflate parameter that is not a number), this refuses the request,
accepts it, and declines the extension respectively (RFC 7692 §7.1).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.handshake import server_extensions_handshake

__all__ = ["HandshakeError", "Upgrade", "accept_response", "negotiate_deflate", "parse_upgrade",
           "server_handshake"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")  # RFC 9110 field-name, as h11 checks it
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")  # h11's field-value
_FRAMING = (b"content-length", b"transfer-encoding")


class HandshakeError(Exception):
    """The request is not a valid WebSocket opening handshake (the server answers 400)."""


@dataclass(slots=True)
class Upgrade:
    """A valid opening handshake: ``key`` as wsproto reads it (several fields joined by
    ``", "``), the offered ``extensions`` and ``subprotocols`` in order."""

    key: bytes
    extensions: list[str]
    subprotocols: list[str]


def _tokens(value: bytes) -> list[str]:
    try:
        return [piece.decode("ascii").strip() for piece in value.split(b",")]
    except UnicodeDecodeError:
        raise HandshakeError("a handshake header that is not ASCII") from None


def parse_upgrade(method: str, headers: Iterable[tuple[bytes, bytes]]) -> Upgrade:
    """Check an opening handshake (RFC 6455 §4.2.1) as wsproto does; ``headers`` with names
    lowercased. For a field given more than once, the last ``Connection``, ``Upgrade`` and
    ``Sec-WebSocket-Version`` count, and every ``Sec-WebSocket-Key``.

    Raises:
        HandshakeError: the request is not one (wsproto's message).
    """
    if method != "GET":
        raise HandshakeError("Request method must be GET")
    connection: list[str] | None = None
    extensions: list[str] = []
    host = False
    keys: list[bytes] = []
    subprotocols: list[str] = []
    upgrade = b""
    version: bytes | None = None
    for name, value in headers:
        if name == b"connection":
            connection = _tokens(value)
        elif name == b"host":
            host = True
        elif name == b"sec-websocket-extensions":
            extensions.extend(_tokens(value))
        elif name == b"sec-websocket-key":
            keys.append(value)
        elif name == b"sec-websocket-protocol":
            subprotocols.extend(_tokens(value))
        elif name == b"sec-websocket-version":
            version = value
        elif name == b"upgrade":
            upgrade = value
    if connection is None or not any(token.lower() == "upgrade" for token in connection):
        raise HandshakeError("Missing header, 'Connection: Upgrade'")
    if version != b"13":
        raise HandshakeError("Missing header, 'Sec-WebSocket-Version'")
    if not keys:
        raise HandshakeError("Missing header, 'Sec-WebSocket-Key'")
    if upgrade.lower() != b"websocket":
        raise HandshakeError("Missing header, 'Upgrade: websocket'")
    if not host:
        raise HandshakeError("Missing header, 'Host'")
    return Upgrade(b", ".join(keys), extensions, subprotocols)


def negotiate_deflate(offers: list[str]) -> tuple[list[Extension], bytes | None]:
    """permessage-deflate configured from the client's offers (RFC 7692 §7.1): the extension,
    if agreed, and the ``Sec-WebSocket-Extensions`` value to answer; ``([], None)`` when no
    offer is acceptable."""
    deflate = PerMessageDeflate()
    try:
        accepted = server_extensions_handshake(offers, [deflate])
    except ValueError:  # a parameter that is not a number: declined
        return [], None
    if accepted is None or not deflate.enabled():
        return [], None
    return [deflate], accepted


def accept_response(
    key: bytes, *, subprotocol: str | None = None, extensions: bytes | None = None,
    extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> bytes:
    """The 101 response accepting the handshake whose key is ``key``, as wsproto writes it.

    Raises:
        ValueError: an extra header h11 would refuse (or a framing one, senseless on a 101).
    """
    digest = hashlib.sha1(key + _GUID).digest()
    lines = [b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
             b"\r\nSec-WebSocket-Accept: %s\r\n" % base64.b64encode(digest)]
    if subprotocol is not None:
        lines.append(b"Sec-WebSocket-Protocol: %s\r\n" % subprotocol.encode("ascii"))
    if extensions is not None:
        lines.append(b"Sec-WebSocket-Extensions: %s\r\n" % extensions)
    for name, value in extra_headers:
        if (not _TOKEN.fullmatch(name) or not _FIELD_VALUE.fullmatch(value)
                or name.lower() in _FRAMING):
            raise ValueError(f"invalid header for a 101 response: {name!r}: {value!r}")
        lines.append(b"%s: %s\r\n" % (name, value))
    lines.append(b"\r\n")
    return b"".join(lines)


def server_handshake(
    method: str, headers: Iterable[tuple[bytes, bytes]], *, per_message_deflate: bool,
    subprotocol: str | None = None, extra_headers: Iterable[tuple[bytes, bytes]] = (),
) -> tuple[bytes, list[Extension]]:
    """Check an opening handshake and accept it: the 101 response to write and the extensions
    agreed (permessage-deflate when offered and ``per_message_deflate``).

    Raises:
        HandshakeError: not a valid opening handshake.
        ValueError: a ``subprotocol`` the client did not offer, or an invalid extra header.
    """
    upgrade = parse_upgrade(method, headers)
    if subprotocol is not None and subprotocol not in upgrade.subprotocols:
        raise ValueError(f"subprotocol {subprotocol!r} was not offered")
    extensions: list[Extension] = []
    agreed = None
    if per_message_deflate and any(offer.split(";", 1)[0].strip() == "permessage-deflate"
                                   for offer in upgrade.extensions):
        extensions, agreed = negotiate_deflate(upgrade.extensions)
    response = accept_response(upgrade.key, subprotocol=subprotocol, extensions=agreed,
                               extra_headers=extra_headers)
    return response, extensions
