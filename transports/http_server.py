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
import ssl
from collections.abc import Awaitable, Callable
from functools import partial

import trio

from . import _watch
from ._admission import Admission, serve_admitted
from ._config import HTTPConfig
from ._errors import HTTPError
from ._http_connection import STREAM_ERRORS, Connection
from ._http_request import HTTPRequest
from ._interfaces import Request
from ._request_head import PlainHead

__all__ = ["HTTPRequest", "Handler", "handle_stream", "serve_http"]

log = logging.getLogger("transports.http")

Handler = Callable[[Request], Awaitable[None]]


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
    The stream is closed when it returns.

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
    conn = Connection(stream, cfg, admitted)
    admitted = None  # the connection holds it until it is called, not this frame
    # The request loop is in this frame, and a WebSocket's reader (``continue_with``) runs from
    # it once its handler returned: under each connection's reader there is only this frame (each a
    # coroutine object that the garbage collector's full collections visit).
    try:
        while True:
            request = await _next_request(conn, client, secure)
            if request is None:
                return
            try:
                await handler(request)
            except HTTPError as exc:
                request._drop_continuation()
                if not request.responded:
                    conn.must_close = True
                    await conn.send_error(exc.status)
                    return
            except STREAM_ERRORS:
                request._drop_continuation()
                raise
            except Exception:
                request._drop_continuation()
                log.exception("HTTP handler failed on %s %s", request.method, request.target)
                if conn.websocket is None and not request.responded:
                    await conn.send_error(500)
                return
            if conn.websocket is not None:
                reader = request._take_continuation()
                del request  # not kept for the WebSocket's life
                if reader is not None:
                    await reader
                return
            if not request.responded:
                log.error("HTTP handler returned without answering %s %s",
                          request.method, request.target)
                await conn.send_error(500)
                return
            if not await conn.finish_cycle():
                return
    except STREAM_ERRORS:
        log.debug("connection from %s lost", client)
    except Exception:
        log.exception("HTTP connection from %s failed", client)
    finally:
        conn.answered()
        if conn.websocket is not None:
            await conn.websocket.aclose(1001, "going away")
        else:
            await conn.close()


async def _next_request(
    conn: Connection, client: tuple[str, int], secure: bool
) -> HTTPRequest | None:
    # Apart from ``_serve`` so that h11's event does not stay alive as long as the request (a
    # WebSocket's whole life).
    event = await conn.next_request()
    if event is None:
        return None
    cfg = conn.config
    if type(event) is PlainHead:
        headers = event.headers  # made for this request: no copy
        # Its size as counted below is at most its size as sent, plus one a header.
        counted = event.size + len(headers) > cfg.max_header_bytes
    else:
        headers = list(event.headers)
        counted = True
    if len(headers) > cfg.max_headers or (counted and len(event.target) + sum(
            len(k) + len(v) + 4 for k, v in headers) > cfg.max_header_bytes):
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


def _serve_socket(
    stream: trio.SocketStream,
    admitted: Callable[[], None],
    *,
    handler: Handler,
    config: HTTPConfig,
    ssl_context: ssl.SSLContext | None,
) -> Awaitable[None]:
    # The connection's task runs what this returns: without TLS, ``handle_stream`` itself (no
    # frame of this function stays under the connection for its life).
    if ssl_context is None:
        return handle_stream(stream, handler, config, secure=False, admitted=admitted)
    return _serve_tls(stream, admitted, handler, config, ssl_context)


async def _serve_tls(
    stream: trio.SocketStream,
    admitted: Callable[[], None],
    handler: Handler,
    config: HTTPConfig,
    ssl_context: ssl.SSLContext,
) -> None:
    client = _peer(stream)
    tls = trio.SSLStream(stream, ssl_context, server_side=True)
    try:
        with trio.fail_after(config.header_timeout):
            await tls.do_handshake()
    except (*STREAM_ERRORS, trio.TooSlowError):
        admitted()
        await trio.aclose_forcefully(tls)
        return
    except BaseException:
        admitted()
        await trio.aclose_forcefully(tls)
        raise
    await handle_stream(tls, handler, config, client=client, secure=True, admitted=admitted)
