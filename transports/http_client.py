"""An HTTP/1.1 client connection on trio with h11: sequential keep-alive requests, capped bodies.

Time limits are the caller's: wrap calls in ``trio.move_on_after``/``fail_after``. A connection
that failed or was closed by either side is not reusable; open a new one (``open_stream``).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from typing import NamedTuple

import h11
import trio

from ._errors import BodyTooLarge, HTTPClientError
from ._headers import framed

__all__ = ["HTTPConnection", "HTTPResponse", "http_request", "open_stream"]

_STREAM_ERRORS = (trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError)


class HTTPResponse(NamedTuple):
    """A whole response: ``status``, ``headers`` (names lowercased), ``body``."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), repeated fields joined by ``", "``."""
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None


async def open_stream(
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    tls: bool = False,
) -> trio.abc.Stream:
    """Connect over TCP; with ``tls`` (or an ``ssl_context``) wrap in a verified TLS stream.

    The default context is ``ssl.create_default_context()``: certificates and host name checked.
    """
    stream: trio.abc.Stream = await trio.open_tcp_stream(host, port)
    if tls or ssl_context is not None:
        context = ssl_context or ssl.create_default_context()
        tls_stream = trio.SSLStream(stream, context, server_hostname=host, https_compatible=True)
        try:
            await tls_stream.do_handshake()
        except BaseException:
            await trio.aclose_forcefully(tls_stream)
            raise
        stream = tls_stream
    return stream


class HTTPConnection(trio.abc.AsyncResource):
    """One client connection; requests run one after another (a lock serializes callers).

    Args:
        stream: a connected stream (owned: closed with the connection).
        host: the ``Host`` header sent when the caller gives none.
    """

    def __init__(
        self,
        stream: trio.abc.Stream,
        host: str,
        *,
        max_header_bytes: int = 64 * 1024,
        receive_buffer_size: int = 64 * 1024,
    ) -> None:
        self.stream = stream
        self.host = host
        self._h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_header_bytes)
        self._bufsize = receive_buffer_size
        self._lock = trio.Lock()
        self._broken = False

    @property
    def reusable(self) -> bool:
        """Whether another request may be sent on this connection."""
        state = self._h11.our_state
        return not self._broken and (state is h11.IDLE or (
            state is h11.DONE and self._h11.their_state is h11.DONE))

    async def request(
        self,
        method: str,
        target: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        max_body_size: int = 10 * 1024 * 1024,
    ) -> HTTPResponse:
        """Send one request and read the whole response.

        Raises:
            HTTPClientError: the connection is not reusable, or the response is invalid or cut.
            BodyTooLarge: the response body exceeds ``max_body_size`` (connection closed).
        """
        async with self._lock:
            if not self.reusable:
                raise HTTPClientError("this connection cannot be reused")
            if self._h11.our_state is h11.DONE:
                self._h11.start_next_cycle()
            try:
                return await self._exchange(method, target, headers, body, max_body_size)
            except BaseException:
                self._broken = True
                await trio.aclose_forcefully(self.stream)
                raise

    async def _exchange(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes,
        max_body_size: int,
    ) -> HTTPResponse:
        names = {k.lower() for k, _ in headers}
        out = framed(headers, len(body) if body or method not in ("GET", "HEAD", "OPTIONS")
                     else None)
        if "host" not in names:
            out.insert(0, (b"host", self.host.encode("idna")))
        try:
            data = self._h11.send(h11.Request(method=method, target=target, headers=out))
            if body:
                data = (data or b"") + (self._h11.send(h11.Data(data=body)) or b"")
            data = (data or b"") + (self._h11.send(h11.EndOfMessage()) or b"")
        except h11.LocalProtocolError as exc:
            raise HTTPClientError(f"invalid request: {exc}") from exc
        try:
            await self.stream.send_all(data)
        except _STREAM_ERRORS as exc:
            raise HTTPClientError("connection lost while sending the request") from exc
        status = 0
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise HTTPClientError(f"invalid response: {exc}") from exc
            if event is h11.NEED_DATA:
                try:
                    received = bytes(await self.stream.receive_some(self._bufsize))
                except _STREAM_ERRORS as exc:
                    raise HTTPClientError("connection lost while reading the response") from exc
                self._h11.receive_data(received)
            elif isinstance(event, h11.Response):
                status = event.status_code
                response_headers = [(k.decode("latin-1"), v.decode("latin-1"))
                                    for k, v in event.headers]
            elif isinstance(event, h11.Data):
                size += len(event.data)
                if size > max_body_size:
                    raise BodyTooLarge(max_body_size)
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return HTTPResponse(status, response_headers, b"".join(chunks))
            elif isinstance(event, h11.ConnectionClosed):
                raise HTTPClientError("connection closed before a response")
            elif isinstance(event, h11.InformationalResponse) and event.status_code == 101:
                # The stream now speaks another protocol: nothing more is HTTP on it.
                self._broken = True
                return HTTPResponse(101, [(k.decode("latin-1"), v.decode("latin-1"))
                                          for k, v in event.headers], b"")
            elif event is h11.PAUSED:  # unreachable unless h11 changes; never spin on it
                raise HTTPClientError("the response could not be read")

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        self._broken = True
        await trio.aclose_forcefully(self.stream)


async def http_request(
    connection: HTTPConnection,
    method: str,
    target: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    max_body_size: int = 10 * 1024 * 1024,
) -> HTTPResponse:
    """``connection.request(...)`` as a function; unpacks as ``(status, headers, body)``."""
    return await connection.request(method, target, headers, body, max_body_size=max_body_size)
