"""The plain request heads of long-polling, parsed without h11's machinery.

Only what h11 would parse the same way and answer plainly: ``GET`` or ``POST``, ``HTTP/1.1``,
CRLF line ends, one ``Host``, at most one ``Content-Length`` (and none on a GET), no
``Transfer-Encoding``, ``Expect`` or ``Connection: close``, no folded lines; ``Upgrade`` and
``Connection: upgrade`` on a GET only (a WebSocket handshake, which then never goes through h11:
``HTTPRequest.accept_websocket``; a handler that answers it with a response instead hands it to
h11 first, ``Connection.catch_up``). Anything else is left to h11 (``parse_plain_head`` returns
``None``), which stays the reference for every rule: what this accepts, h11 accepts with the same
method, target and headers (a hypothesis test holds it to that).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PlainHead", "parse_plain_head"]

# RFC 9110/9112 as h11 reads them (its _abnf): a token, a field value, a request target.
_REQUEST_LINE = re.compile(rb"(GET|POST) ([\x21-\x7e]+) HTTP/1\.1")
_HEADER = re.compile(
    rb"([-!#$%&'*+.^_`|~0-9a-zA-Z]+):[ \t]*((?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?)[ \t]*")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_REFUSED = frozenset((b"transfer-encoding", b"expect"))


@dataclass(slots=True)  # not frozen: its __init__ then costs a third (one per request)
class PlainHead:
    """A parsed plain request head (not to be changed once made).

    Attributes:
        method: ``"GET"`` or ``"POST"``; target: the request target as sent.
        headers: ``(name, value)`` pairs, names lowercased, as h11 gives them.
        content_length: the body's size (0 when not given).
        size: how many bytes of the buffer the head took (its blank line included).
        upgrade: whether it proposes an upgrade (``Upgrade``, or ``upgrade`` in
            ``Connection``): only then can it be a WebSocket handshake.
    """

    method: str
    target: bytes
    headers: list[tuple[bytes, bytes]]
    content_length: int
    size: int
    upgrade: bool


def parse_plain_head(buf: bytes | bytearray) -> PlainHead | None:
    """The head at the start of ``buf`` if it is complete and plain, else ``None`` (incomplete,
    or anything h11 should see: it then parses, or refuses, the same bytes)."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end])
    lines = head.split(b"\r\n")
    breaks = len(lines) - 1
    if head.count(b"\r") != breaks or head.count(b"\n") != breaks:
        return None  # a bare CR or LF
    request = _REQUEST_LINE.fullmatch(lines[0])
    if request is None:
        return None
    headers: list[tuple[bytes, bytes]] = []
    hosts = 0
    length: bytes | None = None
    upgrade = False
    for line in lines[1:]:
        match = _HEADER.fullmatch(line)
        if match is None:
            return None  # a folded line, or one h11 refuses
        name = match[1].lower()
        value = match[2]
        if name in _REFUSED:
            return None
        if name == b"upgrade":
            upgrade = True
        elif name == b"host":
            hosts += 1
        elif name == b"content-length":
            if length is not None or _DIGITS.fullmatch(value) is None:
                return None
            length = value
        elif name == b"connection":
            lowered = value.lower()
            if b"close" in lowered:
                return None
            if b"upgrade" in lowered:
                upgrade = True
        headers.append((name, value))
    method = request[1].decode("ascii")
    content_length = int(length) if length is not None else 0
    if hosts != 1 or (method == "GET" and content_length) or (upgrade and method != "GET"):
        return None
    return PlainHead(method, request[2], headers, content_length, end + 4, upgrade)
