"""``transports.Request`` and ``transports.WebSocket`` for a request an ASGI server parsed.

``ASGIRequest`` shows one ASGI ``http`` or ``websocket`` scope as the same ``Request`` our own
HTTP server hands its handler, and ``ASGIWebSocket`` an accepted ASGI WebSocket as a
``WebSocket``, so the Engine.IO server runs unchanged under an ASGI server
(``socketio_core.ASGIApp`` mounts it). The ASGI server does the framing, pings and
permessage-deflate; these classes move whole messages and enforce the size limit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote

import trio

from ._errors import BadRequest, BodyTooLarge, WebSocketClosed
from ._headers import as_bytes, framed
from ._interfaces import HeaderList

__all__ = ["ASGIApplication", "ASGIRequest", "ASGIWebSocket", "Message", "Receive", "Scope", "Send"]

log = logging.getLogger("transports.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIWebSocket:
    """An accepted ASGI WebSocket: a ``transports.WebSocket``.

    ASGI servers do the framing, pings and permessage-deflate; this class only moves whole
    messages and enforces ``max_message_size`` (closing with 1009, as our own transport does).
    """

    def __init__(self, receive: Receive, send: Send, *, max_message_size: int,
                 subprotocol: str | None = None) -> None:
        self.subprotocol = subprotocol
        self.extensions: tuple[str, ...] = ()
        self.closed: WebSocketClosed | None = None
        self._receive = receive
        self._send = send
        self._max_message_size = max_message_size
        self._write_lock = trio.StrictFIFOLock()
        self.bytes_sent = 0  # counted per message handed to the ASGI server

    @property
    def is_open(self) -> bool:
        """Whether messages can still be sent."""
        return self.closed is None

    async def receive(self) -> str | bytes:
        """The next whole message; raises ``WebSocketClosed`` once the peer is gone."""
        if self.closed is not None:
            raise self.closed.fresh()
        message = await self._receive()
        if message["type"] == "websocket.receive":
            data: str | bytes | None = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            if len(data) > self._max_message_size:
                await self.aclose(1009)  # the code alone, as Node's ws
                self.closed = WebSocketClosed(1009, "message too big", local=True)
                raise self.closed.fresh()
            return data
        code = int(message.get("code", 1005))
        self.closed = WebSocketClosed(code, str(message.get("reason") or ""))
        raise self.closed.fresh()

    def receive_buffered(self) -> Sequence[str | bytes]:
        """Nothing: an ASGI server hands messages over one ``receive`` at a time."""
        return ()

    async def send(self, message: str | bytes) -> None:
        """Send one message; raises ``WebSocketClosed`` when closed."""
        await self.send_many((message,))

    async def send_many(self, messages: Iterable[str | bytes]) -> None:
        """Send messages in order; concurrent calls are written whole, one after another, in
        the order they were made (like ``transports.WebSocket``)."""
        # Tasks that write a session's frames take them from the core just before calling
        # here; the lock, taken before any checkpoint and strictly FIFO, keeps them on the wire
        # in the order taken. Without it their
        # per-message awaits interleaved and the client saw echoes out of order.
        try:
            self._write_lock.acquire_nowait()
        except trio.WouldBlock:
            await self._write_lock.acquire()
        try:
            for message in messages:
                await self._send_one(message)
        finally:
            self._write_lock.release()

    async def _send_one(self, message: str | bytes) -> None:
        if self.closed is not None:
            raise self.closed.fresh()
        event: Message = {"type": "websocket.send"}
        event["text" if isinstance(message, str) else "bytes"] = message
        try:
            await self._send(event)
        except (OSError, RuntimeError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            # ASGI servers signal a send after the peer left in their own ways.
            self.closed = WebSocketClosed(1006, "connection lost")
            raise self.closed.fresh() from exc
        self.bytes_sent += len(message)

    @property
    def frames_shared(self) -> bool:
        """``False``: the ASGI server makes the frames."""
        return False

    def send_framed_nowait(self, data: bytes) -> bool:
        """Never called (``frames_shared`` is false).

        Raises:
            RuntimeError: always.
        """
        raise RuntimeError("an ASGI WebSocket sends messages, not frames")

    async def flush(self) -> None:
        """Nothing: every send is written whole before it returns."""

    async def ping(self, payload: bytes = b"") -> None:
        """Nothing: the ASGI server owns WebSocket pings."""

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close with ``code`` (once; later calls do nothing)."""
        if self.closed is not None:
            return
        self.closed = WebSocketClosed(code, reason)
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:  # the connection is already gone; nothing left to tell it
            log.debug("closing an ASGI WebSocket that was already gone", exc_info=True)


class ASGIRequest:
    """One ASGI ``http`` or ``websocket`` scope: a ``transports.Request``."""

    def __init__(self, scope: Scope, receive: Receive, send: Send, *,
                 max_message_size: int = 1_000_000) -> None:
        self.scope = scope
        self._receive = receive
        self._send = send
        self._max_message_size = max_message_size
        self.method = "GET" if scope["type"] == "websocket" else str(scope["method"])
        self.raw_query = bytes(scope.get("query_string", b"")).decode("latin-1")
        raw_path = scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else str(scope["path"])
        self.target = path + ("?" + self.raw_query if self.raw_query else "")
        self.path = unquote(path) if raw_path else path
        self.query_lists = parse_qs(self.raw_query, keep_blank_values=True)
        self.query = {k: v[0] for k, v in self.query_lists.items()}
        self.headers = [(bytes(k).lower(), bytes(v)) for k, v in scope.get("headers", [])]
        self.http_version = str(scope.get("http_version", "1.1"))
        client = scope.get("client") or ("", 0)
        self.client = (str(client[0]), int(client[1]))
        self.scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        self.secure = self.scheme == "https"
        self.responded = False
        self._body_done = False
        self._by_name: dict[bytes, str] | None = None

    @property
    def client_host(self) -> str:
        """The peer's address (``""`` when unknown)."""
        return self.client[0]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), repeated fields joined by ``", "``."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = {}
            for k, v in self.headers:
                value = v.decode("latin-1")
                by_name[k] = value if k not in by_name else f"{by_name[k]}, {value}"
        return by_name.get(name.lower().encode("latin-1"))

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header."""
        return self.header("origin")

    @property
    def is_websocket(self) -> bool:
        """Whether this is a WebSocket scope."""
        return bool(self.scope["type"] == "websocket")

    async def read_body(self, max_size: int) -> bytes:
        """The whole request body, at most ``max_size`` bytes (see ``transports.Request``)."""
        if self.responded or self._body_done:
            raise RuntimeError("the body was already read or the request answered")
        length = self.header("content-length")
        if length is not None and length.isdigit() and int(length) > max_size:
            raise BodyTooLarge(max_size, int(length))
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("the client went away during the body")
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > max_size:
                raise BodyTooLarge(max_size)
            chunks.append(chunk)
            if not message.get("more_body", False):
                self._body_done = True
                return b"".join(chunks)

    async def wait_disconnected(
        self, wake: Callable[[Callable[[], None]], None] | None = None
    ) -> bool:
        """Return ``True`` when the client goes away; ``False`` when woken first by the
        callback registered with ``wake(callback)``, when given."""
        with trio.CancelScope() as scope:
            if wake is not None:
                wake(scope.cancel)
            while True:
                message = await self._receive()
                if message["type"] in ("http.disconnect", "websocket.disconnect"):
                    return True
        return False

    def respond_nowait(
        self, status: int, make: Callable[[], tuple[HeaderList, bytes]]
    ) -> bool:
        """Never here (``False``): an ASGI response is sent by awaiting the server."""
        return False

    async def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Send a whole response (on a WebSocket scope: refuse it with this response)."""
        if self.responded:
            raise RuntimeError("this request was already answered")
        if self.is_websocket:
            await self.reject_websocket(status, headers, body)
            return
        self.responded = True
        out = framed(headers, len(body), lower=True)
        try:
            await self._send({"type": "http.response.start", "status": status, "headers": out})
            await self._send({"type": "http.response.body",
                              "body": b"" if self.method == "HEAD" else body})
        except (OSError, RuntimeError, trio.BrokenResourceError, trio.ClosedResourceError,
                trio.BusyResourceError):
            # The client left: an answer to nobody fails quietly, as on our own transport.
            # (Hypercorn's trio worker raises BusyResourceError when the client closes while
            # it writes the end of a response; its reader task sends on the same stream.)
            log.debug("answering an ASGI request whose client left", exc_info=True)

    async def _wait_connect(self) -> None:
        message = await self._receive()
        if message["type"] != "websocket.connect":
            raise BadRequest(f"expected websocket.connect, got {message['type']}")

    async def accept_websocket(
        self, extra_headers: HeaderList = (), subprotocol: str | None = None
    ) -> ASGIWebSocket:
        """Accept the WebSocket scope."""
        if self.responded:
            raise RuntimeError("this request was already answered")
        if not self.is_websocket:
            raise BadRequest("not a WebSocket upgrade request")
        await self._wait_connect()
        self.responded = True
        accept: Message = {"type": "websocket.accept",
                           "headers": [(as_bytes(k).lower(), as_bytes(v))
                                       for k, v in extra_headers]}
        if subprotocol is not None:
            accept["subprotocol"] = subprotocol
        await self._send(accept)
        return ASGIWebSocket(self._receive, self._send, subprotocol=subprotocol,
                             max_message_size=self._max_message_size)

    async def reject_websocket(
        self, status: int = 400, headers: HeaderList = (), body: bytes = b""
    ) -> None:
        """Refuse the WebSocket with an HTTP response when the server supports the ASGI
        ``websocket.http.response`` extension (Hypercorn does), else with a plain close
        (the server then answers 403)."""
        if self.responded:
            raise RuntimeError("this request was already answered")
        self.responded = True
        await self._wait_connect()
        if "websocket.http.response" in (self.scope.get("extensions") or {}):
            out = framed(headers, len(body), lower=True)
            await self._send({"type": "websocket.http.response.start", "status": status,
                              "headers": out})
            await self._send({"type": "websocket.http.response.body", "body": body})
        else:
            await self._send({"type": "websocket.close", "code": 1008})
