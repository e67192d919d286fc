"""The h11 client connection: reuse rules, caps, failures; TLS against the server."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
import trio
import trio.testing

from transports import (
    BodyTooLarge,
    HTTPClientError,
    HTTPConnection,
    Request,
    connect_websocket,
    handle_stream,
    open_stream,
    serve_http,
)


def run(fn: Callable[[], Awaitable[None]], *, mock: bool = True) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0) if mock else None
    trio.run(fn, clock=clock)


async def handler(request: Request) -> None:
    if request.path == "/big":
        await request.respond(200, [], b"x" * 1000)
    elif request.path == "/close":
        await request.respond(200, [("Connection", "close")], b"bye")
    elif request.is_websocket:
        ws = await request.accept_websocket()
        await ws.send("secure hello")
        await ws.aclose()
    else:
        body = await request.read_body(100)
        await request.respond(200, [("X-Secure", str(request.secure))], body)


async def with_server(test: Callable[[HTTPConnection], Awaitable[None]]) -> None:
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handle_stream, server, handler, None)
            async with HTTPConnection(client, "h") as conn:
                await test(conn)


def test_body_cap_breaks_the_connection() -> None:
    async def test(conn: HTTPConnection) -> None:
        with pytest.raises(BodyTooLarge):
            await conn.request("GET", "/big", max_body_size=10)
        assert not conn.reusable
        with pytest.raises(HTTPClientError):
            await conn.request("GET", "/")

    run(partial(with_server, test))


def test_connection_close_is_honoured() -> None:
    async def test(conn: HTTPConnection) -> None:
        response = await conn.request("PUT", "/close", [("Host", "other")])
        assert response.body == b"bye" and not conn.reusable

    run(partial(with_server, test))


def test_invalid_request_is_refused_locally() -> None:
    async def test(conn: HTTPConnection) -> None:
        with pytest.raises(HTTPClientError):
            await conn.request("BAD METHOD", "/")

    run(partial(with_server, test))


@pytest.mark.parametrize("reply", [b"", b"NOT HTTP\r\n\r\n", b"HTTP/1.1 200 OK\r\n"],
                         ids=["closed", "garbage", "cut"])
def test_bad_or_missing_responses(reply: bytes) -> None:
    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        with trio.fail_after(10):
            conn = HTTPConnection(client, "h")
            async with trio.open_nursery() as nursery:
                nursery.start_soon(expect_client_error, conn)
                await server.receive_some()
                await server.send_all(reply)
                await server.aclose()
            await conn.aclose()

    run(main)


async def expect_client_error(conn: HTTPConnection) -> None:
    with pytest.raises(HTTPClientError):
        await conn.request("GET", "/")


UPGRADE = [("Upgrade", "websocket"), ("Connection", "Upgrade")]
SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"


@pytest.mark.parametrize(("headers", "reply", "status"), [
    (UPGRADE, SWITCH + b"HTTP/1.1 400 Bad Request\r\n\r\n", 101),  # Node's answer to EIO=3
    ([], SWITCH, None),  # a switch nobody asked for
    ([], b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204),
], ids=["asked", "unasked", "continue"])
def test_informational_responses(headers: list[tuple[str, str]], reply: bytes,
                                 status: int | None) -> None:
    """A 101 ends the HTTP exchange (it used to spin on h11's PAUSED); a 100 is skipped."""
    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        conn = HTTPConnection(client, "h")
        with trio.fail_after(10):
            await server.send_all(reply)
            if status is None:
                with pytest.raises(HTTPClientError):
                    await conn.request("GET", "/", headers)
            else:
                response = await conn.request("GET", "/", headers)
                assert response.status == status and response.body == b""
                assert conn.reusable is (status != 101)
        await conn.aclose()

    run(main)


def test_send_on_a_closed_stream() -> None:
    async def main() -> None:
        client, _server = trio.testing.memory_stream_pair()
        await client.aclose()
        conn = HTTPConnection(client, "h")
        with pytest.raises(HTTPClientError):
            await conn.request("GET", "/")

    run(main)


def make_cert(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30)
    return cert, key


def test_tls_verified_end_to_end(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    client_context = ssl.create_default_context(cafile=str(cert))

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(
                    serve_http, handler, "127.0.0.1", 0, ssl_context=server_context))
                port = listeners[0].socket.getsockname()[1]
                stream = await open_stream("127.0.0.1", port, ssl_context=client_context)
                async with HTTPConnection(stream, "127.0.0.1") as conn:
                    response = await conn.request("POST", "/", [], b"over tls")
                    assert response.body == b"over tls"
                    assert response.header("x-secure") == "True"
                stream = await open_stream("127.0.0.1", port, ssl_context=client_context)
                ws = await connect_websocket(stream, "127.0.0.1", "/")
                assert await ws.receive() == "secure hello"
                await ws.aclose()
                # Verified by default: the self-signed certificate is refused.
                with pytest.raises(trio.BrokenResourceError):
                    await open_stream("127.0.0.1", port, tls=True)
                # A plain-text client on the TLS port does not disturb the server.
                plain = await trio.open_tcp_stream("127.0.0.1", port)
                await plain.send_all(b"GET / HTTP/1.1\r\n\r\n")
                await plain.aclose()
                nursery.cancel_scope.cancel()

    run(main, mock=False)
