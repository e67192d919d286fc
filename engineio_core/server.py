"""The Engine.IO server on trio: its options, the routing of each HTTP request, and its lifetime.

Data path: a request reaches ``Server.handle_request`` → the request check of the core →
handshake, a polling GET or POST (``_polling``), or a WebSocket (``_wsreader``: an upgrade's
probe, then the reader). Each session is a ``_session.Session`` beside its
``protocol.ServerSession`` core, with a driver task that runs while it has work; everything a
session decides lives in the core, and the runtime only moves bytes (``_writer``) and starts the
driver again at the session's next deadline (``_timers``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from functools import partial
from typing import Any

import trio

from transports import HTTPConfig, HTTPRequest, Request, WebSocket, serve_http

from . import protocol as eio
from ._polling import answer_poll, post
from ._replies import HeaderHooks, HeadersHook, refuse
from ._session import (
    AllowRequest,
    Application,
    Handshake,
    LazyHeaders,
    Receiver,
    Session,
    Socket,
    SocketHandler,
)
from ._timers import Timers
from ._writer import Flusher
from ._wsreader import read_websocket, upgrade
from .cors import CorsPolicy, CorsSetting
from .forwarded import ForwardedAllowIps, TrustedProxies
from .http_policy import CookieOptions, cookie_options
from .ids import random_id

__all__ = ["AllowRequest", "Application", "Handshake", "Receiver", "Server", "Socket",
           "SocketHandler"]

log = logging.getLogger("engineio_core")


def _node_query(request: Request) -> dict[str, str]:
    """The query as Node's engine.io reads it (``Object.fromEntries(url.searchParams)``): a
    parameter given twice counts with its last value."""
    raw = request.raw_query
    if "%" in raw or "+" in raw:
        return {name: values[-1] for name, values in request.query_lists.items()}
    # The usual query, with nothing to decode: read at once (query_lists is then never made).
    query: dict[str, str] = {}
    for field in raw.split("&"):
        if field:
            name, _, value = field.partition("=")
            query[name] = value
    return query


def _log_refusal(request: Request, error: eio.ProtocolError, by: str = "") -> None:
    log.info("refused %s %s from %s: %s (Engine.IO error %s, HTTP %s%s)", request.method,
             request.target, request.client_host, error.message,
             error.code if error.code is not None else 3, error.http_status or 400,
             f", by {by}" if by else "")


async def _read(request: Request, reader: Coroutine[Any, Any, object]) -> None:
    """Run a session's WebSocket reader: on our HTTP server (``HTTPRequest``), by the
    connection's task once the request's handler returned (``continue_with``), so that for the
    WebSocket's whole life no frame of the request's handling stays beneath it; on any other,
    here."""
    if isinstance(request, HTTPRequest):
        request.continue_with(reader)
    else:
        await reader


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
        max_buffered_bytes: outbound high-water mark per session; ``Socket.send`` waits above
            it (a peer that takes nothing for ``stall_timeout``, 2 s, meanwhile is dropped).
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
        # How long a session over max_buffered_bytes, with a producer waiting for it, may take
        # nothing before it is dropped (its client stopped reading); see wait_for_drain.
        self.stall_timeout = 2.0
        self._sessions: dict[str, Session] = {}
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self.timers = Timers(self.spawn)
        self.flusher = Flusher(self.spawn)
        self.header_hooks = HeaderHooks()


    @property
    def sessions(self) -> Mapping[str, Socket]:
        """The open sessions by sid."""
        return {sid: s.socket for sid, s in self._sessions.items() if s.socket is not None}

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
        it and return (for up to ``shutdown_timeout`` seconds in all), then stop serving.

        A session whose peer has not taken its close within three quarters of that time (a
        polling client that stopped polling) is closed without its queue, so its handlers
        still see the close in the last quarter."""
        self._closing = True
        sessions = list(self._sessions.values())
        for session in sessions:
            session.close()
        end = trio.current_time() + self.shutdown_timeout
        with trio.move_on_at(end - self.shutdown_timeout / 4):
            for session in sessions:
                await session.closed.wait()
        for session in sessions:
            session.abort("forced close")
        with trio.move_on_at(end):
            for session in sessions:
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

    def on(self, event: str, hook: HeadersHook | None = None) -> Any:
        """Add headers to the server's answers, as Node's engine events (usable as a decorator):
        ``on("initial_headers", hook)`` for the handshake's answer (a session's first request,
        polling or WebSocket), ``on("headers", hook)`` for every answer that carries a session
        (the handshake, each poll and POST, each WebSocket's 101). ``hook(headers, request)``
        adds to ``headers``, a dict of header name to value (or to a list of values: several
        ``Set-Cookie``, say); ``request`` is the ``transports.Request`` answered.

        Raises:
            ValueError: another event name.
        """
        if event == "initial_headers":
            hooks = self.header_hooks.initial
        elif event == "headers":
            hooks = self.header_hooks.every
        else:
            raise ValueError(f"unknown engine event {event!r} (initial_headers, headers)")

        def register(fn: HeadersHook) -> HeadersHook:
            hooks.append(fn)
            return fn

        return register if hook is None else register(hook)


    async def _handle_or_404(self, request: Request) -> None:
        if not await self.handle_request(request):
            await request.respond(404, [("Content-Type", "text/plain")], b"Not Found")

    def owns(self, request: Request) -> bool:
        """Whether ``request`` is for this server's path."""
        return request.path == self.path or request.path + "/" == self.path

    async def handle_request(self, request: Request) -> bool:
        """Serve one HTTP request; returns ``False`` (without answering) when it is not ours.

        A WebSocket opening a session is read until it closes: on our HTTP server
        (``transports.HTTPRequest``), by the connection's task once its handler returned
        (``HTTPRequest.continue_with``); on any other, before this returns."""
        if not self.owns(request):
            return False
        origin = request.header("origin")
        secure = request.secure
        if origin is not None and self.proxies:  # the scheme the browser used, at the proxy
            forwarded = self.proxies.client(request.client_host, request.headers)[1]
            secure = secure if forwarded is None else forwarded
        if origin is not None and not self.cors.is_allowed(  # without one, always allowed
                origin, host=request.header("host"), secure=secure):
            log.info("refused %s %s from %s: origin %s not allowed (cors_allowed_origins)",
                     request.method, request.target, request.client_host, origin)
            await refuse(request, eio.ProtocolError("Bad request", http_status=400, code=3),
                         None)
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
            _log_refusal(request, error)
            await refuse(request, error, self.cors)
            return True
        if kind is eio.RequestKind.HANDSHAKE:
            opened = await self._handshake(request, query)
            if opened is not None:
                # Read from here (or after it), so that the handshake's frame does not stay for
                # the WebSocket's whole life.
                await _read(request, read_websocket(*opened))
        elif kind is eio.RequestKind.POLL:
            session = self._sessions[query["sid"]]
            await answer_poll(request, session, self.cors, self.http_compression,
                              extra=self.header_hooks.headers(request))
        elif kind is eio.RequestKind.POST:
            session = self._sessions[query["sid"]]
            await post(request, session, self.cors, self.config.max_payload,
                       extra=self.header_hooks.headers(request))
        elif kind is eio.RequestKind.UPGRADE:
            session = self._sessions[query["sid"]]
            upgraded = await upgrade(request, session, extra=self.header_hooks.headers(request))
            if upgraded is not None:
                await _read(request, read_websocket(session, *upgraded))
        else:  # UPGRADE_REFUSED
            ws = await request.accept_websocket()
            await ws.aclose()
        return True

    async def _handshake(
        self, request: Request, query: dict[str, str]
    ) -> tuple[Session, WebSocket] | None:
        """Open a session; on WebSocket, returns it and its WebSocket for the caller to read."""
        if self._closing or self._nursery is None:
            await refuse(request, eio.ProtocolError("Bad request", code=3), self.cors)
            return None
        address, forwarded_secure = self.proxies.client(request.client_host, request.headers)
        handshake = Handshake(
            headers=LazyHeaders(request.headers),
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
                error = eio.ProtocolError("Forbidden", http_status=403, code=4)
                _log_refusal(request, error, "allow_request")
                await refuse(request, error, self.cors)
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
        session = Session(self, core, handshake)
        socket = session.socket
        assert socket is not None
        self._sessions[sid] = session
        log.debug("handshake: session %s over %s from %s", sid, transport, address)
        extra = self.header_hooks.headers(
            request, initial=True, cookie=self.cookie.header(sid) if self.cookie else None)
        if self.attach is not None:
            try:
                app = session.app = self.attach(socket)
            except Exception:
                log.exception("attaching session %s failed", sid)
                session.handler_done.set()
                session.close()
            else:
                session.receiver = app.receive
        session.park()
        if self.attach is None:
            # The socket too: the session drops it once over, maybe before this task starts.
            self._nursery.start_soon(self._run_handler, session, socket)
        if transport == "polling":
            await answer_poll(request, session, self.cors, self.http_compression, extra=extra)
            return None
        try:
            websocket = await request.accept_websocket(extra_headers=extra)
        except Exception:
            # The connection went (or stalled) before the 101 left: nobody will ever read or
            # write this session, so it ends now rather than at its ping timeout.
            await session.deliver(core.transport_closed(reason="transport close",
                                                        now=trio.current_time()))
            raise
        session.writer.websocket = websocket
        session.writer.flush()  # the open packet
        return session, websocket

    async def _run_handler(self, session: Session, socket: Socket) -> None:
        assert self.handler is not None
        try:
            await self.handler(socket)
        except Exception:
            log.exception("connection handler of session %s failed", session.core.sid)
        finally:
            session.handler_done.set()
            session.close()


    def _session_closed(self, session: Session) -> None:
        app = session.app
        # In a task of its own: whoever closes the session may be anybody's task (a broadcast
        # among others), and the driver may be held up writing to a peer that does not read.
        if app is not None and not self.spawn(partial(self._close_app, session, app)):
            app.session_closed()  # serving is over: no one waits for it
        self._sessions.pop(session.core.sid, None)

    async def _close_app(self, session: Session, app: Application) -> None:
        try:
            done = app.session_closed()
            if done is not None:
                await done.wait()
        except Exception:
            log.exception("application of session %s failed", session.core.sid)
        finally:
            session.handler_done.set()

