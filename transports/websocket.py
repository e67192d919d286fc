"""A WebSocket over a trio stream, on wsproto: whole messages in and out, either role.

One task may ``receive`` at a time; ``send``/``send_many``/``aclose`` may be called from any
number of tasks (writes are serialized by one lock, which also keeps permessage-deflate's
compression context in wire order). Pings are answered by whoever is reading.

A server without an extension reads and writes whole text/binary frames itself
(``_wsframes``), the bulk of the traffic; wsproto takes over the reading for good at the first
other frame, so every other rule and close code stays wsproto's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection, ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.utilities import RemoteProtocolError as WSRemoteProtocolError

from . import _sockio, _watch
from ._errors import HTTPClientError, WebSocketClosed
from ._wsframes import build_frame, mask_frame, take_messages

__all__ = ["StreamWebSocket", "connect_websocket", "frame_message"]

_ABNORMAL = 1006
_TOO_BIG = 1009
_INFLATE_FEED = 4096
_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError)


def frame_message(message: str | bytes) -> bytes:
    """The unmasked frame of one whole message without extensions: the bytes a server
    WebSocket whose ``frames_shared`` is true sends for it (text for ``str``).

    Raises:
        UnicodeEncodeError: ``message`` holds a lone surrogate.
    """
    return b"".join(build_frame(message))


class StreamWebSocket(trio.abc.AsyncResource):
    """An open WebSocket over a trio stream (a ``transports.WebSocket``); made by
    ``HTTPRequest.accept_websocket`` or ``connect_websocket``.

    Attributes:
        stream: the underlying trio stream (owned: closed with the WebSocket; close the
            WebSocket rather than the stream while a task receives, so that its wait ends).
        subprotocol: the negotiated subprotocol, if any.
        extensions: the names of the negotiated extensions (e.g. ``("permessage-deflate",)``).
        closed: ``None`` while open, else a ``WebSocketClosed`` like those ``receive``/``send``
            raise (a copy of it is raised each time: see ``WebSocketClosed.fresh``).
        bytes_sent: how many bytes the stream has taken so far through the message writes
            (a writer that sees it grow knows its peer is still reading).
    """

    # Whether frames are the same bytes on every connection (see ``frames_shared``); false for
    # a subclass that moves messages some other way (the ASGI WebSocket).
    _shares = False

    def __init__(
        self,
        stream: trio.abc.Stream,
        connection: WSConnection | Connection | None,
        *,
        max_message_size: int,
        close_timeout: float = 5.0,
        receive_buffer_size: int = 64 * 1024,
        subprotocol: str | None = None,
        extensions: Sequence[str] = (),
        received: bytes = b"",
    ) -> None:
        self.stream = stream
        self.subprotocol = subprotocol
        self.extensions = tuple(extensions)
        self.closed: WebSocketClosed | None = None
        # Once the handshake is done only its frame layer is needed: holding that alone lets
        # the handshake's HTTP state go.
        conn: WSConnection | Connection | None = (
            connection.connection
            if isinstance(connection, WSConnection) and connection.connection is not None
            else connection)
        self._max_message_size = max_message_size
        self._close_timeout = close_timeout
        self._bufsize = receive_buffer_size
        # Made by the first write that may wait (about 330 bytes): an idle WebSocket, whose
        # frames go out with send_framed_nowait, never needs it.
        self._write_lock: trio.StrictFIFOLock | None = None
        self._owed = b""  # see send_framed_nowait
        self.bytes_sent = 0
        # An empty tuple while empty: an idle WebSocket holds no empty list (each is an object
        # the garbage collector's full collections visit, thousands on a busy server).
        self._parts: list[str | bytes] | tuple[()] = ()
        self._size = 0
        self._messages: list[str | bytes] | tuple[()] = ()
        self._reading = False
        self._close_seen = False  # the closing handshake is over (or the socket went)
        self._close_event: trio.Event | None = None  # made for a task waiting for it
        self._stream_closed = False
        self._pending = b""
        # Whether the last read emptied the socket (it returned less than asked): the next one
        # then waits for data first instead of trying a read that would find none.
        self._drained = True
        # A plain socket's, for the writes that do not wait (``send_framed_nowait``).
        self._sock = (stream.socket if _sockio.is_direct(stream)
                      and isinstance(stream, trio.SocketStream) else None)
        # A plain socket on Linux is waited for on one registration kept for the WebSocket's
        # life (made at the first read), rather than one trio re-arms for each wait.
        self._watchable = self._sock is not None and _watch.available()
        self._readable: _watch.Readable | None = None
        # Without an extension a server decodes the common frames itself (whole text/binary
        # messages) until the first other frame; from that frame's first byte on, every byte
        # goes to wsproto, whose state is then clean since it has only seen whole messages.
        self._shares = not (self.extensions or (conn is not None and conn.client))
        self._fast = self._shares
        if self._fast and (conn is None or conn.state is ConnectionState.OPEN):
            # wsproto's connection is 1.7 KiB, and the fast path may never need it: it is made
            # again when first needed (``_proto``), the same as the handshake left it.
            self._conn: WSConnection | Connection | None = None
        else:
            self._conn = conn
        self._partial: bytes | bytearray = b""
        if received:
            # Frames that came with the handshake.
            if self._fast:
                self._take_fast(received)
            else:
                self._proto().receive_data(received)

    def _proto(self) -> WSConnection | Connection:
        """wsproto's connection, made on first use by a server without extensions: OPEN and
        holding nothing, as the handshake left it (a server Connection keeps no other state)."""
        conn = self._conn
        if conn is None:
            conn = self._conn = Connection(ConnectionType.SERVER)
        return conn

    @property
    def is_open(self) -> bool:
        """Whether messages can still be sent."""
        return self.closed is None and (
            self._conn is None or self._conn.state is ConnectionState.OPEN)

    async def receive(self) -> str | bytes:
        """Return the next whole message: ``str`` for text, ``bytes`` for binary.

        Raises:
            WebSocketClosed: the connection closed (peer's code and reason; 1006 if the socket
                went without a Close frame; 1009/1002 when we failed it for size or protocol).
            trio.BusyResourceError: another task is already receiving.
        """
        if self._reading:
            raise trio.BusyResourceError("another task is already receiving on this WebSocket")
        self._reading = True
        try:
            while True:
                await self._process_events()
                messages = self._messages
                if messages:
                    message = messages.pop(0)
                    if not messages:
                        self._messages = ()
                    return message
                if self.closed is not None:
                    raise self.closed.fresh()
                readable = self._readable
                if readable is None or self._pending or not (self._drained and self._fast):
                    await self._read_more()
                    continue
                # The usual wait of a server's WebSocket, as _read_more would make it, made
                # here: no frame of ours is left between the reader and trio's wait, for as
                # long as the connection is idle (each one an object the garbage collector's
                # full collections visit, thousands of them on a busy server).
                try:
                    await readable.wait()
                    assert self._sock is not None  # (as for every watched WebSocket)
                    data = _sockio.read_now(self._sock, self._bufsize)
                except _STREAM_ERRORS:
                    data = b""
                if data is not None and not self._took(data):  # (None: nothing after all)
                    await self._close_stream()
        finally:
            self._reading = False

    def receive_buffered(self) -> Sequence[str | bytes]:
        """Take the whole messages already read and decoded, without waiting (may be empty).

        For a caller that must act on everything one read brought before it yields.
        """
        messages, self._messages = self._messages, ()
        return messages

    async def send(self, message: str | bytes) -> None:
        """Send one message (text for ``str``, binary for ``bytes``).

        Raises:
            WebSocketClosed: the connection is closed or closing, or the socket broke.
        """
        await self.send_many((message,))

    async def send_many(self, messages: Iterable[str | bytes]) -> None:
        """Send several messages in order with a single socket write.

        Raises:
            WebSocketClosed: as ``send``; none of the messages was sent if closed beforehand.
        """
        try:
            # The lock is nearly always free: taking it without a scheduler pass saves one per
            # write (the socket write that follows yields anyway).
            lock = self._lock()
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            if not self.is_open:
                raise self._closed_error()
            data = b"".join(map(self._frame, messages))
            if data:
                await self._send_all(data)
        finally:
            lock.release()

    def send_framed_nowait(self, data: bytes) -> bool:
        """Write whole frames made by ``frame_message`` (on a WebSocket whose ``frames_shared``
        is true) as far as the socket takes them now, without waiting or yielding.

        Returns ``True`` when all of ``data`` went. Otherwise the rest is kept, to go before
        anything else sent on this WebSocket, and someone must await ``flush`` (which raises
        ``WebSocketClosed`` if the connection is closed or broke).
        """
        lock = self._write_lock
        conn = self._conn
        if (self._owed or self.closed is not None or (lock is not None and lock.locked())
                or (conn is not None and conn.state is not ConnectionState.OPEN)):
            self._owed += data  # after what is already under way
            return False
        sent = 0
        sock = self._sock
        if sock is not None:
            # As _sockio.write_now, inline: this runs once per message and recipient.
            fd = sock.fileno()
            if fd >= 0:
                try:
                    sent = os.write(fd, data)
                except OSError:  # EPIPE once shut for writing: flush's send_all raises
                    pass
        self.bytes_sent += sent
        if sent == len(data):
            return True
        self._owed = data[sent:]
        return False

    async def flush(self) -> None:
        """Write what ``send_framed_nowait`` left, waiting for the socket as long as it takes.

        Raises:
            WebSocketClosed: as ``send``.
        """
        if not self._owed:
            return
        try:
            lock = self._lock()
            lock.acquire_nowait()
        except trio.WouldBlock:
            await lock.acquire()
        try:
            if not self.is_open:
                self._owed = b""
                raise self._closed_error()
            await self._send_all(b"")
        finally:
            lock.release()

    @property
    def frames_shared(self) -> bool:
        """Whether a message's frame is the same bytes on every WebSocket like this one (a server
        without extensions: wsproto keeps no state across whole messages), so that a message
        sent on many may be framed once (``frame_message``) and sent with
        ``send_framed_nowait``."""
        return self._shares

    def _frame(self, message: str | bytes) -> bytes:
        conn = self._conn
        if conn is None or self._shares:
            return frame_message(message)
        if not self.extensions:
            # A client's frame, masked here (in C with the speedups extra) rather than by
            # wsproto in Python: the same bytes for the same key, and wsproto keeps no state
            # across whole messages.
            return mask_frame(message, os.urandom(4))
        return conn.send(TextMessage(data=message) if isinstance(message, str)
                         else BytesMessage(data=bytes(message)))

    async def ping(self, payload: bytes = b"") -> None:
        """Send a Ping frame (the answering Pong is consumed by the reader)."""
        async with self._lock():
            if not self.is_open:
                raise self._closed_error()
            await self._send_all(self._proto().send(Ping(payload=payload)))

    async def aclose(self, code: int = 1000, reason: str = "") -> None:
        """Close: send a Close frame, wait up to ``close_timeout`` for the peer's, close the stream.

        Idempotent; never raises for a broken socket. Messages received meanwhile are discarded
        unless a reader takes them.
        """
        if self._stream_closed:
            return
        try:
            await self._send_close(code, reason)
            if self.closed is None:
                self.closed = WebSocketClosed(code, reason)
            with trio.move_on_after(self._close_timeout):
                if self._reading:
                    if not self._close_seen:
                        if self._close_event is None:
                            self._close_event = trio.Event()
                        await self._close_event.wait()
                else:
                    self._reading = True
                    try:
                        while not self._close_seen:
                            await self._read_more()
                            await self._process_events()
                    finally:
                        self._reading = False
        finally:
            await self._close_stream()

    async def _send_close(self, code: int, reason: str) -> None:
        with trio.move_on_after(self._close_timeout):
            async with self._lock():
                if self._proto().state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                    data = self._take_owed(
                        self._proto().send(CloseConnection(code=code, reason=reason)))
                    try:
                        await self.stream.send_all(data)
                    except _STREAM_ERRORS:
                        self._lost()

    def _take_owed(self, data: bytes) -> bytes:
        # What send_framed_nowait left goes first, under the write lock like any write.
        if self._owed:
            data, self._owed = self._owed + data, b""
        return data

    async def _send_all(self, data: bytes) -> None:
        data = self._take_owed(data)
        if not data:
            return
        try:
            await _sockio.send_all(self.stream, data, self._count_sent)
        except _STREAM_ERRORS as exc:
            self._lost()
            raise self._closed_error() from exc

    def _lock(self) -> trio.StrictFIFOLock:
        lock = self._write_lock
        if lock is None:
            lock = self._write_lock = trio.StrictFIFOLock()
        return lock

    def _saw_close(self) -> None:
        self._close_seen = True
        if self._close_event is not None:
            self._close_event.set()

    def _closed_error(self) -> WebSocketClosed:
        return (self.closed.fresh() if self.closed is not None
                else WebSocketClosed(_ABNORMAL, "connection closing"))

    def _count_sent(self, n: int) -> None:
        self.bytes_sent += n

    def _lost(self) -> None:
        if self.closed is None:
            self.closed = WebSocketClosed(_ABNORMAL, "connection lost")
        self._saw_close()

    async def _read_more(self) -> None:
        if not self._pending:
            try:
                if self._watchable:
                    stream = self.stream
                    assert isinstance(stream, trio.SocketStream)
                    readable = self._readable
                    if readable is None:
                        readable = self._readable = _watch.Readable(stream.socket)
                    data = await _sockio.receive_watched(
                        stream, readable, self._bufsize, wait_first=self._drained)
                elif self._drained:
                    data = await _sockio.receive_when_readable(self.stream, self._bufsize)
                else:
                    data = await _sockio.receive_some(self.stream, self._bufsize)
            except _STREAM_ERRORS:
                data = b""
            if not self._took(data):
                await self._close_stream()
                return
            if self._fast:
                return
        # Compressed input is fed in small pieces so that one read cannot inflate to more than
        # about 1000 times _INFLATE_FEED bytes before the size limit is checked.
        feed = _INFLATE_FEED if self.extensions else len(self._pending)
        self._proto().receive_data(self._pending[:feed])
        self._pending = self._pending[feed:]

    def _took(self, data: bytes) -> bool:
        """Take what one read brought (decoded at once on the fast path, else left in
        ``_pending`` for wsproto); ``False`` when it was the end of the stream (``b""``: the
        caller closes it)."""
        self._drained = len(data) < self._bufsize
        if not data:
            self._lost()
            return False
        if self._fast:
            self._take_fast(data)
        else:
            self._pending = data
        return True

    def _take_fast(self, data: bytes) -> None:
        """Decode the simple whole frames of what was held + ``data``, or hand over to wsproto.

        On hand-over the bytes from the first frame not decoded here on are left in
        ``_pending`` for wsproto. What is held meanwhile is one incomplete frame whose
        declared payload is within the message size limit, so at most limit + 14 bytes.
        """
        if self._partial:
            if isinstance(self._partial, bytes):
                self._partial = bytearray(self._partial)
            self._partial += data
            buf: bytes | bytearray = self._partial
        else:
            buf = data
        messages = self._messages or []
        used, foreign = take_messages(buf, True, self._max_message_size, messages)
        if messages:
            self._messages = messages
        if foreign:
            self._fast = False
            self._partial = b""
            self._pending = bytes(buf[used:])
        elif used:
            self._partial = buf[used:] if used < len(buf) else b""
        else:
            self._partial = buf  # a large frame arriving: no copy per read

    async def _process_events(self) -> None:
        if self._fast or (self.closed is not None and self._close_seen):
            return
        for event in self._proto().events():
            if isinstance(event, Message):
                data = event.data
                self._size += len(data) if isinstance(data, bytes | bytearray) else len(
                    data.encode("utf-8", "surrogatepass"))
                if self._size > self._max_message_size:
                    await self._fail(_TOO_BIG, "message too big")
                    return
                parts = self._parts
                if not parts:
                    parts = self._parts = []
                parts.append(bytes(data) if isinstance(data, bytearray) else data)
                if event.message_finished:
                    messages = self._messages
                    if not messages:
                        messages = self._messages = []
                    messages.append(
                        "".join(p for p in parts if isinstance(p, str))
                        if isinstance(event, TextMessage)
                        else b"".join(p for p in parts if isinstance(p, bytes)))
                    self._parts = ()
                    self._size = 0
            elif isinstance(event, Ping):
                async with self._lock():
                    if self._proto().state is ConnectionState.OPEN:
                        await self._send_all(self._proto().send(event.response()))
            elif isinstance(event, CloseConnection):
                await self._on_close(event)
                return

    async def _on_close(self, event: CloseConnection) -> None:
        if self._proto().state is ConnectionState.OPEN:
            # wsproto reports a frame it could not parse as a CloseConnection while still OPEN:
            # we fail the connection with its code (1002, 1007...), RFC 6455 §7.1.7.
            await self._fail(event.code, event.reason or "")
            return
        if self._proto().state is ConnectionState.REMOTE_CLOSING:
            async with self._lock():
                if self._proto().state is ConnectionState.REMOTE_CLOSING:
                    try:
                        await self.stream.send_all(
                            self._take_owed(self._proto().send(event.response())))
                    except _STREAM_ERRORS:
                        pass
        if self.closed is None:
            self.closed = WebSocketClosed(event.code, event.reason or "")
        self._saw_close()
        await self._close_stream()

    async def _fail(self, code: int, reason: str) -> None:
        self.closed = WebSocketClosed(code, reason, local=True)
        self._parts = ()
        # As Node's ws fails a connection for what it received: the code alone, no reason
        # (``reason`` is for our side).
        await self._send_close(code, "")
        self._saw_close()
        await self._close_stream()

    async def _close_stream(self) -> None:
        if not self._stream_closed:
            self._stream_closed = True
            if self.closed is None:
                self.closed = WebSocketClosed(_ABNORMAL, "connection lost")
            self._saw_close()
            if self._readable is not None:
                self._readable.close()
            await self.stream.aclose()


def server_websocket(
    stream: trio.abc.Stream,
    *,
    extensions: Sequence[Extension] = (),
    subprotocol: str | None = None,
    max_message_size: int,
    close_timeout: float,
    receive_buffer_size: int,
    received: bytes = b"",
) -> StreamWebSocket:
    """The server's WebSocket on ``stream`` once its 101 was written (internal to the HTTP
    server, which made the handshake: ``_ws_handshake``), with the ``extensions`` agreed.

    ``received``: the bytes that followed the handshake request (the first frames).
    """
    # Without extensions wsproto's connection is only made if a frame needs it (``_proto``).
    connection = Connection(ConnectionType.SERVER, list(extensions)) if extensions else None
    return StreamWebSocket(
        stream, connection, max_message_size=max_message_size, close_timeout=close_timeout,
        receive_buffer_size=receive_buffer_size, subprotocol=subprotocol,
        extensions=[e.name for e in extensions], received=received)


async def connect_websocket(
    stream: trio.abc.Stream,
    host: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    *,
    subprotocols: Sequence[str] = (),
    per_message_deflate: bool = False,
    max_message_size: int = 1_000_000,
    close_timeout: float = 5.0,
    receive_buffer_size: int = 64 * 1024,
) -> StreamWebSocket:
    """Run the client handshake on ``stream`` (already connected, TLS already wrapped).

    Args:
        host: the ``Host`` header value; target: the request target (path and query).
        headers: extra request headers (e.g. cookies, ``Origin``).
        per_message_deflate: offer permessage-deflate.

    Returns:
        The open ``WebSocket`` (it owns ``stream``).

    Raises:
        HTTPClientError: the server refused (``status`` set) or answered something invalid;
            ``stream`` is closed in that case. Time limits are the caller's cancel scopes.
    """
    conn = WSConnection(ConnectionType.CLIENT)
    offered = [PerMessageDeflate()] if per_message_deflate else []
    request = Request(
        host=host, target=target, subprotocols=list(subprotocols), extensions=offered,
        extra_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers])
    try:
        await stream.send_all(conn.send(request))
        accept = await _await_accept(stream, conn, receive_buffer_size)
    except BaseException:
        await trio.aclose_forcefully(stream)
        raise
    return StreamWebSocket(
        stream, conn, max_message_size=max_message_size, close_timeout=close_timeout,
        receive_buffer_size=receive_buffer_size, subprotocol=accept.subprotocol,
        extensions=[e.name for e in accept.extensions])


async def _await_accept(
    stream: trio.abc.Stream, conn: WSConnection, bufsize: int
) -> AcceptConnection:
    while True:
        try:
            data = bytes(await stream.receive_some(bufsize))
        except _STREAM_ERRORS as exc:
            raise HTTPClientError("connection lost during the WebSocket handshake") from exc
        if not data:
            raise HTTPClientError("connection closed during the WebSocket handshake")
        try:
            conn.receive_data(data)
            for event in conn.events():
                if isinstance(event, AcceptConnection):
                    return event
                if isinstance(event, RejectConnection):
                    raise HTTPClientError(
                        f"WebSocket handshake refused with status {event.status_code}",
                        status=event.status_code)
        except WSRemoteProtocolError as exc:
            raise HTTPClientError(f"invalid WebSocket handshake response: {exc}") from exc
