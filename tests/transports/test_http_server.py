"""The h11 server: keep-alive, limits, timeouts, errors; over memory streams and loopback."""

from __future__ import annotations

import socket
import struct
from collections.abc import Awaitable, Callable
from functools import partial
from http import HTTPStatus
from urllib.parse import parse_qs

import h11
import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from transports import (
    BodyTooLarge,
    HeaderList,
    HTTPConfig,
    HTTPConnection,
    Request,
    WebSocketClosed,
    _watch,
    handle_stream,
    http_request,
    serve_http,
)
from transports._http_connection import Connection
from transports._http_request import _parse_query

Handler = Callable[[Request], Awaitable[None]]
UPGRADE = (b"GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def run(fn: Callable[[], Awaitable[None]], *, mock: bool = True) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0) if mock else None
    trio.run(fn, clock=clock)


async def echo(request: Request) -> None:
    body = await request.read_body(1000)
    await request.respond(200, [("Content-Type", "text/plain"), ("X-Path", request.path)],
                          request.method.encode() + b" " + body)


async def read_all(stream: trio.abc.Stream) -> bytes:
    data = b""
    while chunk := await stream.receive_some(65536):
        data += chunk
    return data


async def raw_exchange(handler: Handler, payload: bytes, config: HTTPConfig | None = None,
                       *, eof: bool = False) -> bytes:
    """Send ``payload`` to a server on a memory stream; return all it wrote until it closed."""
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handle_stream, server, handler, config)
            await client.send_all(payload)
            if eof:
                await client.send_eof()
            data = await read_all(client)
    return data


def test_keep_alive_reuses_one_connection() -> None:
    seen: list[tuple[str, str]] = []

    async def handler(request: Request) -> None:
        seen.append((request.method, request.target))
        await echo(request)

    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, handler, HTTPConfig())
                conn = HTTPConnection(client, "example.test")
                first = await http_request(conn, "GET", "/a?x=1")
                assert first.status == 200 and first.body == b"GET "
                assert first.header("x-path") == "/a"
                second = await conn.request("POST", "/b", [("Content-Type", "text/plain")],
                                            b"hello")
                assert second.body == b"POST hello"
                head = await conn.request("HEAD", "/c")
                assert head.body == b"" and head.header("content-length") == "5"
                assert conn.reusable
                await conn.aclose()
        assert seen == [("GET", "/a?x=1"), ("POST", "/b"), ("HEAD", "/c")]

    run(main)


def test_pipelined_requests_and_request_fields() -> None:
    requests: list[Request] = []

    async def handler(request: Request) -> None:
        requests.append(request)
        await request.respond(204, [(b"X-N", str(len(requests)).encode())])

    async def main() -> None:
        data = await raw_exchange(
            handler,
            b"GET /p%20q?a=1&a=2&b=&c=3 HTTP/1.1\r\nHost: h\r\nX-Dup: 1\r\nX-Dup: 2\r\n"
            b"Origin: http://o\r\n\r\n"
            b"GET /2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert data.count(b"HTTP/1.1 204 No Content") == 2
        assert b"x-n: 2" in data.lower()

    run(main)
    first = requests[0]
    assert first.path == "/p q" and first.raw_query == "a=1&a=2&b=&c=3"
    assert first.query == {"a": "1", "b": "", "c": "3"}
    assert first.query_lists["a"] == ["1", "2"]
    assert first.header("X-DUP") == "1, 2" and first.header("missing") is None
    assert first.origin == "http://o"
    assert first.client == ("", 0) and first.client_host == "" and not first.secure
    assert first.scheme == "http" and first.http_version == "1.1"
    assert not first.is_websocket


def test_413_before_the_body_is_read() -> None:
    async def handler(request: Request) -> None:
        with pytest.raises(BodyTooLarge) as info:
            await request.read_body(100)
        assert info.value.declared == 1_000_000
        await request.respond(413, [], b"too big")

    async def main() -> None:
        # The body is never sent: the answer comes from the Content-Length alone.
        data = await raw_exchange(
            handler, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 413 ")
        assert b"connection: close" in data.lower() and data.endswith(b"too big")

    run(main)


def test_unhandled_body_too_large_is_answered_413() -> None:
    async def handler(request: Request) -> None:
        await request.read_body(10)

    async def main() -> None:
        data = await raw_exchange(
            handler, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 413 ")

    run(main)


def test_chunked_body_cap() -> None:
    caught: list[BodyTooLarge] = []

    async def handler(request: Request) -> None:
        try:
            await request.read_body(10)
        except BodyTooLarge as exc:
            caught.append(exc)
            await request.respond(413)

    async def main() -> None:
        data = await raw_exchange(
            handler,
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"6\r\nabcdef\r\n6\r\nghijkl\r\n")
        assert data.startswith(b"HTTP/1.1 413 ")
        assert caught and caught[0].declared is None

    run(main)


def test_chunked_body_within_cap_and_expect_continue() -> None:
    async def main() -> None:
        data = await raw_exchange(
            echo,
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 100 ")
        assert b"POST abcde" in data and data.endswith(b"GET ")

    run(main)


def test_small_unread_body_is_drained_and_the_connection_reused() -> None:
    async def handler(request: Request) -> None:
        await request.respond(200, [], b"ignored your body")

    async def main() -> None:
        data = await raw_exchange(
            handler,
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert data.count(b"HTTP/1.1 200 OK") == 2

    run(main)


def test_large_unread_body_closes_the_connection() -> None:
    async def handler(request: Request) -> None:
        await request.respond(200, [], b"ok")

    async def main() -> None:
        data = await raw_exchange(
            handler, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\nabc")
        assert data.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in data.lower()

    run(main)


@pytest.mark.parametrize("head", [
    b"GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(20)) + b"\r\n",
], ids=["bytes", "count"])
def test_oversized_headers_get_431(head: bytes) -> None:
    async def main() -> None:
        data = await raw_exchange(echo, head, HTTPConfig(max_header_bytes=4096, max_headers=10))
        assert data.startswith(b"HTTP/1.1 431 ")

    run(main)


@pytest.mark.parametrize("payload", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: nope\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",
], ids=["garbage", "length", "no-host"])
def test_malformed_request_gets_400_and_close(payload: bytes) -> None:
    async def main() -> None:
        data = await raw_exchange(echo, payload)
        assert data.startswith(b"HTTP/1.1 400 ")
        assert b"connection: close" in data.lower()

    run(main)


def test_truncated_body_is_a_bad_request() -> None:
    async def main() -> None:
        data = await raw_exchange(
            echo, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc", eof=True)
        assert data.startswith(b"HTTP/1.1 400 ")

    run(main)


def test_stalled_head_is_timed_out() -> None:
    async def main() -> None:
        config = HTTPConfig(header_timeout=5)
        start = trio.current_time()
        data = await raw_exchange(echo, b"GET / HTTP/1.1\r\nHost: h\r\n", config)
        assert data.startswith(b"HTTP/1.1 408 ")
        assert 5 <= trio.current_time() - start < 10

    run(main)


def test_silent_connection_and_idle_keep_alive_are_dropped() -> None:
    async def main() -> None:
        config = HTTPConfig(header_timeout=3, keep_alive_timeout=7, linger_timeout=1)
        start = trio.current_time()
        assert await raw_exchange(echo, b"", config) == b""
        assert 3 <= trio.current_time() - start < 5
        start = trio.current_time()
        data = await raw_exchange(echo, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n", config)
        assert data.startswith(b"HTTP/1.1 200 ")
        assert 7 <= trio.current_time() - start < 9

    run(main)


def test_stalled_body_gets_408() -> None:
    async def main() -> None:
        start = trio.current_time()
        data = await raw_exchange(
            echo, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
            HTTPConfig(body_timeout=4))
        assert data.startswith(b"HTTP/1.1 408 ")
        assert 4 <= trio.current_time() - start < 6

    run(main)


def test_a_client_that_stops_reading_is_cut_off_after_send_timeout() -> None:
    """A response the client never reads would hold the handler and the socket for ever."""
    outcome: list[BaseException] = []

    async def big(request: Request) -> None:
        try:
            await request.respond(200, [], b"x" * 1_000_000)
        except trio.BrokenResourceError as exc:
            outcome.append(exc)
            raise

    async def main() -> None:
        # lockstep: a write waits until the other side reads, as a full socket buffer does.
        client, server = trio.testing.lockstep_stream_pair()
        start = trio.current_time()
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, big, HTTPConfig(send_timeout=7))
                await client.send_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
                # ...and never read: handle_stream ends on its own.
        assert len(outcome) == 1
        assert 7 <= trio.current_time() - start < 8
        with pytest.raises(trio.BrokenResourceError):
            await client.send_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")

    run(main)


def test_handler_failures_get_500_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(request: Request) -> None:
        if request.path == "/boom":
            raise ValueError("boom")
        if request.path == "/silent":
            return
        if request.path == "/twice":
            await request.respond(200)
            await request.respond(200)
        await echo(request)

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(serve_http, handler, "127.0.0.1", 0))
                port = listeners[0].socket.getsockname()[1]
                for path, status in [("/boom", 500), ("/silent", 500), ("/twice", 200),
                                     ("/ok", 200)]:
                    stream = await trio.open_tcp_stream("127.0.0.1", port)
                    async with HTTPConnection(stream, "127.0.0.1") as conn:
                        response = await conn.request("GET", path)
                        assert response.status == status, path
                nursery.cancel_scope.cancel()

    run(main, mock=False)
    assert "boom" in caplog.text and "without answering" in caplog.text


def test_real_socket_fields_and_client_reset() -> None:
    seen: list[Request] = []

    async def handler(request: Request) -> None:
        seen.append(request)
        if request.is_websocket:
            ws = await request.accept_websocket()
            with pytest.raises(WebSocketClosed):
                await ws.receive()
            return
        await echo(request)

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(
                    serve_http, handler, "127.0.0.1", 0, config=HTTPConfig(linger_timeout=0.1)))
                port = listeners[0].socket.getsockname()[1]
                for payload in (b"GET / HTTP/1.1\r\nHost: h\r\n",
                                b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                                b"Connection: Upgrade\r\n\r\n", UPGRADE, UPGRADE, b""):
                    sock = trio.socket.socket()
                    await sock.connect(("127.0.0.1", port))
                    await sock.send(payload or b"GET")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                    struct.pack("ii", 1, 0))
                    sock.close()
                await trio.sleep(0.05)
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                async with HTTPConnection(stream, "127.0.0.1") as conn:
                    assert (await conn.request("GET", "/after")).status == 200
                nursery.cancel_scope.cancel()

    run(main, mock=False)
    request = seen[-1]
    assert request.path == "/after" and request.client_host == "127.0.0.1"
    assert request.client[1] > 0


def test_config_is_validated() -> None:
    with pytest.raises(ValueError):
        HTTPConfig(max_headers=0)
    with pytest.raises(ValueError):
        HTTPConfig(body_timeout=-1)
    with pytest.raises(ValueError):
        HTTPConfig(send_timeout=-1)
    with pytest.raises(ValueError):
        HTTPConfig(drain_limit=-1)


def test_body_cannot_be_read_twice() -> None:
    async def handler(request: Request) -> None:
        assert await request.read_body(10) == b""
        with pytest.raises(RuntimeError):
            await request.read_body(10)
        await request.respond(200, [("Content-Length", "99")], b"x")

    async def main() -> None:
        data = await raw_exchange(
            handler, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert b"content-length: 1\r\n" in data.lower()

    run(main)


def test_incomplete_oversized_head_gets_431() -> None:
    async def main() -> None:
        data = await raw_exchange(
            echo, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 5000, HTTPConfig(max_header_bytes=1024))
        assert data.startswith(b"HTTP/1.1 431 ")

    run(main)


def test_parked_request_notices_the_client_leaving() -> None:
    gone: list[bool] = []

    async def handler(request: Request) -> None:
        if request.path == "/park":
            await request.wait_disconnected()
            gone.append(True)
            with pytest.raises(trio.BrokenResourceError):
                await request.respond(200)
            return
        async with trio.open_nursery() as nursery:
            nursery.start_soon(request.wait_disconnected)
            await trio.sleep(1)
            nursery.cancel_scope.cancel()
        await request.respond(200, [], b"parked")

    async def main() -> None:
        data = await raw_exchange(
            handler,
            b"GET /wait HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n"
            b"Connection: close\r\n\r\n")
        assert data.count(b"parked") == 2
        client, server = trio.testing.memory_stream_pair()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, handler, None)
                await client.send_all(b"GET /park HTTP/1.1\r\nHost: h\r\n\r\n")
                await trio.sleep(1)
                await client.aclose()
        assert gone == [True]

    run(main)


@pytest.mark.parametrize("over", ["tcp", "memory"])
def test_parked_request_woken_or_left(over: str) -> None:
    # Over TCP the wait is the epoll watch (no cancel); over memory streams a cancel scope.
    results: list[bool] = []
    wakes: list[Callable[[], None]] = []

    async def handler(request: Request) -> None:
        if request.path == "/park":
            results.append(await request.wait_disconnected(wakes.append))
            await request.respond(200, [], b"woken" if not results[-1] else b"")
            return
        await echo(request)

    async def exchange(stream: trio.abc.Stream) -> None:
        # Woken: the request after it, pipelined while it was parked, is kept and served.
        await stream.send_all(b"GET /park HTTP/1.1\r\nHost: h\r\n\r\n")
        await trio.sleep(0.2)
        await stream.send_all(b"GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        await trio.sleep(0.2)
        assert results == [] and len(wakes) == 1
        wakes.pop()()
        answers = await read_all(stream)
        assert results == [False]
        assert answers.count(b"200 OK") == 2
        assert b"woken" in answers and answers.endswith(b"GET ")

    async def leave(stream: trio.abc.Stream) -> None:
        await stream.send_all(b"GET /park HTTP/1.1\r\nHost: h\r\n\r\n")
        await trio.sleep(0.2)
        await stream.aclose()
        while len(results) < 2:  # bounded by main's fail_after
            await trio.sleep(0.01)
        assert results == [False, True]

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                if over == "tcp":
                    listeners = await nursery.start(partial(serve_http, handler, "127.0.0.1", 0))
                    port = listeners[0].socket.getsockname()[1]
                    await exchange(await trio.open_tcp_stream("127.0.0.1", port))
                    await leave(await trio.open_tcp_stream("127.0.0.1", port))
                else:
                    for step in (exchange, leave):
                        client, server = trio.testing.memory_stream_pair()
                        nursery.start_soon(handle_stream, server, handler, None)
                        await step(client)
                nursery.cancel_scope.cancel()

    run(main, mock=False)


def _response_at(data: bytes, start: int) -> tuple[bytes, int]:
    """The body of the response at ``data[start:]`` (Content-Length framed), and where it ends."""
    end = data.index(b"\r\n\r\n", start) + 4
    length = int(data[start:end].lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return data[end:end + length], end + length


@pytest.mark.parametrize("size", [5, 4 << 20], ids=["taken", "partly-taken"])
def test_a_parked_request_answered_at_once_from_another_task(size: int) -> None:
    # respond_nowait: written by the caller, without yielding; what the socket does not take is
    # written by the parked task, woken for it. Taken whole, the parked task is not woken: it
    # goes on waiting on the connection, and returns once the next request begins.
    body = bytes(range(256)) * (size // 256) if size > 256 else b"hello"
    parked: list[Request] = []
    returned: list[tuple[bool, float]] = []
    wakes: list[Callable[[], None]] = []
    made: list[bool] = []

    async def handler(request: Request) -> None:
        if request.path == "/park":
            parked.append(request)
            result = await request.wait_disconnected(wakes.append)
            returned.append((result, trio.current_time()))
            assert request.responded
            return
        await echo(request)

    def make() -> tuple[HeaderList, bytes]:
        made.append(True)
        return [("X-Now", "1")], body

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(serve_http, handler, "127.0.0.1", 0))
                port = listeners[0].socket.getsockname()[1]
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(b"GET /park HTTP/1.1\r\nHost: h\r\n\r\n")
                while not parked:
                    await trio.sleep(0.01)
                await trio.testing.wait_all_tasks_blocked()
                assert len(wakes) == 1
                request = parked[0]
                answered_at = trio.current_time()
                assert request.respond_nowait(200, make)
                assert made == [True]
                assert not request.respond_nowait(200, make)  # answered: make not called again
                assert made == [True]
                data = b""
                while len(data) < size or b"\r\n\r\n" not in data:
                    data += await stream.receive_some(1 << 16)
                while len(_response_at(data, 0)[0]) < size:
                    data += await stream.receive_some(1 << 16)
                answer, end = _response_at(data, 0)
                assert answer == body and end == len(data)
                assert data.startswith(b"HTTP/1.1 200 OK\r\nX-Now: 1\r\n")
                await trio.testing.wait_all_tasks_blocked()
                if size > 256:
                    assert [result for result, _ in returned] == [False]  # woken to write
                else:
                    assert returned == []  # still waiting on the connection
                await stream.send_all(
                    b"POST /next HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi")
                data = b""
                while b"POST hi" not in data:
                    data += await stream.receive_some(1 << 16)
                assert returned[0][0] is False and returned[0][1] >= answered_at
                await stream.aclose()
                nursery.cancel_scope.cancel()

    run(main, mock=False)


def test_requests_parked_one_after_another_on_a_connection() -> None:
    # Each answered at once, 20 times on one connection: the watch keeps one timer for them
    # all (not one a request, for keep_alive_timeout); and the wake-up an earlier request
    # registered does not end a later one's wait.
    parked: list[Request] = []
    wakes: list[Callable[[], None]] = []
    returned: list[bool] = []

    async def handler(request: Request) -> None:
        parked.append(request)
        returned.append(await request.wait_disconnected(wakes.append))

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(serve_http, handler, "127.0.0.1", 0))
                port = listeners[0].socket.getsockname()[1]
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                timers = _watch._watcher()._timers
                before = len(timers)
                for i in range(20):
                    await stream.send_all(b"GET /park HTTP/1.1\r\nHost: h\r\n\r\n")
                    while len(parked) <= i:
                        await trio.sleep(0.01)
                    await trio.testing.wait_all_tasks_blocked()
                    if i:
                        wakes[i - 1]()  # the earlier request's: nothing
                        await trio.testing.wait_all_tasks_blocked()
                        assert len(returned) == i
                    assert parked[i].respond_nowait(200, lambda i=i: ([], b"%d" % i))
                    data = b""
                    while not data.endswith(b"\r\n\r\n%d" % i):
                        data += await stream.receive_some(1 << 16)
                assert len(timers) <= before + 1
                await stream.aclose()
                nursery.cancel_scope.cancel()

    run(main, mock=False)


def test_a_parked_request_h11_parsed_is_left_to_its_task() -> None:
    parked: list[Request] = []
    wakes: list[Callable[[], None]] = []
    made: list[bool] = []

    def make() -> tuple[HeaderList, bytes]:
        made.append(True)
        return [], b""

    async def handler(request: Request) -> None:
        parked.append(request)
        assert not await request.wait_disconnected(wakes.append)
        await request.respond(200, [], b"by its task")

    async def main() -> None:
        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(serve_http, handler, "127.0.0.1", 0))
                port = listeners[0].socket.getsockname()[1]
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(b"GET /park HTTP/1.0\r\nHost: h\r\n\r\n")  # not lean
                while not parked:
                    await trio.sleep(0.01)
                await trio.testing.wait_all_tasks_blocked()
                assert not parked[0].respond_nowait(200, make) and made == []
                wakes[0]()
                assert (await read_all(stream)).endswith(b"by its task")
                nursery.cancel_scope.cancel()

    run(main, mock=False)


def test_respond_nowait_needs_a_request_parked_on_the_watch() -> None:
    made: list[bool] = []

    def make() -> tuple[HeaderList, bytes]:
        made.append(True)
        return [], b""

    async def handler(request: Request) -> None:
        assert not request.respond_nowait(200, make)  # its own task, not parked
        await request.respond(200, [], b"plain")

    async def main() -> None:
        data = await raw_exchange(
            handler, b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert data.endswith(b"plain") and made == []

    run(main)


def test_a_connection_answered_at_once_then_idle_is_closed_after_keep_alive_timeout() -> None:
    parked: list[Request] = []
    ended: list[float] = []

    async def handler(request: Request) -> None:
        parked.append(request)
        await request.wait_disconnected(lambda wake: None)

    async def main() -> None:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                config = HTTPConfig(keep_alive_timeout=5.0)
                listeners = await nursery.start(
                    partial(serve_http, handler, "127.0.0.1", 0, config=config))
                port = listeners[0].socket.getsockname()[1]
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                await stream.send_all(b"GET /park HTTP/1.1\r\nHost: h\r\n\r\n")
                while not parked:
                    await trio.sleep(0.01)
                await trio.testing.wait_all_tasks_blocked()
                answered_at = trio.current_time()
                assert parked[0].respond_nowait(200, lambda: ([], b"x"))
                data = b""
                while True:  # the answer, then the end, once it idled for 5 s
                    chunk = await stream.receive_some(1 << 16)
                    if not chunk:
                        break
                    data += chunk
                ended.append(trio.current_time())
                assert data.endswith(b"\r\n\r\nx")
                assert ended[0] - answered_at >= 5.0
                nursery.cancel_scope.cancel()

    run(main)


def test_wait_disconnected_needs_the_body_read() -> None:
    async def handler(request: Request) -> None:
        if request.method == "POST":
            with pytest.raises(RuntimeError):
                await request.wait_disconnected()
        await request.respond(200)

    async def main() -> None:
        data = await raw_exchange(
            handler, b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert data.count(b"200 OK") == 2

    run(main)


def test_upgrade_request_answered_normally_keeps_the_connection() -> None:
    async def handler(request: Request) -> None:
        await request.respond(404, [], b"nope " + request.path.encode())

    async def main() -> None:
        data = await raw_exchange(
            handler,
            UPGRADE + b"GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert data.count(b"HTTP/1.1 404 ") == 2 and data.endswith(b"nope /next")

    run(main)


@pytest.mark.parametrize("status, headers, body", [
    (200, [("Content-Type", "text/plain; charset=UTF-8"), ("Cache-Control", "no-store")], b"4hi"),
    (200, [(b"X-Bytes", b"v"), ("Vary", "Origin"), ("Content-Length", "99")], b""),
    (404, [("Content-Type", "text/plain")], b"Not Found"),
    (400, [("X-Empty", ""), ("Transfer-Encoding", "chunked")], b"{}"),
    (201, [("Set-Cookie", "io=abc; Path=/; HttpOnly; SameSite=Lax")], b"x" * 30),
    (204, [("Access-Control-Allow-Origin", "*")], b""),
    (200, [("Connection", "keep-alive")], b"ok"),
    (200, [("Host", "elsewhere"), ("A", "b")], b"ok"),
])
@pytest.mark.parametrize("request_head", [
    b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab",
    b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"GET /x HTTP/1.0\r\nHost: h\r\n\r\n",
    b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n",
])
def test_responses_are_the_bytes_h11_writes(
    status: int, headers: list[tuple[str | bytes, str | bytes]], body: bytes, request_head: bytes
) -> None:
    """Common responses skip h11's event objects; what they write must not change by a byte."""
    async def handler(request: Request) -> None:
        if request.method == "POST":
            await request.read_body(100)
        await request.respond(status, headers, body)

    h11_conn = h11.Connection(h11.SERVER)
    h11_conn.receive_data(request_head)
    event = h11_conn.next_event()
    assert isinstance(event, h11.Request)
    while not isinstance(h11_conn.next_event(), h11.EndOfMessage):
        pass
    out = [(k if isinstance(k, bytes) else k.encode(), v if isinstance(v, bytes) else v.encode())
           for k, v in headers if str(k if isinstance(k, str) else k.decode()).lower()
           not in ("content-length", "transfer-encoding")]
    out.append((b"content-length", str(len(body)).encode()))
    expected = h11_conn.send(h11.Response(status_code=status, headers=out,
                                          reason=HTTPStatus(status).phrase.encode()))
    if body and event.method != b"HEAD":
        expected += h11_conn.send(h11.Data(data=body))
    expected += h11_conn.send(h11.EndOfMessage())

    async def main() -> None:
        # Twice on one connection: the second exchange runs on the state the first left.
        data = await raw_exchange(handler, request_head * 2)
        if h11_conn.our_state is h11.DONE:
            assert data == expected * 2
        else:
            assert data == expected

    run(main)


@given(st.text(alphabet="ab=&;+%2x é", max_size=16))
def test_query_parsing_is_parse_qs(raw_query: str) -> None:
    assert _parse_query(raw_query) == parse_qs(raw_query, keep_blank_values=True)


async def _answer_each(request: Request) -> None:
    body = await request.read_body(1000) if request.method in ("POST", "PUT") else b""
    if request.path == "/odd":
        # A head the fast writer leaves to h11: the lean request is handed over to it.
        await request.respond(204, [("X-Odd", "1")], b"")
        return
    await request.respond(200, [("X-Method", request.method)], request.path.encode() + b":" + body)


def _responses(data: bytes) -> list[tuple[int, bytes]]:
    conn = h11.Connection(h11.CLIENT)
    conn.receive_data(data)
    out: list[tuple[int, bytes]] = []
    status, body = 0, b""
    while True:
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "h")]))
        conn.send(h11.EndOfMessage())
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Response):
                status, body = event.status_code, b""
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                out.append((status, body))
                break
            else:
                return out
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return out
        conn.start_next_cycle()


def test_lean_and_h11_requests_interleave_on_one_connection() -> None:
    requests = [
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
        b"PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi",
        b"GET /odd HTTP/1.1\r\nHost: h\r\n\r\n",
        b"POST /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        b"POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz",
        b"GET /f HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ]
    expected = [(200, b"/a:"), (200, b"/b:hello"), (200, b"/c:hi"), (204, b""),
                (200, b"/d:abc"), (200, b"/e:xyz"), (200, b"/f:")]

    async def main() -> None:
        for pieces in (requests, [b"".join(requests)], [bytes([b]) for b in b"".join(requests)]):
            client, server = trio.testing.memory_stream_pair()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, _answer_each)
                for piece in pieces:  # one request per write, all in one, a byte at a time
                    await client.send_all(piece)
                assert _responses(await read_all(client)) == expected

    run(main)


_MIXED = [
    (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n", (200, b"/a:")),
    (b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", (200, b"/b:hello")),
    (b"PUT /c HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", (200, b"/c:hi")),
    (b"GET /odd HTTP/1.1\r\nHost: h\r\n\r\n", (204, b"")),
    (b"POST /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     (200, b"/d:abc")),
    (b"GET /e HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi", (200, b"/e:")),
    (b"POST /odd HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx", (204, b"")),
]


@given(st.lists(st.sampled_from(_MIXED), min_size=1, max_size=6),
       st.lists(st.integers(1, 40), max_size=8))
def test_the_connection_knows_when_h11_holds_nothing(
    sequence: list[tuple[bytes, tuple[int, bytes]]], cuts: list[int]
) -> None:
    # What the lean path asks before each request (h11 IDLE, its buffer empty), kept by the
    # connection instead of asked of h11: checked against h11 before every request, with the
    # lean and h11's requests mixed, pipelined and cut anywhere.
    data = b"".join(request for request, _ in sequence)
    pieces, at = [], 0
    for cut in cuts:
        pieces.append(data[at:at + cut])
        at += cut
    pieces.append(data[at:])
    asked: list[bool] = []
    original = Connection.next_request

    async def checked(conn: Connection) -> object:
        expected = conn.h11.their_state is h11.IDLE and not conn.h11.trailing_data[0]
        assert conn.h11_fresh == expected
        asked.append(expected)
        return await original(conn)

    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, _answer_each)
                for piece in pieces:
                    if piece:
                        await client.send_all(piece)
                await client.send_eof()
                responses = _responses(await read_all(client))
        assert responses == [response for _, response in sequence]

    Connection.next_request = checked  # type: ignore[method-assign]
    try:
        run(main)
    finally:
        Connection.next_request = original  # type: ignore[method-assign]
    assert len(asked) >= len(sequence)


def test_a_head_sent_again_is_the_same_request_each_time() -> None:
    # A connection keeps the last plain head it parsed (a polling client repeats its heads):
    # each request still gets its own headers, whatever the handler does with them.
    seen: list[list[tuple[bytes, bytes]]] = []

    async def handler(request: Request) -> None:
        seen.append(list(request.headers))
        request.headers.append((b"x-added", b"1"))
        body = await request.read_body(100)
        await request.respond(200, [], request.method.encode() + body)

    post = b"POST /p?sid=a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n"
    get = b"GET /p?sid=a HTTP/1.1\r\nHost: h\r\n\r\n"

    async def main() -> None:
        data = await raw_exchange(handler, post + b"ab" + post + b"cd" + post + b"ef" + get * 3
                                  + b"GET /p HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        assert [body for _, body in _responses(data)] == [
            b"POSTab", b"POSTcd", b"POSTef", b"GET", b"GET", b"GET", b"GET"]

    run(main)
    host, length = (b"host", b"h"), (b"content-length", b"2")
    assert seen == [[host, length]] * 3 + [[host]] * 3 + [[host, (b"connection", b"close")]]


def test_a_lean_post_body_in_pieces_and_a_stalled_one() -> None:
    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handle_stream, server, _answer_each)
            await client.send_all(b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nab")
            await trio.sleep(1)
            await client.send_all(b"cd")
            await trio.sleep(1)
            await client.send_all(b"ef")
            await client.send_all(b"POST /q HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\n\r\nab")
            data = await read_all(client)  # the second body never comes: 408, closed
        assert _responses(data) == [(200, b"/p:abcdef"), (408, b"408 Request Timeout\n")]

    run(main)


def _transport_globals() -> dict[str, str]:
    import importlib
    import pkgutil
    import types

    import transports

    state = {}
    for info in pkgutil.walk_packages(transports.__path__, "transports."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if isinstance(value, dict | list | set | bytearray):
                state[f"{info.name}.{name}"] = repr(value)
            elif not isinstance(value, types.ModuleType | types.FunctionType | type):
                state[f"{info.name}.{name}"] = type(value).__name__
    return state


def test_transports_keep_no_module_level_state() -> None:
    # No process-wide cache: what a connection makes (its response header lines) is its own.
    before = _transport_globals()
    requests = (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
                b"GET /c HTTP/1.1\r\nHost: h\r\nX-Odd: 1\r\nConnection: close\r\n\r\n")

    async def main() -> None:
        data = await raw_exchange(_answer_each, requests)
        assert [s for s, _ in _responses(data)] == [200, 200, 200]
        async with trio.open_nursery() as nursery:
            client, server = trio.testing.memory_stream_pair()
            nursery.start_soon(handle_stream, server, _answer_each)
            await client.send_all(UPGRADE)
            await client.aclose()

    run(main)
    assert _transport_globals() == before
