"""One request on our HTTP/1.1 server (``HTTPRequest``): its head, its body, its answer
(a whole response, ``respond_nowait``'s from another task, or a WebSocket taking the connection
over) and its wait for the connection's end while it is parked (a long-polling GET).

``http_server.handle_stream`` makes one per request read from a ``_http_connection.Connection``
and runs the application's handler with it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, unquote

import h11
import trio

from . import _sockio, _watch
from ._errors import BadRequest, BodyTooLarge, RequestTimeout
from ._headers import as_bytes, framed
from ._http_connection import STREAM_ERRORS, Connection, fast_head, reason
from ._interfaces import HeaderList
from ._request_head import PlainHead
from ._ws_handshake import HandshakeError, server_handshake
from .websocket import StreamWebSocket, server_websocket

__all__ = ["HTTPRequest"]

# What a connection's h11 state becomes once a WebSocket took the connection over: one shared
# object in place of a connection's own parser state and buffers, never used again.
_HANDED_OVER = h11.Connection(h11.SERVER)


# The client states in which a response is plain for h11 (not one proposing an upgrade, say).
_PLAIN_REQUEST = (h11.DONE, h11.SEND_BODY)


def _parse_query(raw_query: str) -> dict[str, list[str]]:
    """``parse_qs(raw_query, keep_blank_values=True)``, without its cost for the usual query
    that has nothing to decode."""
    if "%" in raw_query or "+" in raw_query:
        return parse_qs(raw_query, keep_blank_values=True)
    query: dict[str, list[str]] = {}
    for field in raw_query.split("&"):
        if field:
            name, _, value = field.partition("=")
            if name in query:
                query[name].append(value)
            else:
                query[name] = [value]
    return query


class HTTPRequest:
    """One HTTP request on our HTTP/1.1 server (a ``transports.Request``), answered once by
    ``respond``, ``accept_websocket`` or ``reject_websocket``.

    Attributes:
        method: ``"GET"``, ``"POST"``...; target: the raw request target (path and query).
        path: the percent-decoded path; raw_query: the query string as sent.
        headers: ``(name, value)`` pairs as sent, names lowercased (bytes).
        client: ``(host, port)`` of the peer (``("", 0)`` when unknown, e.g. memory streams).
        secure: whether the connection is TLS; scheme: ``"https"`` or ``"http"``.
        http_version: ``"1.1"`` or ``"1.0"``.
    """

    # The headers by (lowercase) name, made by the first header().
    _by_name: dict[str, str] | None = None
    # Made when first asked (a polling request asks for neither).
    _query_lists: dict[str, list[str]] | None = None
    _query: dict[str, str] | None = None
    _continuation: Coroutine[Any, Any, object] | None = None  # see continue_with
    # While its task waits in wait_disconnected(wake) on the epoll watch: respond_nowait may
    # answer it then.
    _parked: _watch.ReadableOrWoken | None = None
    _unsent = b""  # what the socket did not take of a response respond_nowait wrote
    _idle_until = math.inf  # when a connection answered by respond_nowait has idled too long

    def __init__(
        self, conn: Connection, event: h11.Request | PlainHead, client: tuple[str, int],
        secure: bool, headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self._conn = conn
        self._websocket: bool | None
        if type(event) is PlainHead:
            self.method = event.method
            self.http_version = "1.1"
            self._websocket = None if event.upgrade else False  # a plain GET or POST: not one
        else:
            assert isinstance(event, h11.Request)
            self.method = event.method.decode("ascii")
            self.http_version = event.http_version.decode("ascii")
            self._websocket = None
        self.target = target = event.target.decode("latin-1")
        raw_path, _, self.raw_query = target.partition("?")
        self.path = unquote(raw_path) if "%" in raw_path else raw_path
        self.headers: list[tuple[bytes, bytes]] = (
            list(event.headers) if headers is None else headers)
        self.client = client
        self.secure = secure
        self.scheme = "https" if secure else "http"
        self.responded = False
        self._body_read = 0
        self._body_done = False

    @property
    def query_lists(self) -> dict[str, list[str]]:
        """Every value of each query parameter."""
        if self._query_lists is None:
            self._query_lists = _parse_query(self.raw_query)
        return self._query_lists

    @property
    def query(self) -> dict[str, str]:
        """The first value of each query parameter."""
        if self._query is None:
            self._query = {k: v[0] for k, v in self.query_lists.items()}
        return self._query

    @property
    def client_host(self) -> str:
        """The peer's address (``""`` when unknown)."""
        return self.client[0]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), repeated fields joined by ``", "``."""
        by_name = self._by_name
        if by_name is None:
            # Several headers are asked for per request: one pass over them answers all.
            by_name = self._by_name = {}
            for k, v in self.headers:
                key = k.decode("latin-1")
                text = v.decode("latin-1")
                by_name[key] = text if key not in by_name else f"{by_name[key]}, {text}"
        value = by_name.get(name)
        if value is None and not name.islower():  # callers mostly ask in lowercase
            return by_name.get(name.lower())
        return value

    @property
    def origin(self) -> str | None:
        """The ``Origin`` header; checking it is the caller's business."""
        return self.header("origin")

    @property
    def is_websocket(self) -> bool:
        """Whether this is a WebSocket upgrade (GET, ``Upgrade: websocket``; RFC 6455 §4.1)."""
        if self._websocket is None:  # asked several times per request; the headers stay put
            upgrade = (self.header("upgrade") or "").lower()
            connection = (self.header("connection") or "").lower()
            self._websocket = (self.method == "GET" and "websocket" in upgrade
                               and "upgrade" in (t.strip() for t in connection.split(",")))
        return self._websocket

    def _plain(self) -> bool:
        """Whether h11 would answer this request plainly and keep the connection: HTTP/1.1,
        no ``Connection: close``, no ``Upgrade`` proposed (any doubt is left to h11)."""
        if self.http_version != "1.1":
            return False
        for name, value in self.headers:
            if name == b"upgrade" or (name == b"connection" and b"close" in value.lower()):
                return False
        return True

    def _remaining(self) -> int | None:
        if self._conn.lean is not None:
            return self._conn.lean_left
        length = self.header("content-length")
        if length is None:
            return None if self.header("transfer-encoding") else 0
        return int(length) - self._body_read

    async def read_body(self, max_size: int) -> bytes:
        """Read the whole request body, at most ``max_size`` bytes.

        Raises:
            BodyTooLarge: ``Content-Length`` exceeds ``max_size`` (raised before reading any of
                the body), or a chunked body grew past it.
            RequestTimeout: no body bytes came for ``body_timeout``.
            BadRequest: the body was malformed or cut short.
            RuntimeError: the body was already read or the request answered.
        """
        conn = self._conn
        if self.responded or self._body_done:
            raise RuntimeError("the body was already read or the request answered")
        remaining = self._remaining()
        if remaining is not None and remaining > max_size:
            conn.must_close = True
            raise BodyTooLarge(max_size, remaining)
        if conn.lean is not None:
            return await self._read_lean_body(remaining or 0)
        if conn.h11.they_are_waiting_for_100_continue:
            await conn.send(h11.InformationalResponse(status_code=100, headers=[]))
        chunks: list[bytes] = []
        while True:
            try:
                event = conn.h11.next_event()
            except h11.RemoteProtocolError as exc:
                conn.must_close = True
                raise BadRequest(str(exc)) from exc
            if event is h11.NEED_DATA:
                if await conn.receive(trio.current_time() + conn.config.body_timeout) is None:
                    conn.must_close = True
                    raise RequestTimeout("the request body stalled")
            elif isinstance(event, h11.Data):
                self._body_read += len(event.data)
                if self._body_read > max_size:
                    conn.must_close = True
                    raise BodyTooLarge(max_size)
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self._body_done = True
                return b"".join(chunks)
            else:
                raise BadRequest(f"unexpected {event!r} in a request body")

    async def _read_lean_body(self, size: int) -> bytes:
        conn = self._conn
        if len(conn.pending) < size:  # rarely: a body nearly always comes with its head
            deadline = trio.current_time() + conn.config.body_timeout
            while len(conn.pending) < size:
                data = await conn.read(deadline)
                if data is None:
                    conn.must_close = True
                    raise RequestTimeout("the request body stalled")
                if not data:
                    conn.must_close = True
                    raise BadRequest("the request body was cut short")  # as h11 says it
                conn.pending += data
                deadline = trio.current_time() + conn.config.body_timeout
        body, conn.pending = conn.pending[:size], conn.pending[size:]
        conn.lean_raw += body
        conn.lean_left = 0
        self._body_read = size
        self._body_done = True
        return body

    async def wait_disconnected(
        self, wake: Callable[[Callable[[], None]], None] | None = None
    ) -> bool:
        """Return ``True`` when the client closes or breaks the connection; for parked responses.

        ``wake(callback)``, when given, registers a callback to be called (once, from any task)
        to end the wait early: it then returns ``False``. Without it, run it beside a long wait
        and cancel it before answering. Only valid once the body was read or there is none
        (``GET``): it reads the socket, keeping any pipelined bytes for the next request (up to
        a request head's worth; past that it stops reading and only returns when woken or
        cancelled).
        """
        conn = self._conn
        if conn.lean is not None:
            if conn.lean_left:
                raise RuntimeError("read the request body before waiting for a disconnect")
        else:
            if conn.h11.their_state is h11.SEND_BODY and self._remaining() == 0:
                conn.h11.next_event()  # the EndOfMessage of an empty body
            if conn.h11.their_state is h11.SEND_BODY:
                raise RuntimeError("read the request body before waiting for a disconnect")
        if wake is not None and _sockio.is_direct(conn.stream) and _watch.available():
            disconnected = await self._until_disconnected_or_woken(wake)
            if self._unsent:
                data, self._unsent = self._unsent, b""
                await conn.write(data)
            return disconnected
        if wake is None:
            await self._until_disconnected()
            return True
        with trio.CancelScope() as scope:
            wake(scope.cancel)
            await self._until_disconnected()
        return not scope.cancelled_caught

    def _took(self, data: bytes) -> bool:
        """Keep bytes read from a parked request's connection; whether it may read on."""
        conn = self._conn
        conn.waited = True  # read after a wait: the next request needs no checkpoint of its own
        if conn.lean is not None:
            conn.pending += data
            return len(conn.pending) <= conn.config.max_header_bytes
        conn.h11_fresh = False
        conn.h11.receive_data(bytes(data))
        conn.waited = True
        # A client pipelining more than a head's worth waits its turn.
        return len(conn.h11.trailing_data[0]) <= conn.config.max_header_bytes

    async def _until_disconnected(self) -> None:
        conn = self._conn
        while True:
            try:
                data = await _sockio.receive_when_readable(
                    conn.stream, conn.config.receive_buffer_size)
            except STREAM_ERRORS:
                data = b""
            if not data:
                conn.must_close = True
                return
            if (len(data) == conn.config.receive_buffer_size
                    and isinstance(conn.stream, trio.SocketStream)):
                _watch.unread(conn.stream.socket)  # for the connection's next wait, on the watch
            if not self._took(data):
                await trio.sleep_forever()

    async def _until_disconnected_or_woken(
        self, wake: Callable[[Callable[[], None]], None]
    ) -> bool:
        conn = self._conn
        assert isinstance(conn.stream, trio.SocketStream)
        sock = conn.stream.socket
        watched: trio.socket.SocketType | None = sock
        # One a connection, for each of its parked requests: its deadline (respond_nowait's) is
        # then one entry in the watch's timers, not one a request until it expires.
        parked = conn.parker
        if parked is None:
            parked = conn.parker = _watch.ReadableOrWoken()
        else:
            parked.reset()
        self._parked = parked

        def wake_this() -> None:  # this request's wait only, not a later one's on the connection
            if self._parked is parked:
                parked.wake()

        wake(wake_this)
        try:
            while await parked.wait(watched):
                try:
                    data = os.read(sock.fileno(), conn.config.receive_buffer_size)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    conn.must_close = True
                    return True
                if len(data) == conn.config.receive_buffer_size:
                    _watch.unread(sock)  # no edge announces what this read left
                if not self._took(data):
                    watched = None
                if self.responded:  # by respond_nowait: this is the next request's beginning
                    return False
            if (self.responded and not self._unsent
                    and trio.current_time() >= self._idle_until):
                conn.must_close = True  # idle since respond_nowait answered, as next_request
            return False
        finally:
            self._parked = None

    async def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Send a whole response; ``Content-Length`` is set from ``body`` (omitted for HEAD).

        The connection is kept alive unless the client or ``headers`` say ``Connection: close``,
        the request body cannot be drained cheaply, or an error made it unusable.

        Raises:
            RuntimeError: the request was already answered.
            trio.BrokenResourceError, trio.ClosedResourceError: the client went away, or did not
                read the response within ``send_timeout`` (the connection is then closed).
        """
        await self._conn.write(self._response(status, headers, body))

    def respond_nowait(
        self, status: int, make: Callable[[], tuple[HeaderList, bytes]]
    ) -> bool:
        """Answer a request whose task waits in ``wait_disconnected(wake)``, from another task,
        at once and without yielding (a long-polling GET answered by whoever produced its
        output, as Node writes it): ``make()`` gives the headers and body, and is called only
        when the request can be answered so. ``False`` (``make`` not called) when it cannot (its
        task is not parked on the epoll watch, or h11 parsed it): wake it, and answer with
        ``respond``.

        The response is written as far as the socket takes it; the waiting task writes the rest
        (it is woken for that) or, when all went, goes on waiting on the connection:
        ``wait_disconnected`` returns ``False`` once the next request begins to arrive (its
        bytes kept for it), ``True`` if the client closes first.
        """
        parked = self._parked
        conn = self._conn
        if (parked is None or not parked.waiting or self.responded or conn.lean is None
                or conn.must_close):
            return False  # (h11's requests are answered by their task: h11 may refuse)
        headers, body = make()
        data = self._response(status, headers, body)
        sent = _sockio.write_now(conn.stream, data)
        if sent < len(data):
            self._unsent = data[sent:]
            parked.wake()
        else:  # the connection now waits for its next request: for keep_alive_timeout
            self._idle_until = trio.current_time() + conn.config.keep_alive_timeout
            parked.expire_at(self._idle_until)
        return True

    def _response(self, status: int, headers: HeaderList, body: bytes) -> bytes:
        """The bytes of the response (``respond``'s rules), the request marked answered."""
        conn = self._conn
        if self.responded:
            raise RuntimeError("this request was already answered")
        self.responded = True
        conn.answered()
        if conn.lean is not None:
            if conn.lean_left > conn.config.drain_limit:
                conn.must_close = True
            if not conn.must_close and self.method != "HEAD" and self._plain():
                head = fast_head(status, headers, len(body), conn.lines())
                if head is not None:
                    return head + body if body else head
            conn.catch_up()
        if conn.h11.their_state is h11.SEND_BODY:
            remaining = self._remaining()
            if (remaining is None or remaining > conn.config.drain_limit
                    or conn.h11.they_are_waiting_for_100_continue):
                conn.must_close = True
        if (not conn.must_close and conn.h11.our_state is h11.SEND_RESPONSE
                and conn.h11.their_state in _PLAIN_REQUEST
                and self.method not in ("HEAD", "CONNECT") and self._plain()):
            # The common case, byte for byte what h11 would write, without its event objects and
            # header normalisation; anything else goes through h11 below.
            head = fast_head(status, headers, len(body), conn.lines())
            if head is not None:
                conn.wrote_head = True
                return head + body if body else head
        out = framed(headers, len(body))
        if conn.must_close:
            out.append((b"connection", b"close"))
        events: list[h11.Event] = [
            h11.Response(status_code=status, headers=out, reason=reason(status))]
        if body and self.method != "HEAD":
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        return b"".join(conn.h11.send(e) or b"" for e in events)

    def continue_with(self, reader: Coroutine[Any, Any, object]) -> None:
        """Once ``accept_websocket`` returned: have ``reader`` (a coroutine not started yet, a
        WebSocket's reader) awaited in the connection's task after the handler has returned,
        rather than awaiting it in the handler. It then runs for the connection's whole life
        with neither the handler's frames nor this request beneath it. Closed unstarted if the
        handler raises.

        Raises:
            RuntimeError: no WebSocket was accepted, or a continuation is set already.
        """
        if self._conn.websocket is None or self._continuation is not None:
            reader.close()
            raise RuntimeError("continue_with() takes one reader, after accept_websocket()")
        self._continuation = reader

    def _take_continuation(self) -> Coroutine[Any, Any, object] | None:
        reader, self._continuation = self._continuation, None
        return reader

    def _drop_continuation(self) -> None:
        reader = self._take_continuation()
        if reader is not None:
            reader.close()

    async def accept_websocket(
        self, extra_headers: HeaderList = (), subprotocol: str | None = None
    ) -> StreamWebSocket:
        """Answer 101 and return the ``WebSocket``; the connection then belongs to it.

        permessage-deflate is accepted when the client offers it and the config allows it.
        The server closes the WebSocket (if still open) when the handler returns.

        Raises:
            BadRequest: not a valid WebSocket handshake (the server answers 400).
            RuntimeError: already answered.
            ValueError: a ``subprotocol`` the client did not offer, or an invalid extra header.
        """
        conn = self._conn
        if self.responded:
            raise RuntimeError("this request was already answered")
        if not self.is_websocket:
            raise BadRequest("not a WebSocket upgrade request")
        if conn.lean is not None:
            # h11 never saw this head (``_request_head``): what followed it is in ``pending``.
            trailing = conn.pending
        else:
            while True:
                event = conn.h11.next_event()
                if event is h11.PAUSED:
                    break
                if event is h11.NEED_DATA:
                    if not await conn.receive(trio.current_time() + conn.config.body_timeout):
                        conn.must_close = True
                        raise RequestTimeout("the upgrade request stalled")
            trailing = bytes(conn.h11.trailing_data[0])
        try:
            data, extensions = server_handshake(
                self.method, self.headers, per_message_deflate=conn.config.per_message_deflate,
                subprotocol=subprotocol,
                extra_headers=[(as_bytes(k), as_bytes(v)) for k, v in extra_headers])
        except HandshakeError as exc:
            conn.must_close = True
            raise BadRequest(f"invalid WebSocket handshake: {exc}") from exc
        self.responded = True
        conn.answered()
        cfg = conn.config
        websocket = server_websocket(
            conn.stream, extensions=extensions, subprotocol=subprotocol,
            max_message_size=cfg.max_message_size, close_timeout=cfg.close_timeout,
            receive_buffer_size=cfg.receive_buffer_size, received=trailing)
        conn.websocket = websocket
        conn.h11 = _HANDED_OVER  # the WebSocket owns the connection now; h11's state can go
        conn.lean = None
        if conn.reader is not None:  # (the WebSocket waits for its socket its own way)
            conn.reader.done()
            conn.reader = None
        conn.last_head = None
        conn.pending = conn.lean_raw = b""
        # The request may stay referenced for the WebSocket's whole life (by its handler's
        # frames, without ``continue_with``); its index of headers by name is a cache that
        # header() would make again: an idle session need not keep it (about 700 bytes).
        self._by_name = None
        await conn.stream.send_all(data)
        return websocket

    async def reject_websocket(
        self, status: int = 400, headers: HeaderList = (), body: bytes = b""
    ) -> None:
        """Refuse a WebSocket upgrade with a normal response, then close the connection."""
        self._conn.must_close = True
        await self.respond(status, headers, body)
