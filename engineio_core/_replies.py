"""The Engine.IO server's HTTP answers in Node's format: a refused request, the headers of a
polling answer, and the application's header hooks (Node's ``initial_headers`` and ``headers``
events)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from transports import Request

from . import protocol as eio
from .cors import CorsPolicy

__all__ = ["HeaderHooks", "HeadersHook", "poll_headers", "refuse"]

log = logging.getLogger("engineio_core")

#: ``hook(headers, request)``: adds to (or changes) ``headers``, a dict of header name to value
#: (a list of values for a header sent several times, such as ``Set-Cookie``).
HeadersHook = Callable[[dict[str, Any], Request], None]


class HeaderHooks:
    """The hooks that add headers to the server's answers: ``initial`` ones to the handshake's
    (the first request of a session, polling or WebSocket), ``every`` one to each answer that
    carries a session (the handshake, each poll and POST, each WebSocket's 101), as Node's
    ``initial_headers`` and ``headers`` events."""

    __slots__ = ("every", "initial")

    def __init__(self) -> None:
        self.initial: list[HeadersHook] = []
        self.every: list[HeadersHook] = []

    def headers(
        self, request: Request, *, initial: bool = False, cookie: str | None = None
    ) -> list[tuple[str, str]]:
        """The extra headers of an answer to ``request``: the session cookie (``cookie``: the
        handshake's ``Set-Cookie`` value), then what the hooks add (an ``initial`` answer's
        hooks first). A hook that raises is logged and skipped."""
        if not self.every and not (initial and self.initial):
            return [] if cookie is None else [("Set-Cookie", cookie)]
        headers: dict[str, Any] = {} if cookie is None else {"Set-Cookie": cookie}
        for hook in (*self.initial, *self.every) if initial else self.every:
            try:
                hook(headers, request)
            except Exception:
                log.exception("a headers hook failed (%r)", hook)
        return [(str(name), str(value)) for name, values in headers.items()
                for value in (values if isinstance(values, list | tuple) else (values,))]

_NO_STORE = ("Cache-Control", "no-store")


def poll_headers(
    request: Request, cors: CorsPolicy, *extra: tuple[str, str]
) -> list[tuple[str, str]]:
    """Headers of a polling answer, as Node's ``Polling.headers``: ``no-store``, and for
    Internet Explorer ``X-XSS-Protection: 0``; then CORS."""
    headers = [*extra, _NO_STORE]
    agent = request.header("user-agent")
    if agent is not None and (";MSIE" in agent or "Trident/" in agent):
        headers.append(("X-XSS-Protection", "0"))
    return headers + cors.response_headers(request.header("origin"))


async def refuse(request: Request, error: eio.ProtocolError, cors: CorsPolicy | None) -> None:
    """Refuse ``request`` with ``error``'s status and Engine.IO error code and message (JSON),
    with CORS headers unless ``cors`` is ``None``; a WebSocket request gets Node's plain 400."""
    code = error.code if error.code is not None else 3
    status = error.http_status or 400
    if request.is_websocket:
        # Node refuses every WebSocket request with a plain-text 400, whatever the code.
        await request.reject_websocket(
            400, [("Content-Type", "text/html")], error.message.encode())
        return
    body = eio.error_body(code, error.message)
    headers = [("Content-Type", "application/json")]
    if cors is not None:
        headers += cors.response_headers(request.header("origin"))
    await request.respond(status, headers, body)
