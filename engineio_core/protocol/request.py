"""Request checks: classify an HTTP request or WebSocket handshake, or refuse it as Node does.

Node's order (``lib/server.ts``, ``verify`` then ``handshake``): the transport must be enabled
(0 "Transport unknown"); the ``Origin`` header must hold valid header characters (3); a ``sid``
must name a live session (1 "Session ID unknown") and, outside a WebSocket, use that session's
transport (3); without a ``sid`` the request is a handshake, which must be a ``GET`` (2 "Bad
handshake method"), must not ask for ``transport=websocket`` without being a WebSocket (3), and
must carry ``EIO=4`` (5 "Unsupported protocol version"). ``allowRequest`` (4 "Forbidden", HTTP 403)
is the runtime's business and comes after these checks.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping

from .config import ServerConfig
from .errors import RemoteProtocolError
from .server import ServerSession
from .states import ServerState

__all__ = ["ERROR_MESSAGES", "RequestKind", "check_request", "error_body", "request_error"]

ERROR_MESSAGES: dict[int, str] = {
    0: "Transport unknown",
    1: "Session ID unknown",
    2: "Bad handshake method",
    3: "Bad request",
    4: "Forbidden",
    5: "Unsupported protocol version",
}


class RequestKind(enum.Enum):
    """What a checked request is: a handshake, a poll, a POST, an upgrade, or an upgrade refused."""
    HANDSHAKE = "handshake"  # a new session, on polling (GET) or WebSocket
    POLL = "poll"  # a polling GET on a session
    POST = "post"  # a polling POST on a session
    UPGRADE = "upgrade"  # a WebSocket for a polling session: the probe
    # A WebSocket for a session that cannot take a probe now (already upgraded, upgrading,
    # closing, upgrades off): Node completes the handshake and closes it at once.
    UPGRADE_REFUSED = "upgrade refused"


def request_error(code: int, message: str | None = None) -> RemoteProtocolError:
    """The error refusing a request with Engine.IO ``code``: HTTP 403 for 4, else 400."""
    text = message if message is not None else ERROR_MESSAGES[code]
    return RemoteProtocolError(text, reason=ERROR_MESSAGES[code],
                               http_status=403 if code == 4 else 400, ws_close_code=None,
                               code=code)


def error_body(code: int, message: str | None = None) -> bytes:
    """The JSON body of a refused HTTP request, as Node's ``JSON.stringify`` writes it:
    ``{"code":0,"message":"Transport unknown"}``."""
    text = message if message is not None else ERROR_MESSAGES[code]
    return json.dumps({"code": code, "message": text}, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def _invalid_header_value(value: str) -> bool:
    # Node checks the first characters against the token/field-value table: tab, printable
    # ASCII and bytes 128-255 are valid; other controls and DEL are not.
    for char in value:
        code = ord(char)
        if not (code == 9 or 32 <= code <= 126 or 128 <= code <= 255):
            return True
    return False


def check_request(
    *,
    method: str,
    query: Mapping[str, str],
    websocket: bool,
    config: ServerConfig,
    session: ServerSession | None,
    origin: str | None = None,
) -> RequestKind:
    """Classify a request on the Engine.IO path.

    Args:
        method: the HTTP method (``"GET"`` for a WebSocket handshake).
        query: the decoded query parameters (``EIO``, ``transport``, ``sid``, ...).
        websocket: whether the request asks for a WebSocket upgrade.
        config: the server options.
        session: the live session named by ``query["sid"]``, or ``None`` if there is none.
        origin: the ``Origin`` header, if any.

    Raises:
        RemoteProtocolError: with ``code`` 0-5, Node's message and ``http_status``.
    """
    transport = query.get("transport", "")
    if transport not in config.transports:
        raise request_error(0)
    if origin is not None and _invalid_header_value(origin):
        raise request_error(3)
    sid = query.get("sid", "")
    if sid:
        if session is None or session.closed or session.sid != sid:
            raise request_error(1)
        if websocket:
            if transport != "websocket":
                raise request_error(3)
            # Node accepts the handshake and then closes such a WebSocket, so
            # a client probing twice sees a close rather than an HTTP error.
            if (session.transport != "polling" or session.upgrading
                    or session.state is ServerState.CLOSING
                    or not config.allow_upgrades):
                return RequestKind.UPGRADE_REFUSED
            return RequestKind.UPGRADE
        if transport != session.transport or transport != "polling":
            raise request_error(3)
        if method == "GET":
            return RequestKind.POLL
        if method == "POST":
            return RequestKind.POST
        raise request_error(3)
    if method != "GET":
        raise request_error(2)
    if websocket != (transport == "websocket"):
        raise request_error(3)
    if query.get("EIO") != "4":
        raise request_error(5)
    return RequestKind.HANDSHAKE
