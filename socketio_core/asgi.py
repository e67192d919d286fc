"""Mount a Socket.IO server in any ASGI server that runs on trio (Hypercorn's trio worker).

``ASGIApp(server, other_app)`` answers the Socket.IO path (and the client bundle, with
``serve_client``) and passes every other request to ``other_app`` (404 without one)::

    app = ASGIApp(sio, other_app=my_web_app)
    # hypercorn -k trio mymodule:app

The server's session tasks need a trio nursery that outlives any one request: the app opens it
when the ASGI server runs the **lifespan** protocol (Hypercorn always does) and closes the
Socket.IO server on shutdown. ``other_app``'s own lifespan events are forwarded to it. Without
a lifespan, Socket.IO requests fail with a ``RuntimeError`` that says so.

The adapter shows each ASGI ``http``/``websocket`` scope to the Engine.IO server as the same
``transports.Request`` (and ``WebSocket``) it gets from our own HTTP server, so the engine's
drivers run unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, unquote

import trio

from transports import (
    BadRequest,
    BodyTooLarge,
    HeaderList,
    HTTPError,
    Request,
    WebSocket,
    WebSocketClosed,
)

from .server import Server

__all__ = ["ASGIApp", "ASGIApplication", "ASGIRequest", "ASGIWebSocket"]

log = logging.getLogger("socketio_core.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApplication = Callable[[Scope, Receive, Send], Awaitable[None]]

_NO_LIFESPAN = (
    "ASGIApp: the Socket.IO server is not running; it starts with the ASGI lifespan "
    "protocol (lifespan.startup), which this ASGI server did not run or which failed. "
    "Run it under a server with lifespan support (e.g. `hypercorn -k trio module:app`)."
)


def _b(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


class ASGIWebSocket(WebSocket):
    """An accepted ASGI WebSocket, with the interface of ``transports.WebSocket``.

    ASGI servers do the framing, pings and permessage-deflate; this class only moves whole
    messages and enforces ``max_message_size`` (closing with 1009, as our own transport does).
    """

    def __init__(self, receive: Receive, send: Send, *, max_message_size: int,
                 subprotocol: str | None = None) -> None:
        self.subprotocol = subprotocol
        self.extensions: list[str] = []
        self.closed: WebSocketClosed | None = None
        self._receive = receive
        self._send = send
        self._max_message_size = max_message_size
        self._write_lock = trio.StrictFIFOLock()

    @property
    def is_open(self) -> bool:
        """Whether messages can still be sent."""
        return self.closed is None

    async def receive(self) -> str | bytes:
        """The next whole message; raises ``WebSocketClosed`` once the peer is gone."""
        if self.closed is not None:
            raise self.closed
        message = await self._receive()
        if message["type"] == "websocket.receive":
            data: str | bytes | None = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            if len(data) > self._max_message_size:
                await self.aclose(1009, "message too big")
                raise WebSocketClosed(1009, "message too big")
            return data
        code = int(message.get("code", 1005))
        self.closed = WebSocketClosed(code, str(message.get("reason") or ""))
        raise self.closed

    def receive_buffered(self) -> list[str | bytes]:
        """Nothing: an ASGI server hands messages over one ``receive`` at a time."""
        return []

    async def send(self, message: str | bytes) -> None:
        """Send one message; raises ``WebSocketClosed`` when closed."""
        await self.send_many((message,))

    async def send_many(self, messages: Iterable[str | bytes]) -> None:
        """Send messages in order; concurrent calls are written whole, one after another, in
        the order they were made (like ``transports.WebSocket``)."""
        # Two tasks write a session's frames (its driver, and the reader finishing an upgrade),
        # each taking them from the core just before calling here; the lock, taken before any
        # checkpoint and strictly FIFO, keeps them on the wire in the order taken. Without it their
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
            raise self.closed
        event: Message = {"type": "websocket.send"}
        event["text" if isinstance(message, str) else "bytes"] = message
        try:
            await self._send(event)
        except (OSError, RuntimeError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            # ASGI servers signal a send after the peer left in their own ways.
            self.closed = WebSocketClosed(1006, "connection lost")
            raise self.closed from exc

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


class ASGIRequest(Request):
    """One ASGI ``http`` or ``websocket`` scope, with the interface of ``transports.Request``."""

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

    async def wait_disconnected(self) -> None:
        """Return when the client goes away."""
        while True:
            message = await self._receive()
            if message["type"] in ("http.disconnect", "websocket.disconnect"):
                return

    async def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Send a whole response (on a WebSocket scope: refuse it with this response)."""
        if self.responded:
            raise RuntimeError("this request was already answered")
        if self.is_websocket:
            await self.reject_websocket(status, headers, body)
            return
        self.responded = True
        out = [(_b(k).lower(), _b(v)) for k, v in headers
               if _b(k).lower() not in (b"content-length", b"transfer-encoding")]
        out.append((b"content-length", str(len(body)).encode()))
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
    ) -> WebSocket:
        """Accept the WebSocket scope; the returned socket has ``transports.WebSocket``'s API."""
        if self.responded:
            raise RuntimeError("this request was already answered")
        if not self.is_websocket:
            raise BadRequest("not a WebSocket upgrade request")
        await self._wait_connect()
        self.responded = True
        accept: Message = {"type": "websocket.accept",
                           "headers": [(_b(k).lower(), _b(v)) for k, v in extra_headers]}
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
            out = [(_b(k).lower(), _b(v)) for k, v in headers
                   if _b(k).lower() not in (b"content-length", b"transfer-encoding")]
            out.append((b"content-length", str(len(body)).encode()))
            await self._send({"type": "websocket.http.response.start", "status": status,
                              "headers": out})
            await self._send({"type": "websocket.http.response.body", "body": body})
        else:
            await self._send({"type": "websocket.close", "code": 1008})


class ASGIApp:
    """An ASGI application serving ``server``, and ``other_app`` for every other path.

    Args:
        server: the Socket.IO server; started by the ASGI lifespan, closed at its shutdown.
        other_app: the ASGI application for requests that are not for Socket.IO (none: 404).
    """

    def __init__(self, server: Server, other_app: ASGIApplication | None = None) -> None:
        self.server = server
        self.other_app = other_app
        self._running = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        if kind not in ("http", "websocket"):
            raise ValueError(f"ASGIApp: unsupported ASGI scope type {kind!r}")
        request = ASGIRequest(scope, receive, send,
                              max_message_size=self.server.engine.http_config.max_message_size)
        if self._ours(request):
            if not self._running:
                raise RuntimeError(_NO_LIFESPAN)
            try:
                await self.server.handle_request(request)
            except HTTPError as error:
                if not request.responded:
                    await request.respond(error.status, [("Content-Type", "text/plain")],
                                          str(error).encode())
            return
        if self.other_app is not None:
            await self.other_app(scope, receive, send)
        else:
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    def _ours(self, request: Request) -> bool:
        bundle = self.server.client_bundle
        return self.server.engine.owns(request) or (
            bundle is not None and bundle.owns(request))

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        async with trio.open_nursery() as nursery:
            await self.server.engine.run_in(nursery)
            other = None
            if self.other_app is not None:
                other = _ForwardedLifespan(self.other_app, scope)
                failure = await other.start(nursery)
                if failure is not None:
                    await send({"type": "lifespan.startup.failed", "message": failure})
                    nursery.cancel_scope.cancel()
                    return
            self._running = True
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            self._running = False
            failure = await other.stop() if other is not None else None
            await self.server.aclose()
            nursery.cancel_scope.cancel()
        if failure is not None:
            await send({"type": "lifespan.shutdown.failed", "message": failure})
        else:
            await send({"type": "lifespan.shutdown.complete"})


class _ForwardedLifespan:
    """``other_app``'s lifespan, run beside ours: it sees startup and shutdown, and we wait
    for its answers. An app that raises on lifespan does not support it (ASGI spec), which
    is fine."""

    def __init__(self, app: ASGIApplication, scope: Scope) -> None:
        self.app = app
        self.scope = scope
        self.to_app, self._app_inbox = trio.open_memory_channel[Message](2)
        self._replies, self.from_app = trio.open_memory_channel[Message](2)
        self.supported = True

    async def _run(self) -> None:
        async def receive() -> Message:
            return await self._app_inbox.receive()

        async def send(message: Message) -> None:
            await self._replies.send(message)

        try:
            await self.app(self.scope, receive, send)
        except Exception:
            log.debug("other_app does not run the lifespan protocol", exc_info=True)
        finally:
            self.supported = False
            self._replies.close()

    async def _exchange(self, kind: str) -> str | None:
        if not self.supported:
            return None
        await self.to_app.send({"type": f"lifespan.{kind}"})
        try:
            reply = await self.from_app.receive()
        except trio.EndOfChannel:
            return None
        if reply["type"].endswith(".failed"):
            return str(reply.get("message", ""))
        return None

    async def start(self, nursery: trio.Nursery) -> str | None:
        nursery.start_soon(self._run)
        return await self._exchange("startup")

    async def stop(self) -> str | None:
        return await self._exchange("shutdown")
