"""The Engine.IO v4 client runtime: drives a ``ClientSession`` over long-polling and WebSocket.

One ``Client`` is one Engine.IO connection (engine.io-client's ``Socket``). ``run`` opens it
(``task_status.started()`` once the server's ``open`` packet arrived) and returns when the session
is over; ``close_reason`` then says why, spelled as Node spells it. A handshake that fails raises
``ConnectionFailed`` with engine.io-client's message (``"xhr poll error"``, ``"websocket
error"``).

Polling uses two keep-alive HTTP connections, one for GETs and one for POSTs, as a browser does;
the upgrade probe is a third. The tasks share the core without locks: trio runs each call to it
atomically, and every task that changes it wakes the others (``_kick``).
"""

from __future__ import annotations

import logging
import math
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit

import trio

from transports import (
    HTTPConnection,
    StreamWebSocket,
    TransportError,
    connect_websocket,
    open_stream,
)

from .protocol import (
    ClientSession,
    ClientState,
    Event,
    MessageReceived,
    Opened,
    RemoteProtocolError,
    SessionClosed,
    Upgraded,
    UpgradeFailed,
)

__all__ = ["Client", "ConnectionFailed", "StreamFactory", "make_ssl_context", "parse_url"]

log = logging.getLogger("engineio_core.client")

StreamFactory = Callable[[str, int, bool], Awaitable[trio.abc.Stream]]
"""``(host, port, tls) -> stream``: how the client opens a connection (tests use memory streams)."""

_NETWORK_ERRORS = (OSError, TransportError, trio.BrokenResourceError, trio.ClosedResourceError)
_CLOSE_GRACE = 2.0


class ConnectionFailed(Exception):
    """The Engine.IO connection could not be opened. ``message`` is engine.io-client's
    (``"xhr poll error"``, ``"websocket error"``); ``description`` says what happened."""

    def __init__(self, message: str, description: str | None = None) -> None:
        super().__init__(message if description is None else f"{message}: {description}")
        self.message = message
        self.description = description


def parse_url(url: str) -> tuple[bool, str, int, str, str]:
    """Split ``url`` into ``(tls, host, port, path, query)``; ``ws``/``wss`` are accepted too.

    Raises:
        ValueError: not an ``http``, ``https``, ``ws`` or ``wss`` URL with a host.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")
    tls = parts.scheme in ("https", "wss")
    port = parts.port or (443 if tls else 80)
    return tls, parts.hostname, port, parts.path, parts.query


def _describe(error: BaseException) -> str:
    """The error and what caused it (a TLS failure hides under ``BrokenResourceError``)."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None and len(parts) < 4:
        if isinstance(current, BaseExceptionGroup):  # its text repeats the error it caused
            current = current.exceptions[0]
            continue
        parts.append(str(current) or type(current).__name__)
        current = current.__cause__ or current.__context__
    return ": ".join(parts)


def make_ssl_context(verify: bool = True, context: ssl.SSLContext | None = None
                     ) -> ssl.SSLContext:
    """``context`` if given; else the default verified context, or with ``verify=False`` one
    that checks nothing (and says so in the log)."""
    if context is not None:
        return context
    if verify:
        return ssl.create_default_context()
    log.warning("TLS certificate verification is turned off (ssl_verify=False)")
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    return unverified


class Client:
    """One Engine.IO connection, client side.

    Args:
        url: the server, ``http(s)://host:port`` (the URL's path is ignored; see ``path``).
        path: where the server answers (engine.io-client's ``path``; a trailing ``/`` is added).
        transports: ``("polling", "websocket")`` opens with polling and upgrades;
            ``("websocket",)`` or ``("polling",)`` use one transport only.
        upgrade: whether to try the upgrade to WebSocket.
        query: extra query parameters sent with every request.
        headers: extra HTTP headers sent with every request and the WebSocket handshake.
        ssl_verify: verify the server's certificate (``False`` turns it off, with a warning).
        ssl_context: a TLS context to use instead of the default one.
        on_message: called with each message (``str`` or ``bytes``), in order; when it returns
            an awaitable (its handlers are behind), the client reads no more until it is done.
        stream_factory: opens connections (default: TCP, with TLS for ``https``).
        max_message_size: the largest WebSocket message or polling body accepted.
    """

    def __init__(
        self,
        url: str,
        *,
        path: str = "/engine.io",
        transports: Sequence[str] = ("polling", "websocket"),
        upgrade: bool = True,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        ssl_verify: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        on_message: Callable[[str | bytes], Awaitable[None] | None] | None = None,
        stream_factory: StreamFactory | None = None,
        max_message_size: int = 100_000_000,
    ) -> None:
        self._tls, self._host, self._port, _, url_query = parse_url(url)
        self._path = path.rstrip("/") + "/"
        self._transports = tuple(t for t in transports if t in ("polling", "websocket"))
        if not self._transports:
            raise ValueError("no usable transport (polling, websocket)")
        self._upgrade = upgrade
        self._query = dict(parse_qsl(url_query, keep_blank_values=True))
        self._query.update(query or {})
        items = headers.items() if isinstance(headers, Mapping) else (headers or ())
        self._headers = [(str(k), str(v)) for k, v in items]
        self._ssl = make_ssl_context(ssl_verify, ssl_context) if self._tls else None
        self._on_message = on_message or (lambda data: None)
        self._factory = stream_factory
        self._max = max_message_size
        default_port = 443 if self._tls else 80
        self._host_header = self._host if self._port == default_port else \
            f"{self._host}:{self._port}"
        self.session: ClientSession | None = None
        self.opened: Opened | None = None
        self.close_reason: str | None = None
        self.close_description: str | None = None
        self._changed = trio.lowlevel.ParkingLot()  # unparked whenever the state changes
        self._done = trio.Event()
        self._flushed = trio.Event()
        self._finished = trio.Event()
        self._nursery: trio.Nursery | None = None
        self._probe: StreamWebSocket | None = None
        self._resources: list[trio.abc.AsyncResource] = []

    @property
    def transport(self) -> str | None:
        """The active transport (``"polling"`` or ``"websocket"``), ``None`` before opening."""
        return None if self.session is None else self.session.transport

    @property
    def sid(self) -> str | None:
        """The session id the server gave (``None`` before the handshake)."""
        return None if self.session is None else self.session.sid

    @property
    def closed(self) -> bool:
        """Whether the session is over."""
        return self._done.is_set()

    async def wait_closed(self) -> str | None:
        """Wait until the session is over (the transport may still be flushing and closing);
        returns the close reason."""
        await self._done.wait()
        return self.close_reason

    async def wait_finished(self) -> None:
        """Wait until ``run`` has returned and every connection is closed."""
        await self._finished.wait()

    def send(self, data: str | bytes) -> None:
        """Queue one message (sent in order once open; dropped once closing)."""
        if self.session is None:
            raise RuntimeError("the client is not running")
        self.session.send_message(data)
        self._kick()

    def close(self) -> None:
        """Close gracefully (reason ``"forced close"``): what was queued is still sent."""
        if self.session is None or self.session.closed:
            self._done.set()
            return
        self._deliver_now(self.session.close(now=trio.current_time()))

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Open the connection, report ``started`` once open, and run it until it closes.

        Raises:
            ConnectionFailed: the handshake failed (nothing was started).
        """
        first = self._transports[0]
        self.session = ClientSession(
            transport=first, now=trio.current_time(),
            upgrade=self._upgrade and first == "polling", transports=self._transports)
        try:
            # The handshake runs outside the nursery so that its failure is raised as itself.
            if first == "polling":
                connection = await self._handshake_polling()
            else:
                ws = await self._handshake_websocket()
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                if first == "polling":
                    nursery.start_soon(self._poll_loop, connection)
                    nursery.start_soon(self._post_loop)
                    if self.session.should_upgrade():
                        nursery.start_soon(self._upgrade_probe)
                else:
                    nursery.start_soon(self._ws_reader, ws)
                    nursery.start_soon(self._ws_writer, ws)
                task_status.started()
                nursery.start_soon(self._timer)
                await self._done.wait()
                if self.close_reason == "forced close":
                    with trio.move_on_after(_CLOSE_GRACE):
                        await self._flushed.wait()
                nursery.cancel_scope.cancel()
        finally:
            self._done.set()
            with trio.CancelScope(shield=True):
                for resource in self._resources:
                    await trio.aclose_forcefully(resource)
            self._finished.set()

    def _kick(self) -> None:
        self._changed.unpark_all()

    def _now(self) -> float:
        return trio.current_time()

    def _target(self, params: Mapping[str, str]) -> str:
        return self._path + "?" + urlencode({**self._query, **params})

    async def _open_stream(self) -> trio.abc.Stream:
        if self._factory is not None:
            return await self._factory(self._host, self._port, self._tls)
        return await open_stream(self._host, self._port, ssl_context=self._ssl)

    async def _http(self, replacing: HTTPConnection | None = None) -> HTTPConnection:
        if replacing is not None:
            self._resources.remove(replacing)
            await trio.aclose_forcefully(replacing)
        connection = HTTPConnection(await self._open_stream(), self._host_header)
        self._resources.append(connection)
        return connection

    async def _websocket(self, params: Mapping[str, str]) -> StreamWebSocket:
        stream = await self._open_stream()
        ws = await connect_websocket(stream, self._host_header, self._target(params),
                                     self._headers, max_message_size=self._max)
        self._resources.append(ws)
        return ws

    def _deliver(self, events: Sequence[Event]) -> Awaitable[None] | None:
        """Act on the core's events; returns what is left to await when ``on_message`` pushed
        back (its handlers are behind): the reader awaits it before reading on."""
        for index, event in enumerate(events):
            if isinstance(event, Opened):
                self.opened = event
            elif isinstance(event, MessageReceived):
                rest = self._on_message(event.data)
                if rest is not None:
                    self._kick()
                    return self._deliver_after(rest, events[index + 1:])
            elif isinstance(event, Upgraded):
                assert self._probe is not None and self._nursery is not None
                ws, self._probe = self._probe, None
                self._nursery.start_soon(self._ws_reader, ws)
                self._nursery.start_soon(self._ws_writer, ws)
            elif isinstance(event, UpgradeFailed):
                if self._probe is not None and self._nursery is not None:
                    self._nursery.start_soon(trio.aclose_forcefully, self._probe)
                self._probe = None
            elif isinstance(event, SessionClosed):
                self.close_reason = event.reason
                self.close_description = event.description
                self._done.set()
        self._kick()
        return None

    async def _deliver_after(self, rest: Awaitable[None], events: Sequence[Event]) -> None:
        await rest
        more = self._deliver(events)
        if more is not None:
            await more

    async def _receive(self, events: Sequence[Event]) -> None:
        """Deliver what a reader read, waiting while ``on_message`` pushes back."""
        rest = self._deliver(events)
        if rest is not None:
            await rest

    def _deliver_now(self, events: Sequence[Event]) -> None:
        """Deliver from where no one can wait (timers, closing): what is left to await, if
        anything, runs in a task of the client."""
        rest = self._deliver(events)
        if rest is not None:
            assert self._nursery is not None
            self._nursery.start_soon(_wait, rest)

    def _transport_failed(self, reason: str, description: str | None = None) -> None:
        assert self.session is not None
        if description is not None and not self.session.closed:
            log.debug("transport failed: %s", description)
        self._deliver_now(self.session.transport_closed(reason=reason, now=self._now()))

    async def _timer(self) -> None:
        session = self.session
        assert session is not None
        while not session.closed:
            deadline = session.next_deadline()
            with trio.move_on_at(math.inf if deadline is None else deadline):
                await self._changed.park()
                continue
            assert deadline is not None
            self._deliver_now(session.handle_timeout(now=max(self._now(), deadline)))

    async def _get(self, connection: HTTPConnection) -> bytes:
        assert self.session is not None
        response = await connection.request(
            "GET", self._target(self.session.query()), self._headers, max_body_size=self._max)
        if response.status != 200:
            raise ConnectionFailed("xhr poll error", f"HTTP {response.status}: "
                                   + response.body[:200].decode("utf-8", "replace"))
        return response.body

    async def _handshake_polling(self) -> HTTPConnection:
        session = self.session
        assert session is not None
        try:
            connection = await self._http()
            session.start_poll(now=self._now())
            body = await self._get(connection)
        except ConnectionFailed:
            raise
        except _NETWORK_ERRORS as error:
            raise ConnectionFailed("xhr poll error", _describe(error)) from error
        try:
            events = session.receive_poll_response(body, now=self._now())
        except RemoteProtocolError as error:
            raise ConnectionFailed("xhr poll error", error.message) from error
        await self._receive(events)
        if session.closed or session.opened is None:
            raise ConnectionFailed("xhr poll error", "no open packet")
        return connection

    async def _poll_loop(self, connection: HTTPConnection) -> None:
        session = self.session
        assert session is not None
        while True:
            while not session.should_poll():
                if session.closed or session.transport != "polling":
                    return
                await self._changed.park()
            session.start_poll(now=self._now())
            try:
                if not connection.reusable:
                    connection = await self._http(connection)
                body = await self._get(connection)
            except (ConnectionFailed, *_NETWORK_ERRORS) as error:
                self._transport_failed("transport error", str(error))
                return
            try:
                events = session.receive_poll_response(body, now=self._now())
            except RemoteProtocolError:
                events = session.events_after_error()
            await self._receive(events)

    async def _post_loop(self) -> None:
        session = self.session
        assert session is not None
        connection: HTTPConnection | None = None
        headers = [*self._headers, ("Content-Type", "text/plain;charset=UTF-8")]
        while True:
            while not session.post_ready():
                if session.closed:
                    self._flushed.set()
                    return
                if session.transport != "polling":
                    return
                await self._changed.park()
            body = session.take_post_body()
            try:
                if connection is None or not connection.reusable:
                    connection = await self._http(connection)
                response = await connection.request(
                    "POST", self._target(session.query()), headers, body)
                if response.status != 200:
                    raise ConnectionFailed("xhr post error", f"HTTP {response.status}")
            except (ConnectionFailed, *_NETWORK_ERRORS) as error:
                self._flushed.set()
                self._transport_failed("transport error", str(error))
                return
            self._deliver_now(session.post_done(now=self._now()))

    async def _handshake_websocket(self) -> StreamWebSocket:
        session = self.session
        assert session is not None
        try:
            ws = await self._websocket(session.query())
            while session.opened is None and not session.closed:
                message = await ws.receive()
                try:
                    events = session.receive_ws_message(message, now=self._now())
                except RemoteProtocolError as error:
                    raise ConnectionFailed("websocket error", error.message) from error
                await self._receive(events)
        except ConnectionFailed:
            raise
        except _NETWORK_ERRORS as error:
            raise ConnectionFailed("websocket error", _describe(error)) from error
        if session.opened is None:
            raise ConnectionFailed("websocket error", "no open packet")
        return ws

    async def _ws_reader(self, ws: StreamWebSocket) -> None:
        session = self.session
        assert session is not None
        while not session.closed:
            try:
                message = await ws.receive()
            except _NETWORK_ERRORS as error:
                self._transport_failed("transport close", str(error))
                return
            try:
                events = session.receive_ws_message(message, now=self._now())
            except RemoteProtocolError:
                events = session.events_after_error()
            await self._receive(events)

    async def _ws_writer(self, ws: StreamWebSocket) -> None:
        session = self.session
        assert session is not None
        try:
            while True:
                frames = session.take_ws_frames()
                if frames:
                    try:
                        await ws.send_many(frames)
                    except _NETWORK_ERRORS as error:
                        self._transport_failed("transport close", str(error))
                        return
                elif session.closed:
                    return
                else:
                    await self._changed.park()
        finally:
            with trio.move_on_after(_CLOSE_GRACE) as scope:
                scope.shield = True
                if self.close_reason == "forced close":
                    await ws.aclose()
                else:
                    await trio.aclose_forcefully(ws)
            self._flushed.set()

    async def _upgrade_probe(self) -> None:
        session = self.session
        assert session is not None
        try:
            ws = await self._websocket(session.probe_query())
        except _NETWORK_ERRORS as error:
            log.debug("upgrade probe failed: %s", error)
            return
        if not session.should_upgrade():
            await trio.aclose_forcefully(ws)
            return
        self._probe = ws
        self._deliver_now(session.begin_upgrade(now=self._now()))
        try:
            while session.state is ClientState.PROBING:
                frames = session.take_probe_frames()
                if frames:
                    await ws.send_many(frames)
                message = await ws.receive()
                self._deliver_now(session.receive_probe_message(message, now=self._now()))
            frames = session.take_probe_frames() if self._probe is ws else []
            if frames:
                await ws.send_many(frames)
        except _NETWORK_ERRORS as error:
            log.debug("upgrade probe closed: %s", error)
            self._deliver_now(session.probe_closed(now=self._now()))


async def _wait(awaitable: Awaitable[None]) -> None:
    await awaitable
