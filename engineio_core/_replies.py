"""The Engine.IO server's HTTP answers in Node's format: a refused request, and the headers of a
polling answer."""

from __future__ import annotations

from transports import Request

from . import protocol as eio
from .cors import CorsPolicy

__all__ = ["poll_headers", "refuse"]

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
