"""The limits and switches of the HTTP server and its WebSockets, in one validated object."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["HTTPConfig"]


@dataclass(frozen=True, slots=True)
class HTTPConfig:
    """Limits for ``serve_http``/``handle_stream`` and the WebSockets they accept.

    Times are seconds (trio's clock). Every limit is enforced per connection.

    Attributes:
        max_headers: the most header fields one request may carry (more → 431).
        max_header_bytes: the largest request head in bytes, h11's ``max_incomplete_event_size``
            (more → 431).
        header_timeout: how long a client may take to send a whole request head once its first
            byte arrived, and to send the first request of a new connection (slowloris guard).
        keep_alive_timeout: how long an idle kept-alive connection waits for the next request.
        body_timeout: the longest wait for the next chunk of a request body.
        send_timeout: the longest a response may take to write (a client that stops reading);
            past it the connection is closed and ``respond`` raises ``BrokenResourceError``.
        drain_limit: after a response, an unread request body up to this many bytes is read and
            discarded so the connection can be reused; a larger one closes the connection.
        linger_timeout: after deciding to close, how long to keep discarding the client's bytes
            so it can read the final response before the socket goes.
        max_message_size: the largest reassembled WebSocket message (more → close 1009).
        per_message_deflate: accept permessage-deflate when the client offers it.
        close_timeout: how long ``WebSocket.aclose`` waits for the peer's Close frame.
        receive_buffer_size: the most bytes read from the socket at once.
        accept_limit: how many accepted connections may be waiting for the answer to their
            first request at once; the listener accepts no more until one is answered (a flood
            of new connections then waits in the listen backlog instead of slowing down every
            established one).
        accept_hold: how long such a connection counts against ``accept_limit`` at most (a
            slowloris cannot hold the door shut).
    """

    max_headers: int = 100
    max_header_bytes: int = 16 * 1024
    header_timeout: float = 10.0
    keep_alive_timeout: float = 30.0
    body_timeout: float = 30.0
    send_timeout: float = 30.0
    drain_limit: int = 64 * 1024
    linger_timeout: float = 1.0
    max_message_size: int = 1_000_000
    per_message_deflate: bool = False
    close_timeout: float = 5.0
    receive_buffer_size: int = 64 * 1024
    accept_limit: int = 32
    accept_hold: float = 1.0

    def __post_init__(self) -> None:
        for name in ("max_headers", "max_header_bytes", "max_message_size",
                     "receive_buffer_size", "accept_limit"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        for name in ("header_timeout", "keep_alive_timeout", "body_timeout", "send_timeout",
                     "linger_timeout", "close_timeout", "accept_hold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.drain_limit < 0:
            raise ValueError("drain_limit must not be negative")
