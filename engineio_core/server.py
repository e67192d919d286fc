"""The Engine.IO server on trio: HTTP routing, one driver task per session, the app's ``Socket``.

Data path: a request reaches ``Server.handle_request`` → the request check of the core →
handshake, a polling GET (parked until the session has output), a polling POST (its body fed to
the session), or a WebSocket (its reader feeds the session). Everything a session decides lives
in ``protocol.ServerSession``; this module only moves bytes and sleeps until the session's next
deadline.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from functools import partial
from heapq import heappop, heappush
from typing import Any, Protocol

import trio

from transports import (
    BodyTooLarge,
    HTTPConfig,
    HTTPError,
    Request,
    WebSocket,
    WebSocketClosed,
    serve_http,
)

from . import protocol as eio
from ._signal import Flag, Signal, Wakeup
from .cors import CorsPolicy, CorsSetting
from .forwarded import ForwardedAllowIps, TrustedProxies
from .http_policy import CookieOptions, choose_encoding, compress_body, cookie_options
from .ids import random_id

__all__ = ["Application", "Handshake", "Receiver", "Server", "Socket", "SocketHandler"]

log = logging.getLogger("engineio_core")

SocketHandler = Callable[["Socket"], Awaitable[None]]
# Called with each message; returns ``None`` once done, or what is left to await.
Receiver = Callable[[str | bytes], Awaitable[None] | None]


class Application(Protocol):
    """What ``Server(attach=...)`` makes for each session: an application run by the session's
    driver task rather than in a task of its own (per session, a task costs kilobytes)."""

    def receive(self, message: str | bytes) -> Awaitable[None] | None:
        """The session's receiver (see ``Socket.set_receiver``), set before any message."""

    def next_deadline(self) -> float | None:
        """When ``handle_timeout`` has work (trio's clock), or ``None``. No side effect."""

    def handle_timeout(self, now: float) -> None:
        """Fire what is due at ``now``; called by the driver, never once the session closed."""

    def session_closed(self) -> trio.Event | None:
        """The session closed: returns an event set once the application has finished what it
        still runs (``aclose`` waits for it), or ``None`` when nothing is left."""

_INBOX_SIZE = 256
_NO_STORE = ("Cache-Control", "no-store")


def _node_query(request: Request) -> dict[str, str]:
    """The query as Node's engine.io reads it (``Object.fromEntries(url.searchParams)``): a
    parameter given twice counts with its last value."""
    return {name: values[-1] for name, values in request.query_lists.items()}


def _wake_if_sooner(session: _Session, before: float | None) -> None:
    """Wake the driver only when the core's next deadline moved earlier than ``before`` (what
    the driver, woken for every earlier change, sleeps until): a scheduler pass saved per poll."""
    after = session.core.next_deadline()
    if after is not None and (before is None or after < before):
        session.wake.notify()


class _Headers(Mapping[str, str]):
    """A request's headers as ``str`` (names lowercased; of a repeated one, the last), decoded
    on first use: most sessions never read them, and the raw list is the request's own."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        if self._decoded is None:
            self._decoded = {k.decode("latin-1"): v.decode("latin-1") for k, v in self._raw}
            self._raw = ()
        return self._decoded

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def __contains__(self, name: object) -> bool:
        if self._decoded is None and isinstance(name, str):
            key = name.encode("latin-1", "replace")
            return any(k == key for k, _ in self._raw)
        return name in self._dict()

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return repr(self._dict())


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the request that opened a session carried."""

    headers: Mapping[str, str]
    query: Mapping[str, str]
    address: str
    url: str
    secure: bool


# Defined after Handshake, not with a string forward reference, so that documentation tools
# resolve it to this class.
AllowRequest = Callable[[Handshake], bool | Awaitable[bool]]


class Socket:
    """One Engine.IO session, as the application sees it.

    Iterate it (``async for message in socket``) to receive messages (``str`` or ``bytes``);
    the iteration ends when the session closes, and ``close_reason`` then says why.
    """

    def __init__(self, session: _Session) -> None:
        self._session = session

    @property
    def sid(self) -> str:
        """The session id."""
        return self._session.core.sid

    @property
    def handshake(self) -> Handshake:
        """What the request that opened the session carried."""
        return self._session.handshake

    @property
    def transport(self) -> str:
        """The transport in use now: ``"polling"`` or ``"websocket"``."""
        return self._session.core.transport

    @property
    def closed(self) -> bool:
        """Whether the session is closed."""
        return self._session.closed.is_set()

    @property
    def close_reason(self) -> str | None:
        """Why the session closed (``None`` while open), spelled as Node spells it."""
        return self._session.close_reason

    def send_nowait(self, *messages: str | bytes) -> None:
        """Queue messages; they leave together, in order. Dropped if the session is closed."""
        self._session.send(messages)

    async def send(self, *messages: str | bytes) -> None:
        """Queue messages, then wait while the session's outbound buffer is over its high-water
        mark (so a slow peer slows its producer down instead of growing memory)."""
        self._session.send(messages)
        await self._session.wait_for_drain()

    def close(self) -> None:
        """Close the session (reason ``"forced close"``); queued messages are flushed first."""
        self._session.close()

    def behind(self) -> bool:
        """Whether messages are still waiting to be written, or a write is still in progress
        (volatile ones are then dropped, as Node drops them while the transport is busy)."""
        return self._session.core.buffered_bytes() > 0 or self._session.writing > 0

    async def wait_for_drain(self) -> None:
        """Wait while the outbound buffer is over the server's high-water mark."""
        await self._session.wait_for_drain()

    async def wait_closed(self) -> None:
        """Wait until the session is closed."""
        await self._session.closed.wait()

    def wake_at(self, deadline: float) -> None:
        """Have the session's driver awake by ``deadline``: an ``Application``'s next deadline
        moved earlier than the one it last reported."""
        session = self._session
        if deadline < session.sleeping_until:
            session.wake.notify()

    def __aiter__(self) -> AsyncIterator[str | bytes]:
        return self._session.inbox()[1].__aiter__()

    async def set_receiver(self, receiver: Receiver) -> None:
        """Have ``receiver`` called with each message instead of queueing it for iteration.

        Messages already queued are handed to it first, here. From then on it is called in the
        task that read the message (a WebSocket reader, a polling POST), one message at a time
        and in order. It returns ``None`` when it is done with the message, or an awaitable for
        what is left, which is awaited before the next message is read (so a slow receiver slows
        the peer down). Once the session is closed it gets nothing more. A receiver that raises
        closes the session (the error is logged).
        """
        await self._session.set_receiver(receiver)

    def receive_nowait(self) -> str | bytes:
        """The next message if one is already waiting, without yielding.

        Raises:
            trio.WouldBlock: none is waiting.
            trio.EndOfChannel: the session closed and every message was taken.
        """
        return self._session.inbox()[1].receive_nowait()


class _Alarm(Wakeup):
    """A driver's wake-up, which the server's timer task also rings at ``at``."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        super().__init__()
        self.at: float | None = None  # the time of its latest entry in the timer heap


class _Session:
    """Runtime state beside one ``ServerSession`` core."""

    def __init__(self, server: Server, core: eio.ServerSession, handshake: Handshake) -> None:
        self.server = server
        self.core = core
        self.handshake = handshake
        self.handler_done = Flag()
        self.writing = 0  # WebSocket writes in progress (a peer not reading stalls them)
        # ``changed`` wakes whoever waits on the session's output (a parked poll, a producer
        # waiting for drain); ``wake`` wakes the driver.
        self.changed = Signal()
        self.wake = _Alarm()
        # The WebSocket reader writes what it queued itself once it has acted on a message, so
        # its own sends need not wake the driver.
        self.flusher: trio.lowlevel.Task | None = None
        self.closed = Flag()
        self.close_reason: str | None = None
        self._inbox: tuple[trio.MemorySendChannel[str | bytes],
                           trio.MemoryReceiveChannel[str | bytes]] | None = None
        self.receiver: Receiver | None = None
        self.receive_lock: trio.StrictFIFOLock | None = None
        self.websocket: WebSocket | None = None
        self.probe: WebSocket | None = None
        self.socket = Socket(self)
        self.app: Application | None = None
        # What the driver sleeps until (-inf while it runs: it reads every deadline again).
        self.sleeping_until = -math.inf

    def notify(self) -> None:
        """Wake the driver and everyone waiting on the session."""
        self.changed.notify()
        self.wake.notify()

    def send(self, messages: Sequence[str | bytes]) -> None:
        if self.closed.is_set():
            return
        for message in messages:
            self.core.send_message(message)
        if self.core.buffered_bytes() > 4 * self.server.max_buffered_bytes:
            # A peer that never drains would otherwise grow memory without bound.
            log.info("session %s: outbound buffer over %d bytes, closing", self.core.sid,
                     4 * self.server.max_buffered_bytes)
            self.abort("transport error")
        self.changed.notify()
        if self.flusher is None or self.flusher is not trio.lowlevel.current_task():
            self.wake.notify()

    def abort(self, reason: str) -> None:
        """Close now, dropping what is queued: the peer is gone or hopeless."""
        if not self.closed.is_set():
            self.finish(reason)
            self.notify()

    def close(self) -> None:
        if not self.closed.is_set():
            self.core.close()
            self.notify()

    async def wait_for_drain(self) -> None:
        limit = self.server.max_buffered_bytes
        while not self.closed.is_set() and self.core.buffered_bytes() > limit:
            await self.changed.wait()

    def inbox(self) -> tuple[trio.MemorySendChannel[str | bytes],
                             trio.MemoryReceiveChannel[str | bytes]]:
        """The messages queued for iteration, made on first use (a session with a receiver
        never needs it); closed with the session."""
        if self._inbox is None:
            self._inbox = trio.open_memory_channel[str | bytes](_INBOX_SIZE)
            if self.closed.is_set():
                self._inbox[0].close()
        return self._inbox

    async def set_receiver(self, receiver: Receiver) -> None:
        lock = self.receive_lock = trio.StrictFIFOLock()
        async with lock:
            self.receiver = receiver
            while self._inbox is not None:
                try:
                    earlier = self._inbox[1].receive_nowait()
                except (trio.WouldBlock, trio.EndOfChannel):
                    break
                await self._call_receiver(earlier, queued=True)

    async def deliver(self, events: Sequence[eio.Event]) -> None:
        """Act on the core's events; messages go to the receiver, or to the application's inbox
        (bounded: a slow application slows the reader, which slows the peer)."""
        only_messages = bool(events)
        for event in events:
            if isinstance(event, eio.MessageReceived):
                if self.receiver is not None:
                    await self._receive(event.data)
                    continue
                inbox = self.inbox()[0]
                try:
                    # A yield per message would cost a scheduler pass each; only a full inbox waits.
                    inbox.send_nowait(event.data)
                except trio.WouldBlock:
                    try:
                        await inbox.send(event.data)
                    except (trio.ClosedResourceError, trio.BrokenResourceError):
                        pass
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    pass
                continue
            only_messages = False
            if isinstance(event, eio.UpgradeFailed):
                self.drop_probe()
            elif isinstance(event, eio.SessionClosed):
                self.finish(event.reason)
        if not only_messages:
            # A message changes neither the output nor an earlier deadline: waking the driver
            # for it would be a scheduler pass per message for nothing.
            self.notify()

    async def _receive(self, data: str | bytes) -> None:
        """Hand one message to the receiver: one delivery at a time, in arrival order."""
        lock = self.receive_lock
        assert lock is not None
        if not lock.locked():
            # Nearly always: nobody else is delivering, and the receiver runs with no checkpoint
            # before it returns, so nothing can come between. Only what it leaves to await needs
            # the lock (taken at once, still free), to keep the next delivery behind it.
            if self.closed.is_set() or self.receiver is None:
                return
            rest = self._start_receiver(data)
            if rest is not None:
                lock.acquire_nowait()
                try:
                    await self._finish_receiver(rest)
                finally:
                    lock.release()
            return
        await lock.acquire()
        try:
            await self._call_receiver(data)
        finally:
            lock.release()

    async def _call_receiver(self, data: str | bytes, *, queued: bool = False) -> None:
        # As with the inbox, which is closed with the session: what was queued before the close
        # is still received, what arrives after it is dropped.
        if (self.closed.is_set() and not queued) or self.receiver is None:
            return
        rest = self._start_receiver(data)
        if rest is not None:
            await self._finish_receiver(rest)

    def _start_receiver(self, data: str | bytes) -> Awaitable[None] | None:
        assert self.receiver is not None
        try:
            return self.receiver(data)
        except Exception:
            self._receiver_failed()
            return None

    async def _finish_receiver(self, rest: Awaitable[None]) -> None:
        # The receiver has to wait: what it queued meanwhile is the driver's to write (the
        # reader that would have written it is held up here).
        flusher, self.flusher = self.flusher, None
        self.wake.notify()
        try:
            await rest
        except Exception:
            self._receiver_failed()
        finally:
            self.flusher = flusher

    def _receiver_failed(self) -> None:
        log.exception("message receiver of session %s failed", self.core.sid)
        self.close()

    def drop_probe(self) -> None:
        """Forget the probe WebSocket; its reader sees it closed and returns."""
        probe, self.probe = self.probe, None
        if probe is not None:
            self.server.spawn(probe.aclose)

    def finish(self, reason: str) -> None:
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        if self._inbox is not None:
            self._inbox[0].close()
        if self.app is not None:
            self.server._app_closed(self, self.app)
        self.server._forget(self)
        log.debug("session %s closed: %s", self.core.sid, reason)


class Server(trio.abc.AsyncResource):
    """An Engine.IO v4 server.

    Args:
        handler: called once per new session with its ``Socket``, in a task of the server's
            nursery; the session is closed when it returns.
        attach: instead of ``handler``, called at once with each new session's ``Socket``; the
            ``Application`` it returns is run by the session's driver, with no task of its own.
        path: where the server answers (``/engine.io/`` by default, as Node).
        ping_interval, ping_timeout, upgrade_timeout: seconds.
        max_http_buffer_size: the largest message or polling body accepted (bytes).
        transports: the transports offered, among ``"polling"`` and ``"websocket"``.
        allow_upgrades: whether polling sessions may upgrade to WebSocket.
        cors_allowed_origins, cors_credentials: see ``engineio_core.cors``.
        cookie: ``True``, a cookie name, or a mapping of ``CookieOptions`` fields.
        allow_request: called with the handshake of a new session; returning false refuses it
            with 403 (Engine.IO error 4).
        per_message_deflate: negotiate WebSocket compression when the client offers it.
        http_compression: gzip/deflate polling responses of 1 KiB and more.
        max_buffered_bytes: outbound high-water mark per session; ``Socket.send`` waits above it.
        sid_factory: makes session ids (a CSPRNG by default).
        forwarded_allow_ips: the reverse proxies whose ``X-Forwarded-For`` and
            ``X-Forwarded-Proto`` headers give ``Handshake.address`` and ``Handshake.secure``
            (addresses, networks, or ``"*"``; see ``engineio_core.forwarded``). Believe no
            one by default: the handshake then has the peer's own address.
    """

    def __init__(
        self,
        handler: SocketHandler | None = None,
        *,
        attach: Callable[[Socket], Application] | None = None,
        path: str = "/engine.io",
        ping_interval: float = 25.0,
        ping_timeout: float = 20.0,
        upgrade_timeout: float = 10.0,
        max_http_buffer_size: int = 1_000_000,
        transports: Sequence[str] = ("polling", "websocket"),
        allow_upgrades: bool = True,
        cors_allowed_origins: CorsSetting = None,
        cors_credentials: bool = True,
        cookie: bool | str | Mapping[str, Any] | None = None,
        allow_request: AllowRequest | None = None,
        per_message_deflate: bool = False,
        http_compression: bool = True,
        max_buffered_bytes: int = 4 * 1024 * 1024,
        sid_factory: Callable[[], str] = random_id,
        forwarded_allow_ips: ForwardedAllowIps = None,
    ) -> None:
        if (handler is None) == (attach is None):
            raise TypeError("engineio_core.Server needs one of handler and attach")
        self.handler = handler
        self.attach = attach
        self.path = "/" + path.strip("/") + "/"
        self.config = eio.ServerConfig(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            upgrade_timeout=upgrade_timeout,
            max_payload=max_http_buffer_size,
            transports=tuple(transports),
            allow_upgrades=allow_upgrades,
        )
        self.cors = CorsPolicy(cors_allowed_origins, cors_credentials)
        self.cookie: CookieOptions | None = cookie_options(cookie)
        self.allow_request = allow_request
        self.http_config = HTTPConfig(
            max_message_size=max_http_buffer_size,
            per_message_deflate=per_message_deflate,
        )
        self.http_compression = http_compression
        self.max_buffered_bytes = max_buffered_bytes
        self.sid_factory = sid_factory
        self.proxies = TrustedProxies(forwarded_allow_ips)
        # How long aclose waits for sessions to close and their handlers to return.
        self.shutdown_timeout = 2.0
        self._sessions: dict[str, _Session] = {}
        self._nursery: trio.Nursery | None = None
        self._closing = False
        # Every sleeping driver's next deadline, kept by one task: a cancel scope per sleeping
        # session would cost about a kilobyte each.
        self._timers: list[tuple[float, int, _Alarm]] = []
        self._timer_ids = itertools.count()
        self._timer_wake = Wakeup()
        self._timer_sleeping_until = -math.inf
        self._timer_running = False
        self._timer_live = 0  # entries not void

    # ----------------------------------------------------------------- lifetime

    @property
    def sessions(self) -> Mapping[str, Socket]:
        """The open sessions by sid."""
        return {sid: s.socket for sid, s in self._sessions.items()}

    async def serve(
        self,
        host: str | None = "127.0.0.1",
        port: int = 0,
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` and serve until cancelled or closed.

        ``task_status.started`` reports the listeners (port 0 picks a free port)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            listeners = await nursery.start(
                partial(serve_http, self._handle_or_404, host, port, config=self.http_config)
            )
            task_status.started(listeners)

    def use_nursery(self, nursery: trio.Nursery) -> None:
        """Run session tasks in ``nursery``, for embedding without ``serve()`` (an ASGI
        lifespan, a test)."""
        self._nursery = nursery

    async def aclose(self) -> None:
        """Close every session (``"forced close"``, their queues flushed), let the handlers see
        it and return (for up to ``shutdown_timeout`` seconds in all), then stop serving."""
        self._closing = True
        sessions = list(self._sessions.values())
        for session in sessions:
            session.close()
        with trio.move_on_after(self.shutdown_timeout):
            for session in sessions:
                await session.closed.wait()
                await session.handler_done.wait()
        if self._nursery is not None:
            self._nursery.cancel_scope.cancel()

    def spawn(self, fn: Callable[[], Awaitable[object]]) -> bool:
        """Start ``fn`` in the server's nursery (what a session's application starts runs
        there, so ``aclose`` waits for it); ``False`` when serving is over."""
        if self._nursery is None:
            return False
        try:
            self._nursery.start_soon(fn)
        except RuntimeError:  # the nursery is closed
            return False
        return True

    def _forget(self, session: _Session) -> None:
        self._sessions.pop(session.core.sid, None)

    # ----------------------------------------------------------------- requests

    async def _handle_or_404(self, request: Request) -> None:
        if not await self.handle_request(request):
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    def owns(self, request: Request) -> bool:
        """Whether ``request`` is for this server's path."""
        return request.path == self.path or request.path + "/" == self.path

    async def handle_request(self, request: Request) -> bool:
        """Serve one HTTP request; returns ``False`` (without answering) when it is not ours."""
        if not self.owns(request):
            return False
        origin = request.header("origin")
        host = request.header("host")
        secure = request.secure
        if origin is not None and self.proxies:  # the scheme the browser used, at the proxy
            forwarded = self.proxies.client(request.client_host, request.headers)[1]
            secure = secure if forwarded is None else forwarded
        if not self.cors.is_allowed(origin, host=host, secure=secure):
            await self._refuse(request, eio.ProtocolError(
                "Bad request", http_status=400, code=3), cors=False)
            return True
        if request.method == "OPTIONS" and not request.is_websocket:
            headers = self.cors.preflight_headers(
                origin, request.header("access-control-request-headers"))
            await request.respond(204, headers, b"")
            return True
        query = _node_query(request)
        try:
            kind = eio.check_request(
                method=request.method,
                query=query,
                websocket=request.is_websocket,
                config=self.config,
                origin=origin,
                session=self._sessions[sid].core if (sid := query.get("sid"))
                in self._sessions else None,
            )
        except eio.ProtocolError as error:
            await self._refuse(request, error)
            return True
        if kind is eio.RequestKind.HANDSHAKE:
            opened = await self._handshake(request, query)
            if opened is not None:
                # Read from here, so that the handshake's frame does not stay for the WebSocket's
                # whole life.
                await self._read_websocket(*opened)
        elif kind is eio.RequestKind.POLL:
            await self._poll(request, self._sessions[query["sid"]])
        elif kind is eio.RequestKind.POST:
            await self._post(request, self._sessions[query["sid"]])
        elif kind is eio.RequestKind.UPGRADE:
            await self._upgrade(request, self._sessions[query["sid"]])
        else:  # UPGRADE_REFUSED
            ws = await request.accept_websocket()
            await ws.aclose()
        return True

    def _headers(self, request: Request, *extra: tuple[str, str]) -> list[tuple[str, str]]:
        """Headers of a polling answer, as Node's ``Polling.headers``: ``no-store``, and for
        Internet Explorer ``X-XSS-Protection: 0``; then CORS."""
        headers = [*extra, _NO_STORE]
        agent = request.header("user-agent")
        if agent is not None and (";MSIE" in agent or "Trident/" in agent):
            headers.append(("X-XSS-Protection", "0"))
        return headers + self.cors.response_headers(request.header("origin"))

    async def _refuse(
        self, request: Request, error: eio.ProtocolError, *, cors: bool = True
    ) -> None:
        code = error.code if error.code is not None else 3
        status = error.http_status or 400
        if request.is_websocket:
            # Node refuses every WebSocket request with a plain-text 400, whatever the code.
            await request.reject_websocket(
                400, [("Content-Type", "text/html")], error.message.encode())
            return
        body = eio.error_body(code, error.message)
        headers = [("Content-Type", "application/json")]
        if cors:
            headers += self.cors.response_headers(request.header("origin"))
        await request.respond(status, headers, body)

    async def _handshake(
        self, request: Request, query: dict[str, str]
    ) -> tuple[_Session, WebSocket] | None:
        """Open a session; on WebSocket, returns it and its WebSocket for the caller to read."""
        if self._closing or self._nursery is None:
            await self._refuse(request, eio.ProtocolError("Bad request", code=3))
            return None
        address, forwarded_secure = self.proxies.client(request.client_host, request.headers)
        handshake = Handshake(
            headers=_Headers(request.headers),
            query=query,  # handle_request's own, which lives as long anyway
            address=address,
            url=request.target,
            secure=request.secure if forwarded_secure is None else forwarded_secure,
        )
        if self.allow_request is not None:
            allowed = self.allow_request(handshake)
            if not isinstance(allowed, bool):
                allowed = await allowed
            if not allowed:
                await self._refuse(request, eio.ProtocolError(
                    "Forbidden", http_status=403, code=4))
                return None
        transport = "websocket" if request.is_websocket else "polling"
        now = trio.current_time()
        sid = self.sid_factory()
        while sid in self._sessions:
            sid = self.sid_factory()
        # A polling handshake carrying ``j`` makes the session JSONP for good (engine.io
        # lib/transports/index.ts).
        j = handshake.query.get("j") if transport == "polling" else None
        jsonp = eio.jsonp_index(j) if j is not None else None
        core = eio.ServerSession(sid, self.config, transport=transport, now=now, jsonp=jsonp)
        session = _Session(self, core, handshake)
        self._sessions[sid] = session
        cookie = [("Set-Cookie", self.cookie.header(sid))] if self.cookie else []
        if self.attach is not None:
            try:
                app = session.app = self.attach(session.socket)
            except Exception:
                log.exception("attaching session %s failed", sid)
                session.handler_done.set()
                session.close()
            else:
                session.receive_lock = trio.StrictFIFOLock()
                session.receiver = app.receive
        self._nursery.start_soon(self._drive, session)
        if self.attach is None:
            self._nursery.start_soon(self._run_handler, session)
        if transport == "polling":
            await self._answer_poll(request, session, extra=cookie)
            return None
        websocket = await request.accept_websocket(extra_headers=cookie)
        session.websocket = websocket
        session.notify()
        return session, websocket

    async def _run_handler(self, session: _Session) -> None:
        assert self.handler is not None
        try:
            await self.handler(session.socket)
        except Exception:
            log.exception("connection handler of session %s failed", session.core.sid)
        finally:
            session.handler_done.set()
            session.close()

    # ----------------------------------------------------------------- the session driver

    async def _drive(self, session: _Session) -> None:
        """The one task that owns the session's timers (its application's too) and writes its
        WebSocket frames."""
        core = session.core
        try:
            while True:
                now = trio.current_time()
                deadline = core.next_deadline()
                if deadline is not None and now >= deadline:
                    await session.deliver(core.handle_timeout(now=now))
                    continue
                app = session.app
                if app is not None and not session.closed.is_set():
                    if (due := app.next_deadline()) is not None:
                        if now >= due:
                            app.handle_timeout(now)
                            continue
                        if deadline is None or due < deadline:
                            deadline = due
                if await self._write_frames(session):
                    continue
                if session.closed.is_set() and not session.writing:
                    break
                wake = session.wake
                if deadline is not None and (wake.at is None or deadline < wake.at):
                    self._set_timer(wake, deadline)
                session.sleeping_until = deadline if deadline is not None else math.inf
                try:
                    await wake.wait()
                finally:
                    session.sleeping_until = -math.inf
        finally:
            self._set_timer(session.wake, None)
            for websocket in (session.websocket, session.probe):
                if websocket is not None:
                    with trio.move_on_after(1.0) as scope:
                        scope.shield = True
                        await websocket.aclose()

    def _set_timer(self, alarm: _Alarm, at: float | None) -> None:
        """Ring ``alarm`` at ``at`` (``None``: never); its earlier entry becomes void."""
        if alarm.at is not None:
            self._timer_live -= 1
        alarm.at = at
        if at is None:
            if not self._timer_live:
                self._timer_wake.notify()  # nothing left to ring: the timer task may end
            return
        self._timer_live += 1
        heappush(self._timers, (at, next(self._timer_ids), alarm))
        if at < self._timer_sleeping_until:
            self._timer_wake.notify()
        if not self._timer_running:
            self._timer_running = self.spawn(self._run_timers)

    async def _run_timers(self) -> None:
        """Ring each driver's alarm at the deadline it sleeps until. An entry is void once its
        alarm is set for another time (the driver moved its deadline earlier, or was woken
        and has yet to sleep again)."""
        timers = self._timers
        try:
            while self._timer_live:
                now = trio.current_time()
                while timers and timers[0][0] <= now:
                    at, _, alarm = heappop(timers)
                    if alarm.at == at:
                        self._timer_live -= 1
                        alarm.at = None
                        alarm.notify()
                self._timer_sleeping_until = timers[0][0] if timers else math.inf
                try:
                    with trio.move_on_at(self._timer_sleeping_until):
                        await self._timer_wake.wait()
                finally:
                    self._timer_sleeping_until = -math.inf
        finally:
            # Every entry is void, or the nursery is going (its drivers void theirs as they go).
            self._timer_running = False
            if not self._timer_live:
                timers.clear()

    def _app_closed(self, session: _Session, app: Application) -> None:
        # In a task of its own: whoever closes the session may be anybody's task (a broadcast
        # among others), and the driver may be held up writing to a peer that does not read.
        if not self.spawn(partial(self._close_app, session, app)):
            app.session_closed()  # serving is over: no one waits for it

    async def _close_app(self, session: _Session, app: Application) -> None:
        try:
            done = app.session_closed()
            if done is not None:
                await done.wait()
        except Exception:
            log.exception("application of session %s failed", session.core.sid)
        finally:
            session.handler_done.set()

    async def _write_frames(self, session: _Session) -> bool:
        """Write what the core queued for the WebSockets; returns whether anything was written.

        One writer at a time: while a write is under way this does nothing, and that writer
        wakes the driver when it is done if more was queued meanwhile (or the session closed).
        """
        if session.writing:
            return False
        wrote = False
        if session.probe is not None:
            frames = session.core.take_probe_frames()
            if frames:
                wrote = True
                await self._send_frames(session, session.probe, frames, probe=True)
        if session.websocket is not None and session.core.transport == "websocket":
            frames = session.core.take_ws_frames()
            if frames:
                wrote = True
                await self._send_frames(session, session.websocket, frames, probe=False)
        if wrote:
            session.changed.notify()
        return wrote

    async def _send_frames(
        self, session: _Session, websocket: WebSocket, frames: list[str | bytes], *, probe: bool
    ) -> None:
        session.writing += 1
        try:
            await websocket.send_many(frames)
        except (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError):
            events = (session.core.probe_closed(now=trio.current_time()) if probe else
                      session.core.transport_closed(reason="transport error",
                                                    now=trio.current_time()))
            await session.deliver(events)
        finally:
            session.writing -= 1
            if session.core.buffered_bytes() or session.closed.is_set():
                session.wake.notify()  # what was queued meanwhile, or the close, is the driver's

    # ----------------------------------------------------------------- polling

    async def _poll(self, request: Request, session: _Session) -> None:
        await self._answer_poll(request, session)

    async def _answer_poll(
        self, request: Request, session: _Session, extra: Sequence[tuple[str, str]] = ()
    ) -> None:
        core = session.core
        before = core.next_deadline()
        try:
            events = core.start_poll(now=trio.current_time())
        except eio.ProtocolError as error:
            await session.deliver(core.events_after_error())
            await self._refuse(request, error)
            return
        if events:  # deliver() wakes everyone for no events at all; that is the line below's call
            await session.deliver(events)
        _wake_if_sooner(session, before)
        if not core.poll_ready():
            await self._park_poll(request, session)
        before = core.next_deadline()
        body = core.take_poll_payload()
        session.changed.notify()  # the buffer emptied: a producer waiting for drain goes on
        _wake_if_sooner(session, before)
        headers = self._headers(request, ("Content-Type", "text/plain; charset=UTF-8"), *extra)
        if self.http_compression and len(body) >= 1024:
            encoding = choose_encoding(request.header("accept-encoding"))
            if encoding is not None:
                body = compress_body(body, encoding)
                headers.append(("Content-Encoding", encoding))
        await request.respond(200, headers, body)

    async def _park_poll(self, request: Request, session: _Session) -> None:
        """Wait until the parked GET has an answer, watching its connection meanwhile.

        One task does both: it reads the socket (``wait_disconnected``) inside a cancel scope
        that the session's next change cancels, instead of a nursery and a watcher task per GET.
        """
        core = session.core
        watched = True
        while not core.poll_ready():
            if not watched:
                await session.changed.wait()
                continue
            with trio.CancelScope() as scope:
                session.changed.cancel_on_notify(scope)
                try:
                    await request.wait_disconnected()
                except RuntimeError:  # a GET with an unread body: not watched
                    watched = False
                    continue
            if scope.cancelled_caught:
                continue
            # As Node ("poll connection closed prematurely"): a transport error. The answer then
            # written to the gone client fails quietly.
            await session.deliver(session.core.transport_closed(
                reason="transport error", now=trio.current_time()))
            watched = False

    async def _post(self, request: Request, session: _Session) -> None:
        core = session.core
        if request.header("content-type") == "application/octet-stream":
            # As Node (polling.ts onDataRequest): EIO=4 payloads are text; this exact type is
            # refused unread, with an empty 400, and the session closes ("invalid content").
            await session.deliver(core.transport_closed(
                reason="transport error", now=trio.current_time()))
            await request.respond(400, self.cors.response_headers(request.header("origin")), b"")
            return
        try:
            body = await request.read_body(self.config.max_payload)
        except BodyTooLarge:
            await session.deliver(core.transport_closed(
                reason="transport error", now=trio.current_time()))
            await request.respond(413, self.cors.response_headers(request.header("origin")),
                                  b"")
            return
        except HTTPError:
            # Cut short or stalled: as Node ("data request connection closed prematurely").
            await session.deliver(core.transport_closed(
                reason="transport error", now=trio.current_time()))
            raise
        # The body was often in the same read as the headers. A GET and a POST sent at once
        # on two connections wake in one scheduler batch, in random order; Node reads a body
        # in a later tick, so its GET is parked first and a POSTed "1" answers it with "6".
        # One checkpoint gives the same order here.
        await trio.lowlevel.checkpoint()
        before = core.next_deadline()
        try:
            events = core.receive_poll_body(body, now=trio.current_time())
        except eio.ProtocolError as error:
            await session.deliver(core.events_after_error())
            await self._refuse(request, error)
            return
        if events:
            await self._deliver_posted(session, events)
        # A pong only moves the deadline later, a message not at all: the driver sleeps on.
        _wake_if_sooner(session, before)
        # Node runs the handlers before it answers "ok", so a poll sent after "ok" finds their
        # replies. A receiver ran in deliver() already; an application iterating the socket
        # takes a message per scheduler pass: give it that many.
        if session._inbox is not None:
            inbox = session._inbox[1]
            for _ in range(len(events)):
                if not inbox.statistics().current_buffer_used:
                    break
                await trio.lowlevel.checkpoint()
        await request.respond(200, self._headers(request, ("Content-Type", "text/html")), b"ok")

    async def _deliver_posted(self, session: _Session, events: list[eio.Event]) -> None:
        """Deliver what a POST brought. What the handlers send meanwhile is for the parked poll
        (woken through ``changed``): the driver, which only writes WebSocket frames and keeps
        the deadlines, is not woken for each of those messages, as for a WebSocket reader."""
        task = trio.lowlevel.current_task()
        flusher = session.flusher
        if flusher is None:
            session.flusher = task
        try:
            await session.deliver(events)
        finally:
            if session.flusher is task:
                session.flusher = flusher
        if session.core.transport != "polling" or session.probe is not None:
            # An upgrade moved on meanwhile: what was queued may be the driver's to write.
            session.wake.notify()

    # ----------------------------------------------------------------- websocket

    async def _upgrade(self, request: Request, session: _Session) -> None:
        core = session.core
        websocket = await request.accept_websocket()
        try:
            events = core.begin_upgrade(now=trio.current_time())
        except eio.ProtocolError:
            await websocket.aclose()
            return
        session.probe = websocket
        await session.deliver(events)
        session.notify()
        batch: deque[str | bytes] = deque()
        while session.probe is websocket:
            try:
                batch.append(await websocket.receive())
            except (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError):
                session.probe = None
                await session.deliver(core.probe_closed(now=trio.current_time()))
                return
            # Everything that one read brought goes through the core before we write or yield:
            # a client may send "2probe" and "5" back to back and poll at once; like Node, we
            # must then answer that poll as upgraded and still send "3probe" first.
            batch.extend(websocket.receive_buffered())
            events = []
            while batch and session.probe is websocket:
                try:
                    events += core.receive_probe_message(batch.popleft(),
                                                         now=trio.current_time())
                except eio.ProtocolError:
                    session.probe = None
                    await session.deliver([*events, *core.probe_closed(now=trio.current_time())])
                    await websocket.aclose()
                    return
                if any(isinstance(event, eio.Upgraded) for event in events):
                    session.probe = None
                    session.websocket = websocket
                elif not core.upgrading:
                    session.probe = None
                    await session.deliver(events)
                    await websocket.aclose()
                    return
            if session.probe is websocket:
                if frames := core.take_probe_frames():
                    await self._send_frames(session, websocket, frames, probe=True)
            else:
                await self._write_frames(session)
            await session.deliver(events)
        await self._read_websocket(session, websocket, batch)

    async def _read_websocket(
        self, session: _Session, websocket: WebSocket, already: Iterable[str | bytes] = ()
    ) -> None:
        core = session.core
        backlog = list(already)
        session.flusher = trio.lowlevel.current_task()
        while not session.closed.is_set():
            try:
                message = backlog.pop(0) if backlog else await websocket.receive()
            except (WebSocketClosed, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
                # As Node: a frame we refused (too big, invalid) is an error, not a close.
                local = isinstance(exc, WebSocketClosed) and exc.local
                reason = "transport error" if local else "transport close"
                await session.deliver(core.transport_closed(reason=reason,
                                                            now=trio.current_time()))
                return
            try:
                events = core.receive_ws_message(message, now=trio.current_time())
            except eio.ProtocolError:
                await session.deliver(core.events_after_error())
                return
            await session.deliver(events)
            if not backlog:
                backlog = websocket.receive_buffered()
                if backlog:
                    continue  # the rest of what one read brought first: its answers leave together
            # What acting on the messages queued (acks, answers) is written here, without waking
            # the driver, unless a write is under way: its writer then hands it over.
            await self._write_frames(session)

