"""``Request`` and ``WebSocket``: what a handler gets, whoever parsed the HTTP.

Two implementations satisfy each: our own HTTP/1.1 server's (``HTTPRequest`` on h11, and
``StreamWebSocket`` over a trio stream) and an ASGI server's (``transports.asgi``). The engine
is written against these Protocols only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._errors import WebSocketClosed

__all__ = ["HeaderList", "Request", "WebSocket"]

HeaderList = Sequence[tuple[str | bytes, str | bytes]]


class WebSocket(Protocol):
    """An accepted WebSocket that moves whole messages.

    One task may ``receive`` at a time; sends from several tasks go out whole, in call order.
    """

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, if any."""
        ...

    @property
    def extensions(self) -> Sequence[str]:
        """The names of the negotiated extensions (e.g. ``["permessage-deflate"]``)."""
        ...

    @property
    def closed(self) -> WebSocketClosed | None:
        """``None`` while open, else the ``WebSocketClosed`` that ``receive``/``send`` raise."""
        ...

    @property
    def is_open(self) -> bool:
        """Whether messages can still be sent."""
        ...

    @property
    def bytes_sent(self) -> int:
        """How many bytes of messages the connection has taken so far: while it grows, the
        peer is still reading."""
        ...

    async def receive(self) -> str | bytes:
        """The next whole message; raises ``WebSocketClosed`` once the connection is closed."""
        ...

    def receive_buffered(self) -> Sequence[str | bytes]:
        """The whole messages already received and not yet returned, without waiting."""
        ...

    async def send(self, message: str | bytes) -> None:
        """Send one message; raises ``WebSocketClosed`` when closed."""
        ...

    async def send_many(self, messages: Iterable[str | bytes]) -> None:
        """Send messages in order, written whole before any later call's."""
        ...

    @property
    def frames_shared(self) -> bool:
        """Whether a message's frame is the same bytes on every WebSocket like this one, so
        that a message sent on many may be framed once (``frame_message``) and written with
        ``send_framed_nowait``."""
        ...

    def send_framed_nowait(self, data: bytes) -> bool:
        """Write whole frames made by ``frame_message`` as far as the socket takes them now,
        without waiting; ``True`` when all went, else the rest waits for ``flush`` and goes
        before anything sent later. Only where ``frames_shared``."""
        ...

    async def flush(self) -> None:
        """Write what ``send_framed_nowait`` left; raises ``WebSocketClosed`` when closed."""
        ...

    async def ping(self, payload: bytes = b"") -> None:
        """Send a ping (where the implementation owns pings)."""
        ...

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` and ``reason`` (once; later calls do nothing)."""
        ...


class Request(Protocol):
    """One HTTP request (or WebSocket upgrade), answered once: by ``respond``,
    ``accept_websocket`` or ``reject_websocket``.

    Attributes:
        method: ``"GET"``, ``"POST"``...; target: the raw request target (path and query).
        path: the percent-decoded path; raw_query: the query string as sent.
        headers: ``(name, value)`` pairs as sent, names lowercased (bytes).
        client: ``(host, port)`` of the peer (``("", 0)`` when unknown).
        secure: whether the connection is TLS; scheme: ``"https"`` or ``"http"``.
        http_version: ``"1.1"``, ``"1.0"``...; responded: whether it was answered.
    """

    method: str
    target: str
    path: str
    raw_query: str
    headers: list[tuple[bytes, bytes]]
    http_version: str
    client: tuple[str, int]
    secure: bool
    scheme: str
    responded: bool

    @property
    def query(self) -> dict[str, str]:
        """The first value of each query parameter."""
        ...

    @property
    def query_lists(self) -> dict[str, list[str]]:
        """Every value of each query parameter."""
        ...

    @property
    def client_host(self) -> str:
        """The peer's address (``""`` when unknown)."""
        ...

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), repeated fields joined by ``", "``."""
        ...

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header."""
        ...

    @property
    def is_websocket(self) -> bool:
        """Whether this is a WebSocket upgrade."""
        ...

    async def read_body(self, max_size: int) -> bytes:
        """The whole request body, at most ``max_size`` bytes.

        Raises:
            BodyTooLarge: the body is longer (before reading any of it when the length is
                declared).
            BadRequest: the body was malformed or cut short.
            RuntimeError: the body was already read or the request answered.
        """
        ...

    async def wait_disconnected(
        self, wake: Callable[[Callable[[], None]], None] | None = None
    ) -> bool:
        """Return ``True`` when the client goes away (for a parked response); ``False`` when
        woken first by the callback registered with ``wake(callback)``, when given."""
        ...

    async def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Send a whole response.

        Raises:
            RuntimeError: the request was already answered.
        """
        ...

    def respond_nowait(
        self, status: int, make: Callable[[], tuple[HeaderList, bytes]]
    ) -> bool:
        """Answer a request whose task waits in ``wait_disconnected(wake)``, from another task,
        at once and without yielding: ``make()`` gives the headers and body, and is called only
        when the request can be answered so. ``False`` (``make`` not called) when it cannot:
        wake the waiting task, which answers with ``respond``. The waiting task goes on waiting
        for the connection's next request or its end (``wait_disconnected`` returns then, or
        once it wrote what the socket did not take at once)."""
        ...

    async def accept_websocket(
        self, extra_headers: HeaderList = (), subprotocol: str | None = None
    ) -> WebSocket:
        """Accept the upgrade and return the WebSocket.

        Raises:
            BadRequest: not a valid WebSocket handshake.
            RuntimeError: already answered.
        """
        ...

    async def reject_websocket(
        self, status: int = 400, headers: HeaderList = (), body: bytes = b""
    ) -> None:
        """Refuse a WebSocket upgrade with an HTTP response."""
        ...
