"""Bad input against a live Engine.IO server on loopback: the HTTP status and Engine.IO error,
the WebSocket close code, the session's close reason, and nothing left behind."""

from __future__ import annotations

import gc
import json
import socket as stdlib_socket
from collections.abc import Awaitable, Callable

import pytest
import trio

import engineio_core
from tests.server.live_util import HOST, Live, echo, live_server, settle, task_count
from transports import (
    HTTPRequest,
    HTTPResponse,
    StreamWebSocket,
    WebSocketClosed,
    connect_websocket,
    open_stream,
)

EIO = "/engine.io/"


def run(fn: Callable[[], Awaitable[None]], timeout: float = 30.0) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


@pytest.mark.parametrize(("method", "query", "code"), [
    ("GET", "EIO=4&transport=carrier-pigeon", 0),
    ("GET", "EIO=4", 0),
    ("GET", "EIO=4&transport=polling&sid=nope", 1),
    ("POST", "EIO=4&transport=polling&sid=nope", 1),
    ("PUT", "EIO=4&transport=polling", 2),
    ("POST", "EIO=4&transport=polling", 2),
    ("GET", "EIO=4&transport=websocket", 3),  # a plain GET asking for WebSocket
    ("GET", "EIO=3&transport=polling", 5),
    ("GET", "transport=polling", 5),
    ("GET", "EIO=5&transport=polling", 5),
], ids=["unknown transport", "no transport", "unknown sid GET", "unknown sid POST",
        "PUT handshake", "POST handshake", "websocket without upgrade", "EIO=3", "no EIO",
        "EIO=5"])
def test_bad_requests_get_400_with_the_engineio_error(method: str, query: str,
                                                      code: int) -> None:
    async def main() -> None:
        async with live_server() as live:
            response = await live.request(method, f"{EIO}?{query}")
            assert response.status == 400
            assert response.header("content-type") == "application/json"
            body = json.loads(response.body)
            assert body == {"code": code,
                            "message": engineio_core.protocol.ERROR_MESSAGES[code]}
            assert live.server.sessions == {}

    run(main)


def test_bad_method_on_a_live_session_and_the_session_survives() -> None:
    async def main() -> None:
        async with live_server() as live:
            sid = await live.handshake()
            response = await live.request("PUT", f"{EIO}?EIO=4&transport=polling&sid={sid}")
            assert (response.status, json.loads(response.body)["code"]) == (400, 3)
            ok = await live.request("POST", f"{EIO}?EIO=4&transport=polling&sid={sid}", b"4hi")
            assert (ok.status, ok.body) == (200, b"ok")

    run(main)


def test_allow_request_refusal_is_403_code_4() -> None:
    seen: list[str | None] = []

    def allow(handshake: engineio_core.Handshake) -> bool:
        seen.append(handshake.query.get("token"))
        return handshake.query.get("token") == "good"

    async def main() -> None:
        async with live_server(allow_request=allow) as live:
            refused = await live.request("GET", f"{EIO}?EIO=4&transport=polling&token=bad")
            assert refused.status == 403
            assert json.loads(refused.body) == {"code": 4, "message": "Forbidden"}
            ok = await live.request("GET", f"{EIO}?EIO=4&transport=polling&token=good")
            assert ok.status == 200
            assert len(live.server.sessions) == 1

    run(main)
    assert seen == ["bad", "good"]


def test_body_over_max_http_buffer_size_is_413_before_it_is_read() -> None:
    async def main() -> None:
        async with live_server(max_http_buffer_size=1000) as live:
            sid = await live.handshake()
            stream = await open_stream(HOST, live.port)
            # Announce a huge body and send none of it: the answer must not wait for it.
            await stream.send_all(
                f"POST {EIO}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                f"Host: x\r\nContent-Length: 100000000\r\n\r\n".encode())
            reply = await _read_until_closed(stream)
            assert reply.startswith(b"HTTP/1.1 413 ")
            await settle(lambda sid=sid: sid not in live.server.sessions)

    run(main)


def test_chunked_body_is_capped_while_reading() -> None:
    async def main() -> None:
        async with live_server(max_http_buffer_size=1000) as live:
            sid = await live.handshake()
            stream = await open_stream(HOST, live.port)
            await stream.send_all(
                f"POST {EIO}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                f"Host: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
            sent = 0
            with trio.move_on_after(5):  # the server may cut us off mid-stream
                while sent < 100_000:
                    chunk = b"4" + b"a" * 499
                    try:
                        await stream.send_all(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    except trio.BrokenResourceError:
                        break
                    sent += len(chunk)
            reply = await _read_until_closed(stream)
            assert reply.startswith(b"HTTP/1.1 413 ")

    run(main)


def test_websocket_message_over_the_limit_closes_1009_and_the_session() -> None:
    async def main() -> None:
        reasons: list[str | None] = []

        async def handler(socket: engineio_core.Socket) -> None:
            await echo(socket)
            await socket.wait_closed()
            reasons.append(socket.close_reason)

        async with live_server(handler, max_http_buffer_size=1000) as live:
            ws = await connect_websocket(await open_stream(HOST, live.port), HOST,
                                         f"{EIO}?EIO=4&transport=websocket",
                                         max_message_size=10_000_000)
            assert (await ws.receive()).startswith("0{")
            await ws.send("4" + "a" * 999)
            assert await ws.receive() == "4" + "a" * 999
            await ws.send("4" + "a" * 5000)
            with pytest.raises(WebSocketClosed) as info:
                while True:
                    await ws.receive()
            assert (info.value.code, info.value.reason) == (1009, "")  # as Node's ws
            await settle(lambda: live.server.sessions == {})
            await settle(lambda: len(reasons) == 1)
        assert reasons == ["transport error"]

    run(main)


@pytest.mark.parametrize("frame", ["", "9", "x"], ids=["empty", "unknown type", "not a digit"])
def test_malformed_websocket_packet_closes_the_session_with_parse_error(frame: str) -> None:
    async def main() -> None:
        reasons: list[str | None] = []

        async def handler(socket: engineio_core.Socket) -> None:
            await echo(socket)
            reasons.append(socket.close_reason)

        async with live_server(handler) as live:
            ws = await connect_websocket(await open_stream(HOST, live.port), HOST,
                                         f"{EIO}?EIO=4&transport=websocket")
            await ws.receive()
            await ws.send(frame)
            with pytest.raises(WebSocketClosed):
                while True:
                    await ws.receive()
            await settle(lambda: live.server.sessions == {} and len(reasons) == 1)
        assert reasons == ["parse error"]

    run(main)


async def _post_with_a_parked_poll(live: Live, sid: str, body: bytes,
                                   headers: list[tuple[str, str]] | None = None,
                                   ) -> tuple[HTTPResponse, list[bytes]]:
    """POST ``body`` while a GET of the same session is parked; the POST's answer and what the
    parked GET got."""
    target = f"{EIO}?EIO=4&transport=polling&sid={sid}"
    parked: list[bytes] = []

    async def poll() -> None:
        parked.append((await live.request("GET", target)).body)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(poll)
        await settle(lambda: live.server.sessions[sid]._session.core.poll_parked)
        response: HTTPResponse = await live.request("POST", target, body, headers=headers or [])
    return response, parked


def test_malformed_polling_body_is_ok_and_closes_the_session_with_parse_error() -> None:
    # As Node (polling.ts onData, socket.ts onPacket): the POST is answered "ok", the message
    # before the bad packet is delivered, a parked GET gets the close packet, the sid is gone.
    async def main() -> None:
        reasons: list[str | None] = []
        received: list[str | bytes] = []

        async def handler(socket: engineio_core.Socket) -> None:
            async for message in socket:
                received.append(message)
            reasons.append(socket.close_reason)

        async with live_server(handler) as live:
            sid = await live.handshake()
            target = f"{EIO}?EIO=4&transport=polling&sid={sid}"
            response, parked = await _post_with_a_parked_poll(live, sid, b"4a\x1exyz\x1e4b")
            assert (response.status, response.body) == (200, b"ok")
            assert parked == [b"1"]
            await settle(lambda: live.server.sessions == {} and len(reasons) == 1)
            again = await live.request("GET", target)
            assert (again.status, json.loads(again.body)["code"]) == (400, 1)
        assert received == ["a"]
        assert reasons == ["parse error"]

    run(main)


@pytest.mark.parametrize(("content_type", "refused"), [
    ("application/octet-stream", True),
    ("application/octet-stream; charset=utf-8", False),  # Node compares the whole value
    ("text/plain;charset=UTF-8", False),
])
def test_an_octet_stream_post_is_an_empty_400_and_a_transport_error(content_type: str,
                                                                    refused: bool) -> None:
    async def main() -> None:
        reasons: list[str | None] = []
        async with live_server(_recording_handler(reasons)) as live:
            sid = await live.handshake()
            response, parked = await _post_with_a_parked_poll(
                live, sid, b"4hi", headers=[("Content-Type", content_type)])
            if not refused:  # taken as text and echoed
                assert (response.status, response.body, parked) == (200, b"ok", [b"4hi"])
                return
            assert (response.status, response.body) == (400, b"")
            assert response.header("content-type") is None
            assert parked == [b"1"]
            await settle(lambda: live.server.sessions == {} and reasons != [])
        assert reasons == ["transport error"]

    run(main)


def _recording_handler(reasons: list[str | None]) -> Callable[[engineio_core.Socket],
                                                                 Awaitable[None]]:
    async def handler(socket: engineio_core.Socket) -> None:
        await echo(socket)
        await socket.wait_closed()
        reasons.append(socket.close_reason)

    return handler


def test_a_second_parked_get_is_400_and_closes_the_session_as_transport_error() -> None:
    async def main() -> None:
        reasons: list[str | None] = []
        async with live_server(_recording_handler(reasons), ping_interval=60,
                               ping_timeout=60) as live:
            sid = await live.handshake()
            target = f"{EIO}?EIO=4&transport=polling&sid={sid}"
            first: list[bytes] = []

            async def park() -> None:
                response = await live.request("GET", target)
                first.append(b"%d %s" % (response.status, response.body))

            async with trio.open_nursery() as nursery:
                nursery.start_soon(park)
                await settle(lambda: live.server.sessions[sid]._session.core.poll_ready()
                             is False and live.server.sessions[sid]._session.core.poll_parked)
                second = await live.request("GET", target)
            # As Node: the overlapping GET gets 400, the parked one the close packet.
            assert second.status == 400
            assert json.loads(second.body) == {"code": 3, "message": "Bad request"}
            assert first == [b"200 1"]
            await settle(lambda: live.server.sessions == {} and reasons != [])
        assert reasons == ["transport error"]

    run(main)


@pytest.mark.parametrize("cut", ["parked GET", "POST mid-body"])
def test_a_request_dropped_by_the_client_closes_the_session_as_transport_error(cut: str) -> None:
    async def main() -> None:
        reasons: list[str | None] = []
        # Heartbeats far away: only noticing the dropped GET can close the session in time.
        async with live_server(_recording_handler(reasons), ping_interval=60,
                               ping_timeout=60) as live:
            baseline = task_count()
            sid = await live.handshake()
            stream = await open_stream(HOST, live.port)
            if cut == "parked GET":
                await stream.send_all(f"GET {EIO}?EIO=4&transport=polling&sid={sid} HTTP/1.1"
                                      f"\r\nHost: x\r\n\r\n".encode())
                await settle(lambda: live.server.sessions[sid]._session.core.poll_parked)
            else:
                await stream.send_all(f"POST {EIO}?EIO=4&transport=polling&sid={sid} HTTP/1.1"
                                      f"\r\nHost: x\r\nContent-Length: 100\r\n\r\n4ab".encode())
                await trio.sleep(0.05)  # let the server start reading the body
            await stream.aclose()
            await settle(lambda: live.server.sessions == {} and reasons != [])
            await settle(lambda: task_count() <= baseline)
        assert reasons == ["transport error"]

    run(main)


def test_invalid_websocket_frame_closes_1002_and_leaves_no_task() -> None:
    async def main() -> None:
        async with live_server() as live:
            baseline = task_count()
            stream = await open_stream(HOST, live.port)
            key = "dGhlIHNhbXBsZSBub25jZQ=="
            await stream.send_all(
                f"GET {EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
            # An unmasked client frame with a reserved opcode: a protocol error.
            await stream.send_all(b"\x83\x00")
            reply = await _read_until_closed(stream)
            assert b" 101 " in reply.split(b"\r\n", 1)[0]
            close = reply[reply.index(b"\r\n\r\n") + 4:]
            assert b"\x88" in close  # a Close frame...
            code_at = close.index(b"\x88") + 2
            assert int.from_bytes(close[code_at:code_at + 2], "big") == 1002
            await settle(lambda: live.server.sessions == {} and task_count() <= baseline)

    run(main)


async def _read_until_closed(stream: trio.abc.Stream) -> bytes:
    data = b""
    with trio.move_on_after(5):
        while True:
            try:
                chunk = await stream.receive_some(65536)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                break
            if not chunk:
                break
            data += chunk
    await stream.aclose()
    return data


def _cycles_leave_nothing(live: Live, baseline_tasks: int) -> Callable[[], bool]:
    return lambda: live.server.sessions == {} and task_count() <= baseline_tasks


def _no_more_than(now: dict[str, int], before: dict[str, int]) -> bool:
    return all(now[kind] <= before[kind] for kind in before)


def _live_objects() -> dict[str, int]:
    """How many session, socket, WebSocket and request objects are still reachable."""
    gc.collect()
    kinds = (engineio_core._session.Session, engineio_core.Socket, StreamWebSocket, HTTPRequest)
    counts = dict.fromkeys((kind.__name__ for kind in kinds), 0)
    for obj in gc.get_objects():
        for kind in kinds:
            if isinstance(obj, kind):
                counts[kind.__name__] += 1
    return counts


def test_thousands_of_connect_disconnect_cycles_leave_no_session_or_task() -> None:
    async def main() -> None:
        async with live_server() as live:
            baseline = task_count()
            objects = _live_objects()  # earlier tests in this process may hold some
            http = await live.http()
            for _ in range(1000):  # polling: handshake, then the client's close packet
                sid = await live.handshake(http)
                target = f"{EIO}?EIO=4&transport=polling&sid={sid}"
                assert (await http.request("POST", target, body=b"1")).status == 200
            await http.aclose()
            for _ in range(1000):  # WebSocket: open, close
                ws = await connect_websocket(await open_stream(HOST, live.port), HOST,
                                             f"{EIO}?EIO=4&transport=websocket")
                await ws.receive()
                await ws.aclose()
            del ws  # ours, the client's: only the server's may be left to count
            await settle(_cycles_leave_nothing(live, baseline), timeout=30)
            assert _no_more_than(_live_objects(), objects)

    run(main, timeout=120)


def test_abrupt_resets_leave_no_session_or_task() -> None:
    async def main() -> None:
        async with live_server(ping_interval=60, ping_timeout=60) as live:
            baseline = task_count()
            objects = _live_objects()

            async def reset(data: bytes) -> None:
                sock = stdlib_socket.create_connection((HOST, live.port))
                sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER,
                                b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
                if data:
                    sock.sendall(data)
                await trio.sleep(0.01)
                sock.close()

            for _ in range(50):
                await reset(b"")  # before any byte
                await reset(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHo")
                # mid-body: that ends the session (as Node, a transport error)
                sid = await live.handshake()
                await reset(f"POST {EIO}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                            f"Host: x\r\nContent-Length: 100\r\n\r\n4ab".encode())
                await settle(lambda sid=sid: sid not in live.server.sessions)
                sid = await live.handshake()
                # during the upgrade, after the probe: the session stays on polling
                await reset(f"GET {EIO}?EIO=4&transport=websocket&sid={sid} HTTP/1.1\r\n"
                            f"Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
                            + _masked_text("2probe"))
                await settle(lambda sid=sid: not live.server.sessions[sid]._session.core.upgrading)
                assert live.server.sessions[sid].transport == "polling"
                # with a parked GET: that ends the session (as Node, a transport error)
                await reset(f"GET {EIO}?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\n"
                            f"Host: x\r\n\r\n".encode())
                await settle(lambda sid=sid: sid not in live.server.sessions)
            await settle(_cycles_leave_nothing(live, baseline), timeout=30)
            assert _no_more_than(_live_objects(), objects)

    run(main, timeout=120)


def _masked_text(text: str) -> bytes:
    payload = text.encode()
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked
