"""An HTTP/1.1 server on trio with h11: one task per connection, keep-alive, WebSocket upgrades.

Per connection (RFC 9112): requests are read one at a time; the handler answers each with one
whole response (``Request.respond``) or takes the connection over (``accept_websocket``). After a
response the connection is reused when both sides allow it (h11 ``start_next_cycle``); an unread
request body is drained if small, otherwise the connection is closed. Bad requests get 400 (431 for
oversized heads) and a close; handler exceptions get 500 and are logged; a peer that resets the
connection only ends its own task.
"""

from __future__ import annotations

import logging
import os
import re
import ssl
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from urllib.parse import parse_qs, unquote

import h11
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection
from wsproto.events import Request as WSRequest
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.utilities import RemoteProtocolError as WSRemoteProtocolError

from . import _sockio, _watch
from ._admission import Admission, serve_admitted
from ._config import HTTPConfig
from ._errors import BadRequest, BodyTooLarge, HTTPError, RequestTimeout
from ._headers import UNFRAMED, as_bytes, framed
from ._interfaces import HeaderList, Request
from ._request_head import PlainHead, parse_plain_head
from .websocket import StreamWebSocket, server_websocket

__all__ = ["HTTPRequest", "Handler", "handle_stream", "serve_http"]

log = logging.getLogger("transports.http")

Handler = Callable[[Request], Awaitable[None]]

_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError)

# What a connection's h11 state becomes once a WebSocket took the connection over: one shared
# object in place of a connection's own parser state and buffers, never used again.
_HANDED_OVER = h11.Connection(h11.SERVER)


# Response heads written without h11's event objects (see ``_fast_head``). Header lines are
# cached by the (name, value) pair as given: a server sends the same few again and again.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")  # RFC 9110 field-name, as h11 checks it
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")  # h11's field-value
_NOT_FAST = (b"host", b"connection")  # h11 reorders or rewrites these: its path writes them
_SKIP = b""
# The client states in which a response is plain for h11 (not one proposing an upgrade, say).
_PLAIN_REQUEST = (h11.DONE, h11.SEND_BODY)
# Header lines made by a connection, by the (name, value) pair as given: a server sends the same
# few again and again, and a long-polling client sends each of its requests on one connection.
HeadLines = dict[tuple[str | bytes, str | bytes], bytes | None]


def _header_line(name: str | bytes, value: str | bytes, made: HeadLines) -> bytes | None:
    """``b"Name: value\\r\\n"``; ``_SKIP`` for a framing header; ``None`` for one h11 must
    write (a header it reorders or rewrites, or an invalid one it refuses). ``made``: the lines
    this connection made already."""
    key = (name, value)
    try:
        return made[key]
    except KeyError:
        pass
    except TypeError:  # unhashable (a bytearray): h11's path takes it
        return None
    raw_name, raw_value = as_bytes(name), as_bytes(value)
    lower = raw_name.lower()
    if lower in UNFRAMED:  # respond() sets the framing itself
        line = _SKIP
    elif (lower in _NOT_FAST or not _TOKEN.fullmatch(raw_name)
            or not _FIELD_VALUE.fullmatch(raw_value)):
        line = None
    else:
        line = b"%s: %s\r\n" % (raw_name, raw_value)
    if len(made) >= 64:
        made.clear()  # bounded, whatever values a handler makes up
    made[key] = line
    return line


def _fast_head(status: int, headers: HeaderList, length: int, made: HeadLines) -> bytes | None:
    """The response head h11 would write for these headers on a kept-alive connection, or
    ``None`` when h11 has to write it (anything but plain Content-Length framing)."""
    if not 200 <= status < 1000 or status in (204, 304):
        return None
    lines = [_STATUS_LINES.get(status) or _status_line(status)]
    for name, value in headers:
        line = _header_line(name, value, made)
        if line is None:
            return None
        if line:
            lines.append(line)
    lines.append(b"content-length: %d\r\n\r\n" % length)
    return b"".join(lines)


def _status_line(status: int) -> bytes:
    return b"HTTP/1.1 %d %s\r\n" % (status, _reason(status))


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


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


_STATUS_LINES = {status.value: _status_line(status.value) for status in HTTPStatus}


class _Connection:
    """One server connection: the stream, its h11 state and the deadlines in force."""

    def __init__(self, stream: trio.abc.Stream, config: HTTPConfig,
                 admitted: Callable[[], None] | None = None) -> None:
        self.stream = stream
        self.config = config
        # Called once the first request is answered (the listener may then accept another).
        self.admitted = admitted
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=config.max_header_bytes)
        self.must_close = False
        self.websocket: StreamWebSocket | None = None
        self.cycles = 0
        # The response to the current request was written without h11 (``_fast_head``): h11 then
        # only parsed this cycle, and the next one gets a fresh h11 connection.
        self.wrote_head = False
        self.carried = False  # the next request had begun arriving when this cycle ended
        # The lean path (``_request_head``): at the start of a cycle, while h11 holds nothing,
        # what arrives waits in ``pending``; a plain GET or POST is then served from it without
        # h11 (``lean`` is its head), and anything else is handed to h11 as it came.
        self.pending = b""
        self.lean: PlainHead | None = None
        self.lean_raw = b""  # the lean request's bytes taken so far, for catch_up
        self.lean_left = 0  # its body bytes not read yet
        self.head_lines: HeadLines | None = None  # made by the first fast response head

    def lines(self) -> HeadLines:
        """The response header lines this connection made already (see ``_fast_head``)."""
        if self.head_lines is None:
            self.head_lines = {}
        return self.head_lines

    async def read(self, deadline: float) -> bytes | None:
        """Read some bytes (``b""`` at the end); ``None`` when ``deadline`` passed first."""
        with trio.CancelScope(deadline=deadline):
            try:
                return await _sockio.receive_when_readable(
                    self.stream, self.config.receive_buffer_size)
            except _STREAM_ERRORS:
                return b""
        return None

    async def receive(self, deadline: float) -> bytes | None:
        """Read some bytes into h11; ``None`` when ``deadline`` passed first."""
        data = await self.read(deadline)
        if data is not None:
            self.h11.receive_data(data)
        return data

    def to_h11(self) -> None:
        """Hand what waits in ``pending`` to h11, which reads the connection from now on."""
        if self.pending:
            self.h11.receive_data(self.pending)
            self.pending = b""

    def catch_up(self) -> None:
        """Bring h11 to where the lean request is (its head and the body read so far), for a
        path that needs h11 after all; the connection is h11's from then on."""
        if self.lean is None:
            return
        self.h11.receive_data(self.lean_raw)
        event = self.h11.next_event()
        assert isinstance(event, h11.Request), event  # h11 takes every lean head
        if self.lean_left == 0 and self.lean.content_length:
            while not isinstance(self.h11.next_event(), h11.EndOfMessage):
                pass
        self.lean = None
        self.lean_raw = b""
        self.to_h11()

    async def send(self, *events: h11.Event) -> None:
        await self.write(b"".join(self.h11.send(e) or b"" for e in events))

    async def write(self, data: bytes) -> None:
        sent = _sockio.write_now(self.stream, data)
        if sent == len(data):
            return
        if sent:
            data = data[sent:]
        # The socket buffer is full (or this is not a plain socket): wait for the client, but
        # only so long.
        with trio.move_on_after(self.config.send_timeout):
            await self.stream.send_all(data)
            return
        # A client that stopped reading would otherwise hold this task and its socket for ever.
        self.must_close = True
        await trio.aclose_forcefully(self.stream)
        raise trio.BrokenResourceError("the client stopped reading the response")

    def answered(self) -> None:
        """The current request is answered: the connection no longer counts as opening."""
        if self.admitted is not None:
            self.admitted()
            self.admitted = None

    async def send_error(self, status: int) -> None:
        """Answer ``status`` with a short text body and ``Connection: close``, if still possible."""
        self.answered()
        self.must_close = True
        self.catch_up()
        if self.wrote_head or self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = f"{status} {_reason(status).decode()}\n".encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"),
                   (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        try:
            await self.send(h11.Response(status_code=status, headers=headers,
                                         reason=_reason(status)),
                            h11.Data(data=body), h11.EndOfMessage())
        except (h11.LocalProtocolError, *_STREAM_ERRORS):
            pass

    async def next_request(self) -> h11.Request | PlainHead | None:
        """Wait for the next request head; ``None`` when the connection should end."""
        cfg = self.config
        idle = cfg.keep_alive_timeout if self.cycles else cfg.header_timeout
        deadline = trio.current_time() + idle
        started = self.carried if self.cycles else False
        if started:
            deadline = trio.current_time() + cfg.header_timeout
        received = False
        while self.h11.their_state is h11.IDLE and not self.h11.trailing_data[0]:
            # Nothing in h11: the lean path may serve this request.
            pending = self.pending
            if pending:
                head = parse_plain_head(pending)
                if head is not None:
                    self.lean = head
                    self.lean_raw = pending[:head.size]
                    self.lean_left = head.content_length
                    self.pending = pending[head.size:]
                    if not received:
                        await trio.lowlevel.checkpoint()  # as below, for pipelined requests
                    return head
                word = b"POST " if pending[:1] == b"P" else b"GET "
                if (b"\r\n\r\n" in pending or len(pending) > cfg.max_header_bytes
                        or not word.startswith(pending[:len(word)])):
                    break  # not a plain head, complete or not: h11's
            received = True
            data = await self.read(deadline)
            if data is None:
                if started:
                    self.to_h11()
                    await self.send_error(408)
                return None
            if not data:
                self.to_h11()
                self.h11.receive_data(b"")
                break
            self.pending += data
            if not started:
                started = True
                deadline = trio.current_time() + cfg.header_timeout
        self.to_h11()
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                await self.send_error(exc.error_status_hint)
                return None
            if isinstance(event, h11.Request):
                if not received:
                    # Pipelined: responses are written without a checkpoint, so one here keeps
                    # a client that queued many requests from holding the run loop.
                    await trio.lowlevel.checkpoint()
                return event
            if event is not h11.NEED_DATA:
                return None
            received = True
            data = await self.receive(deadline)
            if data is None:
                if started:
                    await self.send_error(408)
                return None
            if data and not started:
                started = True
                deadline = trio.current_time() + cfg.header_timeout

    async def finish_cycle(self) -> bool:
        """After a response: drain a small unread body, then reuse the connection if allowed."""
        if self.lean is not None:
            return await self._finish_lean()
        conn = self.h11
        if not self.must_close and conn.their_state is h11.SEND_BODY:
            deadline = trio.current_time() + self.config.body_timeout
            drained = 0
            while conn.their_state is h11.SEND_BODY and drained <= self.config.drain_limit:
                try:
                    event = conn.next_event()
                except h11.RemoteProtocolError:
                    return False
                if event is h11.NEED_DATA:
                    if not await self.receive(deadline):
                        return False
                elif isinstance(event, h11.Data):
                    drained += len(event.data)
        if self.wrote_head:
            # A kept-alive exchange h11 did not see answered: the next one starts afresh, with
            # what the client already sent of it.
            if self.must_close or conn.their_state is not h11.DONE:
                return False
            data, closed = conn.trailing_data
            self.h11 = h11.Connection(
                h11.SERVER, max_incomplete_event_size=self.config.max_header_bytes)
            if closed:
                self.h11.receive_data(bytes(data))
                self.h11.receive_data(b"")
            else:
                self.pending = bytes(data)  # the lean path may take the next request
            self.carried = bool(data)
            self.wrote_head = False
            self.cycles += 1
            return True
        if self.must_close or conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
            return False
        conn.start_next_cycle()
        self.carried = bool(conn.trailing_data[0])
        self.cycles += 1
        return True

    async def _finish_lean(self) -> bool:
        """``finish_cycle`` for a lean request: h11 saw none of it, and stays as it was."""
        left = self.lean_left
        if left and not self.must_close:
            deadline = trio.current_time() + self.config.body_timeout
            while len(self.pending) < left:
                data = await self.read(deadline)
                if not data:
                    return False
                self.pending += data
            self.pending = self.pending[left:]
        self.lean = None
        self.lean_raw = b""
        self.lean_left = 0
        if self.must_close:
            return False
        self.wrote_head = False
        self.carried = bool(self.pending)
        self.cycles += 1
        return True

    async def close(self) -> None:
        """Half-close, discard what the client still sends for ``linger_timeout``, then close."""
        try:
            if isinstance(self.stream, trio.abc.HalfCloseableStream):
                await self.stream.send_eof()
                with trio.move_on_after(self.config.linger_timeout):
                    while await self.stream.receive_some(self.config.receive_buffer_size):
                        pass
        except (*_STREAM_ERRORS, trio.BusyResourceError):
            pass
        finally:
            await trio.aclose_forcefully(self.stream)


class HTTPRequest:
    """One HTTP request on our HTTP/1.1 server (a ``transports.Request``), answered once by
    ``respond``, ``accept_websocket`` or ``reject_websocket``.

    Attributes:
        method: ``"GET"``, ``"POST"``...; target: the raw request target (path and query).
        path: the percent-decoded path; raw_query: the query string as sent.
        query: the first value of each query parameter; query_lists: every value of each.
        headers: ``(name, value)`` pairs as sent, names lowercased (bytes).
        client: ``(host, port)`` of the peer (``("", 0)`` when unknown, e.g. memory streams).
        secure: whether the connection is TLS; scheme: ``"https"`` or ``"http"``.
        http_version: ``"1.1"`` or ``"1.0"``.
    """

    _by_name: dict[bytes, str] | None = None  # the headers by name, made by the first header()

    def __init__(
        self, conn: _Connection, event: h11.Request | PlainHead, client: tuple[str, int],
        secure: bool, headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self._conn = conn
        self.method = event.method if isinstance(event.method, str) else event.method.decode(
            "ascii")
        self.target = event.target.decode("latin-1")
        raw_path, _, self.raw_query = self.target.partition("?")
        self.path = unquote(raw_path)
        self.query_lists = _parse_query(self.raw_query)
        self.query = {k: v[0] for k, v in self.query_lists.items()}
        self.headers: list[tuple[bytes, bytes]] = (
            list(event.headers) if headers is None else headers)
        self._websocket: bool | None = None
        self.http_version = ("1.1" if isinstance(event, PlainHead)
                             else event.http_version.decode("ascii"))
        self.client = client
        self.secure = secure
        self.scheme = "https" if secure else "http"
        self.responded = False
        self._body_read = 0
        self._body_done = False

    @property
    def client_host(self) -> str:
        """The peer's address (``""`` when unknown)."""
        return self.client[0]

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), repeated fields joined by ``", "``."""
        key = name.lower().encode("latin-1")
        by_name = self._by_name
        if by_name is None:
            # Several headers are asked for per request: one pass over them answers all.
            by_name = self._by_name = {}
            for k, v in self.headers:
                value = v.decode("latin-1")
                by_name[k] = value if k not in by_name else f"{by_name[k]}, {value}"
        return by_name.get(key)

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
            return await self._until_disconnected_or_woken(wake)
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
        if conn.lean is not None:
            conn.pending += data
            return len(conn.pending) <= conn.config.max_header_bytes
        conn.h11.receive_data(bytes(data))
        # A client pipelining more than a head's worth waits its turn.
        return len(conn.h11.trailing_data[0]) <= conn.config.max_header_bytes

    async def _until_disconnected(self) -> None:
        conn = self._conn
        while True:
            try:
                data = await _sockio.receive_when_readable(
                    conn.stream, conn.config.receive_buffer_size)
            except _STREAM_ERRORS:
                data = b""
            if not data:
                conn.must_close = True
                return
            if not self._took(data):
                await trio.sleep_forever()

    async def _until_disconnected_or_woken(
        self, wake: Callable[[Callable[[], None]], None]
    ) -> bool:
        conn = self._conn
        assert isinstance(conn.stream, trio.SocketStream)
        sock = conn.stream.socket
        watched: trio.socket.SocketType | None = sock
        parked = _watch.ReadableOrWoken()
        wake(parked.wake)
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
            if not self._took(data):
                watched = None
        return False

    async def respond(self, status: int, headers: HeaderList = (), body: bytes = b"") -> None:
        """Send a whole response; ``Content-Length`` is set from ``body`` (omitted for HEAD).

        The connection is kept alive unless the client or ``headers`` say ``Connection: close``,
        the request body cannot be drained cheaply, or an error made it unusable.

        Raises:
            RuntimeError: the request was already answered.
            trio.BrokenResourceError, trio.ClosedResourceError: the client went away, or did not
                read the response within ``send_timeout`` (the connection is then closed).
        """
        conn = self._conn
        if self.responded:
            raise RuntimeError("this request was already answered")
        self.responded = True
        conn.answered()
        if conn.lean is not None:
            if conn.lean_left > conn.config.drain_limit:
                conn.must_close = True
            if not conn.must_close and self.method != "HEAD" and self._plain():
                head = _fast_head(status, headers, len(body), conn.lines())
                if head is not None:
                    await conn.write(head + body if body else head)
                    return
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
            head = _fast_head(status, headers, len(body), conn.lines())
            if head is not None:
                conn.wrote_head = True
                await conn.write(head + body if body else head)
                return
        out = framed(headers, len(body))
        if conn.must_close:
            out.append((b"connection", b"close"))
        events: list[h11.Event] = [
            h11.Response(status_code=status, headers=out, reason=_reason(status))]
        if body and self.method != "HEAD":
            events.append(h11.Data(data=body))
        events.append(h11.EndOfMessage())
        await conn.send(*events)

    async def accept_websocket(
        self, extra_headers: HeaderList = (), subprotocol: str | None = None
    ) -> StreamWebSocket:
        """Answer 101 and return the ``WebSocket``; the connection then belongs to it.

        permessage-deflate is accepted when the client offers it and the config allows it.
        The server closes the WebSocket (if still open) when the handler returns.

        Raises:
            BadRequest: not a valid WebSocket handshake (the server answers 400).
            RuntimeError: already answered.
        """
        conn = self._conn
        if self.responded:
            raise RuntimeError("this request was already answered")
        if not self.is_websocket:
            raise BadRequest("not a WebSocket upgrade request")
        while True:
            event = conn.h11.next_event()
            if event is h11.PAUSED:
                break
            if event is h11.NEED_DATA:
                if not await conn.receive(trio.current_time() + conn.config.body_timeout):
                    conn.must_close = True
                    raise RequestTimeout("the upgrade request stalled")
        trailing, _ = conn.h11.trailing_data
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.initiate_upgrade_connection(self.headers, self.target)
            request = next(e for e in ws.events() if isinstance(e, WSRequest))
        except WSRemoteProtocolError as exc:
            conn.must_close = True
            raise BadRequest(f"invalid WebSocket handshake: {exc}") from exc
        extensions: list[Extension] = []
        offered = [str(e).split(";", 1)[0].strip() for e in request.extensions]
        if conn.config.per_message_deflate and "permessage-deflate" in offered:
            extensions.append(PerMessageDeflate())
        accept = AcceptConnection(
            subprotocol=subprotocol, extensions=extensions,
            extra_headers=[(as_bytes(k), as_bytes(v)) for k, v in extra_headers])
        data = ws.send(accept)
        self.responded = True
        conn.answered()
        cfg = conn.config
        websocket = server_websocket(
            conn.stream, ws, accept, max_message_size=cfg.max_message_size,
            close_timeout=cfg.close_timeout, receive_buffer_size=cfg.receive_buffer_size,
            received=bytes(trailing))
        conn.websocket = websocket
        conn.h11 = _HANDED_OVER  # the WebSocket owns the connection now; h11's state can go
        # The request stays referenced for the WebSocket's whole life (its handler's frames);
        # its index of headers by name is a cache that header() would make again: an idle
        # session need not keep it (about 700 bytes).
        self._by_name = None
        await conn.stream.send_all(data)
        return websocket

    async def reject_websocket(
        self, status: int = 400, headers: HeaderList = (), body: bytes = b""
    ) -> None:
        """Refuse a WebSocket upgrade with a normal response, then close the connection."""
        self._conn.must_close = True
        await self.respond(status, headers, body)


async def handle_stream(
    stream: trio.abc.Stream,
    handler: Handler,
    config: HTTPConfig | None = None,
    *,
    client: tuple[str, int] | None = None,
    secure: bool | None = None,
    admitted: Callable[[], None] | None = None,
) -> None:
    """Serve HTTP/1.1 on ``stream`` until the connection ends; never raises for peer errors.

    Args:
        handler: awaited once per request; must answer it (else 500 is sent).
        client: the peer address; read from the socket when omitted.
        secure: whether ``stream`` is TLS; detected (``trio.SSLStream``) when omitted.
        admitted: called once the first request is answered (or the connection ended).
    """
    cfg = config or HTTPConfig()
    if secure is None:
        secure = isinstance(stream, trio.SSLStream)
    if client is None:
        client = _peer(stream)
    conn = _Connection(stream, cfg, admitted)
    try:
        await _serve(conn, handler, client, secure)
    except _STREAM_ERRORS:
        log.debug("connection from %s lost", client)
    except Exception:
        log.exception("HTTP connection from %s failed", client)
    finally:
        if conn.websocket is not None:
            await conn.websocket.aclose(1001, "going away")
        else:
            await conn.close()


async def _serve(
    conn: _Connection, handler: Handler, client: tuple[str, int], secure: bool
) -> None:
    while True:
        request = await _next_request(conn, client, secure)
        if request is None:
            return
        try:
            await handler(request)
        except HTTPError as exc:
            if not request.responded:
                conn.must_close = True
                await conn.send_error(exc.status)
                return
        except _STREAM_ERRORS:
            raise
        except Exception:
            log.exception("HTTP handler failed on %s %s", request.method, request.target)
            if conn.websocket is None and not request.responded:
                await conn.send_error(500)
            return
        if conn.websocket is not None:
            return
        if not request.responded:
            log.error("HTTP handler returned without answering %s %s",
                      request.method, request.target)
            await conn.send_error(500)
            return
        if not await conn.finish_cycle():
            return


async def _next_request(
    conn: _Connection, client: tuple[str, int], secure: bool
) -> HTTPRequest | None:
    # Apart from ``_serve`` so that h11's event does not stay alive as long as the request (a
    # WebSocket's whole life).
    event = await conn.next_request()
    if event is None:
        return None
    headers = list(event.headers)
    head_size = len(event.target) + sum(len(k) + len(v) + 4 for k, v in headers)
    if len(headers) > conn.config.max_headers or head_size > conn.config.max_header_bytes:
        await conn.send_error(431)
        return None
    return HTTPRequest(conn, event, client, secure, headers)


def _peer(stream: trio.abc.Stream) -> tuple[str, int]:
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        try:
            peer = stream.socket.getpeername()
        except OSError:
            return ("", 0)
        if isinstance(peer, tuple):
            return (str(peer[0]), int(peer[1]))
    return ("", 0)


async def serve_http(
    handler: Handler,
    host: str | None,
    port: int,
    *,
    config: HTTPConfig | None = None,
    ssl_context: ssl.SSLContext | None = None,
    handler_nursery: trio.Nursery | None = None,
    listeners: list[trio.SocketListener] | None = None,
    task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` and serve HTTP/1.1 (and WebSocket upgrades) until cancelled.

    ``task_status.started`` reports the listeners (port 0 picks a free port; read it with
    ``listeners[0].socket.getsockname()``). With ``ssl_context`` each connection is TLS.
    ``listeners`` already open (``trio.open_tcp_listeners``) are served instead of
    ``host:port``.
    """
    cfg = config or HTTPConfig()
    if listeners is None:
        listeners = await trio.open_tcp_listeners(port, host=host)
    admission = Admission(cfg.accept_limit, cfg.accept_hold)
    if ssl_context is None:
        _watch.prepare()  # its task made now, with the server's, not while serving
    await serve_admitted(partial(_serve_socket, handler=handler, config=cfg,
                                 ssl_context=ssl_context),
                         listeners, admission, handler_nursery=handler_nursery,
                         task_status=task_status)


async def _serve_socket(
    stream: trio.SocketStream,
    admitted: Callable[[], None],
    *,
    handler: Handler,
    config: HTTPConfig,
    ssl_context: ssl.SSLContext | None,
) -> None:
    if ssl_context is None:
        await handle_stream(stream, handler, config, secure=False, admitted=admitted)
        return
    client = _peer(stream)
    tls = trio.SSLStream(stream, ssl_context, server_side=True)
    try:
        with trio.fail_after(config.header_timeout):
            await tls.do_handshake()
    except (*_STREAM_ERRORS, trio.TooSlowError):
        await trio.aclose_forcefully(tls)
        return
    await handle_stream(tls, handler, config, client=client, secure=True, admitted=admitted)
