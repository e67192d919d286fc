"""The transport errors: each says what the peer is or was told (HTTP status, close code)."""

from __future__ import annotations

__all__ = [
    "BadRequest",
    "BodyTooLarge",
    "HTTPClientError",
    "HTTPError",
    "RequestTimeout",
    "TransportError",
    "WebSocketClosed",
]


class TransportError(Exception):
    """Base of every error raised by ``transports``."""


class HTTPError(TransportError):
    """A request cannot be served; ``status`` is the response the server sends for it.

    Raised by ``Request.read_body``/``accept_websocket``. A handler may catch it and answer
    itself; if it does not, the server answers ``status`` and closes the connection.
    """

    status = 400


class BadRequest(HTTPError):
    """The client broke HTTP/1.1 or the WebSocket handshake rules (400)."""


class RequestTimeout(HTTPError):
    """The client stalled while sending its body (408); the connection will be closed."""

    status = 408


class BodyTooLarge(HTTPError):
    """A request or response body exceeds the size the caller allowed.

    On the server the response is 413 (``status``), and the connection is closed after it since
    the rest of the body is never read. On the client it means the response was too long.
    """

    status = 413

    def __init__(self, limit: int, declared: int | None = None) -> None:
        self.limit = limit
        self.declared = declared
        what = f"{declared} bytes declared" if declared is not None else "body grew"
        super().__init__(f"body too large ({what}; limit {limit} bytes)")


class WebSocketClosed(TransportError):
    """The WebSocket is closed; ``code`` and ``reason`` are the close frame's (1006: none came).

    Raised by ``receive`` and ``send`` once the connection closed, whichever side closed it;
    ``local`` is true when we failed the connection for the peer's fault (1002, 1007, 1009).
    """

    def __init__(self, code: int, reason: str = "", *, local: bool = False) -> None:
        self.code = code
        self.reason = reason
        self.local = local
        super().__init__(f"WebSocket closed with code {code}" + (f": {reason}" if reason else ""))

    def fresh(self) -> WebSocketClosed:
        """A new error with the same code, reason and ``local``, to raise. A WebSocket keeps
        its close as a value it never raises: a raised error keeps its traceback, whose frames
        hold the WebSocket, a reference cycle that only the garbage collector would free."""
        return WebSocketClosed(self.code, self.reason, local=self.local)


class HTTPClientError(TransportError):
    """The server's HTTP answer could not be read (protocol error, closed early, bad handshake).

    ``status`` holds the response status when one was read (e.g. a refused WebSocket upgrade).
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)
