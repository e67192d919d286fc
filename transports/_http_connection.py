"""One connection of the HTTP/1.1 server: its stream, its h11 state or lean request and the
deadlines in force, and the response heads written without h11 (``fast_head``).

``http_server`` builds its requests (``HTTPRequest``) and its listeners on this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from http import HTTPStatus

import h11
import trio

from . import _sockio, _watch
from ._config import HTTPConfig
from ._headers import UNFRAMED, as_bytes
from ._interfaces import HeaderList
from ._request_head import PlainHead, parse_plain_head
from .websocket import StreamWebSocket

__all__ = ["STREAM_ERRORS", "Connection", "HeadLines", "fast_head", "reason"]

STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError)


# Response heads written without h11's event objects (see ``fast_head``). Header lines are
# cached by the (name, value) pair as given: a server sends the same few again and again.
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")  # RFC 9110 field-name, as h11 checks it
_FIELD_VALUE = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")  # h11's field-value
_NOT_FAST = (b"host", b"connection")  # h11 reorders or rewrites these: its path writes them
_SKIP = b""
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


def fast_head(status: int, headers: HeaderList, length: int, made: HeadLines) -> bytes | None:
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
    return b"HTTP/1.1 %d %s\r\n" % (status, reason(status))


def reason(status: int) -> bytes:
    """The reason phrase of ``status`` (``b""`` for one HTTP does not name)."""
    try:
        return HTTPStatus(status).phrase.encode("ascii")
    except ValueError:
        return b""


_STATUS_LINES = {status.value: _status_line(status.value) for status in HTTPStatus}


class Connection:
    """One server connection: the stream, its h11 state and the deadlines in force."""

    def __init__(self, stream: trio.abc.Stream, config: HTTPConfig,
                 admitted: Callable[[], None] | None = None) -> None:
        self.stream = stream
        self.reader = _watch.ReadableOrWoken() if _sockio.watchable(stream) else None
        # The waits of its parked requests, one after the other (made by the first).
        self.parker: _watch.ReadableOrWoken | None = None
        self.config = config
        # Called once the first request is answered (the listener may then accept another).
        self.admitted = admitted
        self.h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=config.max_header_bytes)
        # h11 was given nothing since its cycle began (it is IDLE, its buffer empty): kept here
        # rather than asked of h11 before each request (its trailing_data copies its buffer).
        self.h11_fresh = True
        self.must_close = False
        self.websocket: StreamWebSocket | None = None
        self.cycles = 0
        # The response to the current request was written without h11 (``fast_head``): h11 then
        # only parsed this cycle, and the next one gets a fresh h11 connection.
        self.wrote_head = False
        self.carried = False  # the next request had begun arriving when this cycle ended
        # What was carried was read by a wait (a parked request's): the task yielded since, and
        # the next request needs no checkpoint of its own (see next_request).
        self.waited = False
        # The lean path (``_request_head``): at the start of a cycle, while h11 holds nothing,
        # what arrives waits in ``pending``; a plain GET or POST is then served from it without
        # h11 (``lean`` is its head), and anything else is handed to h11 as it came.
        self.pending = b""
        self.lean: PlainHead | None = None
        self.lean_raw = b""  # the lean request's bytes taken so far, for catch_up
        self.lean_left = 0  # its body bytes not read yet
        self.head_lines: HeadLines | None = None  # made by the first fast response head
        # The last lean head parsed, and its bytes (see _parse).
        self.last_head: tuple[bytes, PlainHead] | None = None

    def lines(self) -> HeadLines:
        """The response header lines this connection made already (see ``fast_head``)."""
        if self.head_lines is None:
            self.head_lines = {}
        return self.head_lines

    async def read(self, deadline: float) -> bytes | None:
        """Read some bytes (``b""`` at the end); ``None`` when ``deadline`` passed first."""
        if self.reader is not None:  # the epoll watch keeps the deadline: no scope per read
            try:
                return await _sockio.receive_before(
                    self.stream, self.reader, deadline, self.config.receive_buffer_size)
            except STREAM_ERRORS:
                return b""
        with trio.CancelScope(deadline=deadline):
            try:
                return await _sockio.receive_when_readable(
                    self.stream, self.config.receive_buffer_size)
            except STREAM_ERRORS:
                return b""
        return None

    async def receive(self, deadline: float) -> bytes | None:
        """Read some bytes into h11; ``None`` when ``deadline`` passed first."""
        data = await self.read(deadline)
        if data is not None:
            self.h11_fresh = False
            self.h11.receive_data(data)
        return data

    def to_h11(self) -> None:
        """Hand what waits in ``pending`` to h11, which reads the connection from now on."""
        self.h11_fresh = False
        if self.pending:
            self.h11.receive_data(self.pending)
            self.pending = b""

    def catch_up(self) -> None:
        """Bring h11 to where the lean request is (its head and the body read so far), for a
        path that needs h11 after all; the connection is h11's from then on."""
        if self.lean is None:
            return
        self.h11_fresh = False
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
        """Write ``events`` through h11 (``write``'s rules)."""
        await self.write(b"".join(self.h11.send(e) or b"" for e in events))

    async def write(self, data: bytes) -> None:
        """Write ``data``; a client that takes none of it for ``send_timeout`` is cut off.

        Raises:
            trio.BrokenResourceError: the client stopped reading (the stream is closed).
        """
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
        body = f"{status} {reason(status).decode()}\n".encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"),
                   (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        try:
            await self.send(h11.Response(status_code=status, headers=headers,
                                         reason=reason(status)),
                            h11.Data(data=body), h11.EndOfMessage())
        except (h11.LocalProtocolError, *STREAM_ERRORS):
            pass

    async def next_request(self) -> h11.Request | PlainHead | None:
        """Wait for the next request head; ``None`` when the connection should end."""
        cfg = self.config
        started = self.carried if self.cycles else False
        # Made when a read needs it (a request already here needs none): header_timeout from
        # the request's first bytes, keep_alive_timeout before them on a reused connection.
        deadline: float | None = None
        received = self.waited
        self.waited = False
        while self.h11_fresh:
            # Nothing in h11: the lean path may serve this request.
            pending = self.pending
            if pending:
                head = self._parse(pending)
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
            if deadline is None:
                deadline = self._deadline(started)
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
                deadline = None
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
            if deadline is None:
                deadline = self._deadline(started)
            data = await self.receive(deadline)
            if data is None:
                if started:
                    await self.send_error(408)
                return None
            if data and not started:
                started = True
                deadline = None

    def _deadline(self, started: bool) -> float:
        cfg = self.config
        wait = cfg.keep_alive_timeout if self.cycles and not started else cfg.header_timeout
        return trio.current_time() + wait

    def _parse(self, pending: bytes) -> PlainHead | None:
        """``parse_plain_head``, for a head this connection did not parse just before: a
        long-polling client sends the same head again and again."""
        last = self.last_head
        if last is not None and pending.startswith(last[0]):
            kept = last[1]
            return PlainHead(kept.method, kept.target, kept.headers.copy(),
                             kept.content_length, kept.size, kept.upgrade)
        head = parse_plain_head(pending)
        if head is not None:  # kept apart: the request owns the list it is given
            self.last_head = (pending[:head.size], PlainHead(
                head.method, head.target, head.headers.copy(), head.content_length, head.size,
                head.upgrade))
        return head

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
            self.h11_fresh = not closed
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
        self.h11_fresh = not self.carried  # h11 is IDLE again
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
        for waiter in (self.reader, self.parker):
            if waiter is not None:
                waiter.done()
        try:
            if isinstance(self.stream, trio.abc.HalfCloseableStream):
                await self.stream.send_eof()
                with trio.move_on_after(self.config.linger_timeout):
                    while await self.stream.receive_some(self.config.receive_buffer_size):
                        pass
        except (*STREAM_ERRORS, trio.BusyResourceError):
            pass
        finally:
            await trio.aclose_forcefully(self.stream)
