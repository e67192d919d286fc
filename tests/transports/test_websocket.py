"""WebSocket: server accept + client connect, fragments, limits, protocol errors, compression."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial

import pytest
import trio
import trio.testing
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.events import Request as WSRequest

from transports import (
    HTTPClientError,
    HTTPConfig,
    Request,
    WebSocket,
    WebSocketClosed,
    connect_websocket,
    frame_message,
    handle_stream,
    serve_http,
)

Handler = Callable[[Request], Awaitable[None]]


def run(fn: Callable[[], Awaitable[None]], *, mock: bool = True) -> None:
    clock = trio.testing.MockClock(autojump_threshold=0) if mock else None
    trio.run(fn, clock=clock)


async def echo_ws(request: Request, closes: list[WebSocketClosed] | None = None) -> None:
    ws = await request.accept_websocket(extra_headers=[("X-Extra", "1")])
    try:
        while True:
            await ws.send(await ws.receive())
    except WebSocketClosed as exc:
        if closes is not None:
            closes.append(exc)


@asynccontextmanager
async def ws_pair(
    handler: Handler, config: HTTPConfig | None = None, **connect: object
) -> AsyncIterator[WebSocket]:
    """A client WebSocket connected to ``handler`` through ``handle_stream`` on memory streams.

    Exits only once the server's connection task has finished (no task left behind)."""
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handle_stream, server, handler, config)
            ws = await connect_websocket(client, "example.test", "/ws?x=1", **connect)  # type: ignore[arg-type]
            yield ws
            await ws.aclose()


def test_echo_text_bytes_and_batches() -> None:
    closes: list[WebSocketClosed] = []

    async def main() -> None:
        async with ws_pair(partial(echo_ws, closes=closes)) as ws:
            assert ws.is_open and ws.subprotocol is None and ws.extensions == ()
            await ws.send("héllo")
            assert await ws.receive() == "héllo"
            await ws.send(b"\x00\x01")
            assert await ws.receive() == b"\x00\x01"
            await ws.send_many(["a", b"b", "c"])
            assert [await ws.receive() for _ in range(3)] == ["a", b"b", "c"]
            await ws.send_many([])
            await ws.ping(b"p")
        assert closes and closes[0].code == 1000
        with pytest.raises(WebSocketClosed):
            await ws.send("late")

    run(main)


def test_echo_over_loopback_with_the_server() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(partial(serve_http, echo_ws, "127.0.0.1", 0))
                port = listeners[0].socket.getsockname()[1]
                stream = await trio.open_tcp_stream("127.0.0.1", port)
                ws = await connect_websocket(stream, f"127.0.0.1:{port}", "/", [("Origin", "x")])
                for i in range(5):
                    await ws.send(f"m{i}")
                    assert await ws.receive() == f"m{i}"
                await ws.aclose(1000, "bye")
                assert ws.closed is not None and ws.closed.code == 1000
                nursery.cancel_scope.cancel()

    run(main, mock=False)


def test_close_code_and_reason_reach_the_other_side() -> None:
    seen: list[WebSocketClosed] = []

    async def main() -> None:
        async with ws_pair(partial(echo_ws, closes=seen)) as ws:
            await ws.aclose(4000, "bye")
            await ws.aclose()
        assert seen[0].code == 4000 and seen[0].reason == "bye"

    run(main)


def test_server_close_is_seen_by_the_client() -> None:
    async def handler(request: Request) -> None:
        ws = await request.accept_websocket()
        await ws.send("last")
        await ws.aclose(4001, "done")

    async def main() -> None:
        async with ws_pair(handler) as ws:
            assert await ws.receive() == "last"
            with pytest.raises(WebSocketClosed) as info:
                await ws.receive()
            assert (info.value.code, info.value.reason) == (4001, "done")
            with pytest.raises(WebSocketClosed):
                await ws.receive()

    run(main)


def test_request_headers_still_answered_after_the_handover() -> None:
    # accept_websocket drops the request's index of headers by name (a long-lived WebSocket
    # need not keep it); header() makes it again when asked.
    async def handler(request: Request) -> None:
        assert request.header("host") == "example.test"
        ws = await request.accept_websocket()
        assert vars(request).get("_by_name") is None
        assert request.header("HOST") == "example.test"
        assert request.header("sec-websocket-version") == "13"
        await ws.send(request.path + "?" + request.raw_query)
        await echo_loop(ws)

    async def main() -> None:
        async with ws_pair(handler) as ws:
            assert await ws.receive() == "/ws?x=1"

    run(main)


@asynccontextmanager
async def raw_client(
    handler: Handler, config: HTTPConfig | None = None
) -> AsyncIterator[tuple[trio.abc.Stream, WSConnection]]:
    """A wsproto client driven by hand over a memory stream, after a completed handshake."""
    client, server = trio.testing.memory_stream_pair()
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handle_stream, server, handler, config)
            conn = WSConnection(ConnectionType.CLIENT)
            await client.send_all(conn.send(WSRequest(host="h", target="/")))
            while True:
                conn.receive_data(bytes(await client.receive_some()))
                if any(isinstance(e, AcceptConnection) for e in conn.events()):
                    break
            yield client, conn


async def next_events(stream: trio.abc.Stream, conn: WSConnection) -> list[object]:
    data = await stream.receive_some()
    conn.receive_data(bytes(data) or None)
    return list(conn.events())


def test_fragmented_messages_are_reassembled_and_pings_answered() -> None:
    async def main() -> None:
        async with raw_client(echo_ws) as (stream, conn):
            out = conn.send(TextMessage(data="hel", message_finished=False))
            out += conn.send(Ping(payload=b"ping!"))
            out += conn.send(TextMessage(data="lo", message_finished=True))
            out += conn.send(BytesMessage(data=b"ab", message_finished=False))
            out += conn.send(BytesMessage(data=b"cd", message_finished=True))
            # Send in dribbles so the server reassembles across reads.
            for i in range(0, len(out), 3):
                await stream.send_all(out[i:i + 3])
            events: list[object] = []
            while len(events) < 3:
                events += await next_events(stream, conn)
            assert isinstance(events[0], Pong) and events[0].payload == b"ping!"
            assert isinstance(events[1], TextMessage) and events[1].data == "hello"
            assert isinstance(events[2], BytesMessage) and events[2].data == b"abcd"
            await stream.send_all(conn.send(CloseConnection(code=1000)))
            events = await next_events(stream, conn)
            assert isinstance(events[0], CloseConnection) and events[0].code == 1000

    run(main)


def test_oversized_message_closes_1009() -> None:
    seen: list[WebSocketClosed] = []

    async def main() -> None:
        config = HTTPConfig(max_message_size=100)
        async with ws_pair(partial(echo_ws, closes=seen), config) as ws:
            await ws.send("x" * 60)
            assert await ws.receive() == "x" * 60
            await ws.send_many(["é" * 60])
            with pytest.raises(WebSocketClosed) as info:
                await ws.receive()
            # As Node's ws: the code alone on the wire; the reason is for the server's side.
            assert (info.value.code, info.value.reason) == (1009, "")
        assert (seen[0].code, seen[0].reason, seen[0].local) == (1009, "message too big", True)

    run(main)


@pytest.mark.parametrize("frame", [
    b"\x83\x80\x00\x00\x00\x00",  # reserved opcode 3, masked, empty
    b"\x81\x05hello",  # unmasked frame from a client
    b"\xc1\x80\x00\x00\x00\x00",  # RSV1 without a negotiated extension
], ids=["opcode", "unmasked", "rsv1"])
def test_invalid_frames_close_1002_and_leave_no_task(frame: bytes) -> None:
    seen: list[WebSocketClosed] = []

    async def main() -> None:
        async with raw_client(partial(echo_ws, closes=seen)) as (stream, conn):
            await stream.send_all(frame)
            events = await next_events(stream, conn)
            assert isinstance(events[0], CloseConnection) and events[0].code == 1002
            assert await stream.receive_some() == b""
        # The nursery exited: the server's connection task is gone.
        assert seen[0].code == 1002

    run(main)


def test_abrupt_disconnect_is_1006() -> None:
    seen: list[WebSocketClosed] = []

    async def main() -> None:
        async with raw_client(partial(echo_ws, closes=seen)) as (stream, _conn):
            await stream.aclose()
        assert seen[0].code == 1006

    run(main)


def test_permessage_deflate_negotiated_and_working() -> None:
    async def handler(request: Request) -> None:
        ws = await request.accept_websocket()
        assert ws.extensions == ("permessage-deflate",)
        await echo_loop(ws)

    async def main() -> None:
        config = HTTPConfig(per_message_deflate=True)
        async with ws_pair(handler, config, per_message_deflate=True) as ws:
            assert ws.extensions == ("permessage-deflate",)
            big = "compress me " * 1000
            await ws.send_many([big, big.encode()])
            assert await ws.receive() == big
            assert await ws.receive() == big.encode()
        async with ws_pair(partial(echo_ws), HTTPConfig(), per_message_deflate=True) as ws:
            assert ws.extensions == ()
            await ws.send("plain")
            assert await ws.receive() == "plain"

    run(main)


async def echo_loop(ws: WebSocket) -> None:
    try:
        while True:
            await ws.send(await ws.receive())
    except WebSocketClosed:
        pass


def test_concurrent_senders_and_one_reader() -> None:
    async def handler(request: Request) -> None:
        ws = await request.accept_websocket(subprotocol="chat")
        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(ws.send_many, [f"{i}-{j}" for j in range(20)])
        await echo_loop(ws)

    async def main() -> None:
        async with ws_pair(handler, subprotocols=["chat"]) as ws:
            assert ws.subprotocol == "chat"
            got = [await ws.receive() for _ in range(200)]
            assert sorted(got) == sorted(f"{i}-{j}" for i in range(10) for j in range(20))
            for i in range(10):  # each batch arrives contiguous and in order
                batch = [m for m in got if isinstance(m, str) and m.startswith(f"{i}-")]
                assert batch == [f"{i}-{j}" for j in range(20)]

            async def second_reader() -> None:
                with pytest.raises(trio.BusyResourceError):
                    await ws.receive()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(ws.receive)
                await trio.sleep(1)
                await second_reader()
                nursery.cancel_scope.cancel()

    run(main)


def test_aclose_while_a_reader_waits() -> None:
    async def handler(request: Request) -> None:
        ws = await request.accept_websocket()
        await echo_loop(ws)

    async def main() -> None:
        async with ws_pair(handler) as ws:
            results: list[WebSocketClosed] = []

            async def reader() -> None:
                with pytest.raises(WebSocketClosed) as info:
                    await ws.receive()
                results.append(info.value)

            async with trio.open_nursery() as nursery:
                nursery.start_soon(reader)
                await trio.sleep(1)
                await ws.aclose(1000, "client done")
            assert results[0].code == 1000

    run(main)


def test_rejected_and_invalid_handshakes() -> None:
    async def refuse(request: Request) -> None:
        assert request.is_websocket
        await request.reject_websocket(403, [("Content-Type", "text/plain")], b"no")

    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, refuse, None)
                with pytest.raises(HTTPClientError) as info:
                    await connect_websocket(client, "h", "/")
                assert info.value.status == 403
        bad = (b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               b"\r\n")
        data = await raw(echo_ws, bad)
        assert data.startswith(b"HTTP/1.1 400 ")
        data = await raw(echo_ws, b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        assert data.startswith(b"HTTP/1.1 400 ")

    run(main)


async def raw(handler: Handler, payload: bytes) -> bytes:
    client, server = trio.testing.memory_stream_pair()
    data = b""
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(handle_stream, server, handler, None)
            await client.send_all(payload)
            while chunk := await client.receive_some():
                data += chunk
    return data


def test_frames_sent_with_the_handshake_are_not_lost() -> None:
    async def main() -> None:
        client, server = trio.testing.memory_stream_pair()
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(handle_stream, server, echo_ws, None)
                conn = WSConnection(ConnectionType.CLIENT)
                handshake = conn.send(WSRequest(host="h", target="/"))
                # Pretend the handshake succeeded to frame a message right behind it.
                peer = WSConnection(ConnectionType.SERVER)
                peer.receive_data(handshake)
                list(peer.events())
                conn.receive_data(peer.send(AcceptConnection()))
                list(conn.events())
                await client.send_all(handshake + conn.send(TextMessage(data="early")))
                response = b""
                while b"\r\n\r\n" not in response:
                    response += await client.receive_some()
                assert response.startswith(b"HTTP/1.1 101 ")
                _, _, rest = response.partition(b"\r\n\r\n")
                conn.receive_data(rest)
                events: list[object] = list(conn.events())
                while not events:
                    events = await next_events(client, conn)
                assert isinstance(events[0], TextMessage) and events[0].data == "early"
                await client.aclose()

    run(main)


def test_client_handshake_failures() -> None:
    async def main() -> None:
        for reply in (b"", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n"):
            client, server = trio.testing.memory_stream_pair()
            with trio.fail_after(10):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(connect_websocket_expect_error, client)
                    await server.receive_some()
                    if reply:
                        await server.send_all(reply)
                    await server.aclose()

    run(main)


async def connect_websocket_expect_error(stream: trio.abc.Stream) -> None:
    with pytest.raises(HTTPClientError):
        await connect_websocket(stream, "h", "/")


def test_compressed_bomb_is_refused_1009() -> None:
    seen: list[WebSocketClosed] = []

    async def main() -> None:
        config = HTTPConfig(per_message_deflate=True, max_message_size=100_000)
        async with ws_pair(partial(echo_ws, closes=seen), config, per_message_deflate=True) as ws:
            await ws.send(b"\x00" * 50_000)
            assert await ws.receive() == b"\x00" * 50_000
            await ws.send(b"\x00" * 5_000_000)
            with pytest.raises(WebSocketClosed) as info:
                await ws.receive()
            assert (info.value.code, info.value.reason) == (1009, "")
        assert seen[0].code == 1009

    run(main)


def test_server_makes_wsproto_connection_only_when_a_frame_needs_it() -> None:
    # Whole data frames are decoded without wsproto (its connection is 1.7 KiB per socket); the
    # first ping makes it, as the handshake left it, and it answers and closes as before.
    held: list[WebSocket] = []

    async def handler(request: Request) -> None:
        ws = await request.accept_websocket()
        held.append(ws)
        try:
            while True:
                message = await ws.receive()
                await ws.send(f"{message}:{ws._conn is None}")
        except WebSocketClosed:
            pass

    async def main() -> None:
        async with raw_client(handler) as (stream, conn):
            await stream.send_all(conn.send(TextMessage(data="a")))
            events = await next_events(stream, conn)
            assert isinstance(events[0], TextMessage) and events[0].data == "a:True"
            await stream.send_all(conn.send(Ping(payload=b"p")) + conn.send(TextMessage(data="b")))
            events = []
            while len(events) < 2:
                events += await next_events(stream, conn)
            assert isinstance(events[0], Pong) and events[0].payload == b"p"
            assert isinstance(events[1], TextMessage) and events[1].data == "b:False"
            await stream.send_all(conn.send(CloseConnection(code=1000, reason="bye")))
            events = await next_events(stream, conn)
            assert isinstance(events[0], CloseConnection) and events[0].code == 1000
        assert held[0].closed is not None and held[0].closed.code == 1000

    run(main)


def test_frames_shared_by_a_server_without_extensions_are_sent_framed() -> None:
    shared: list[bool] = []

    async def handler(request: Request) -> None:
        ws = await request.accept_websocket()
        shared.append(ws.frames_shared)
        if ws.frames_shared:
            # One message framed once, sent as bytes (as a broadcast is on each connection).
            # A memory stream takes nothing at once: the frames wait for the next write, which
            # sends them first, or for flush().
            assert not ws.send_framed_nowait(frame_message("héllo"))
            assert not ws.send_framed_nowait(frame_message(b"\x00\x01"))
            await ws.send("after")
            assert not ws.send_framed_nowait(frame_message("flushed"))
            await ws.flush()
            await ws.flush()
        else:
            await ws.send_many(["héllo", b"\x00\x01"])
        await echo_loop(ws)

    async def main() -> None:
        async with ws_pair(handler) as ws:
            assert not ws.frames_shared  # a client masks each frame anew
            assert [await ws.receive() for _ in range(4)] == [
                "héllo", b"\x00\x01", "after", "flushed"]
        config = HTTPConfig(per_message_deflate=True)
        async with ws_pair(handler, config, per_message_deflate=True) as ws:
            assert [await ws.receive(), await ws.receive()] == ["héllo", b"\x00\x01"]
        assert shared == [True, False]

    run(main)


def test_frame_message_is_what_wsproto_sends() -> None:
    for message in ("", "héllo", "x" * 200, b"", b"\x00" * 70_000):
        server = WSConnection(ConnectionType.SERVER)
        server.initiate_upgrade_connection(
            [(b"host", b"h"), (b"upgrade", b"websocket"), (b"connection", b"upgrade"),
             (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
             (b"sec-websocket-version", b"13")], "/")
        server.send(AcceptConnection())
        event = (TextMessage(data=message) if isinstance(message, str)
                 else BytesMessage(data=message))
        assert frame_message(message) == server.send(event)


def test_frames_left_to_flush_on_a_closed_websocket_raise_there() -> None:
    async def handler(request: Request) -> None:
        ws = await request.accept_websocket()
        with pytest.raises(WebSocketClosed):
            await ws.receive()
        assert not ws.send_framed_nowait(frame_message("late"))
        with pytest.raises(WebSocketClosed):
            await ws.flush()
        await ws.flush()  # nothing left

    async def main() -> None:
        async with ws_pair(handler) as ws:
            await ws.aclose()

    run(main)
