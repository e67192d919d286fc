"""Hostile bytes on raw sockets against a live Engine.IO server: each gets a clean HTTP error or a
close, nothing is logged as a server failure, and no session or task is left behind."""

from __future__ import annotations

import logging

import pytest
import trio

from tests.server.live_util import HOST, live_server, settle, task_count
from transports import open_stream

EIO = "/engine.io/"
UPGRADE = ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
CLOSE = "Connection: close\r\n\r\n"

# (what is sent, the status of the answer)
CASES: list[tuple[bytes, int]] = [
    (b"\x00\xff\x16\x03\x01garbage\r\n\r\n", 400),
    (b"GET\r\n\r\n", 400),
    (f"GET / HTTP/9.9\r\nHost: x\r\n{CLOSE}".encode(), 404),  # read as 1.1; not our path
    (b"GET " + b"/a" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 431),
    (b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 2000 + b"\r\n", 400),  # h11: head too big
    (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400),
    (f"POST {EIO}?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\n"
     "Transfer-Encoding: chunked\r\n\r\nzz\r\n".encode(), 400),
    (f"POST {EIO}?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n"
     "Content-Length: -5\r\n\r\n".encode(), 400),
    (f"POST {EIO}?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
     "Content-Length: 2\r\n\r\nab".encode(), 400),
    (f"GET {EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
     "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".encode(),
     400),  # no key
    (f"GET {EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n{UPGRADE}"
     .replace("Version: 13", "Version: 7").encode() + b"\r\n", 400),
    (f"GET {EIO}?EIO=%ff%fe&transport=polling HTTP/1.1\r\nHost: x\r\n{CLOSE}".encode(),
     400),
    (f"GET {EIO}?EIO=4&transport=polling&sid=%00 HTTP/1.1\r\nHost: x\r\n{CLOSE}".encode(),
     400),
    (f"GET {EIO}?EIO=4&transport=polling HTTP/1.0\r\n\r\n".encode(), 200),
    # A WebSocket whose first frame announces 2^63 bytes and sends none: nothing is
    # allocated for it; the session ends by its heartbeat.
    (f"GET {EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n{UPGRADE}\r\n".encode()
     + b"\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00", 101),
    # Two handshakes pipelined in one write.
    (f"GET {EIO}?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n"
     f"GET {EIO}?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n{CLOSE}"
     .encode(), 200),
    (b"\r\n" * 10_000, 400),
]


async def _exchange(port: int, data: bytes) -> bytes:
    stream = await open_stream(HOST, port)
    reply = b""
    try:
        await stream.send_all(data)
        with trio.move_on_after(5):
            while chunk := await stream.receive_some(65536):
                reply += chunk
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass
    finally:
        await stream.aclose()
    return reply


def test_hostile_bytes_get_clean_answers_and_leave_nothing(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    async def main() -> None:
        async with live_server(ping_interval=0.5, ping_timeout=0.5) as live:
            live.server.shutdown_timeout = 0.2
            baseline = task_count()
            for data, status in CASES:
                reply = await _exchange(live.port, data)
                assert reply.startswith(b"HTTP/1.1 %d " % status), (data[:80], reply[:200])
                if data.startswith(b"GET") and data.count(b"HTTP/1.1") == 2:
                    assert reply.count(b"HTTP/1.1 200 ") == 2
            # Handshakes that opened sessions end by the heartbeat: nobody answers the pings.
            await settle(lambda: live.server.sessions == {} and task_count() <= baseline,
                         timeout=30)

    async def bounded() -> None:
        with trio.fail_after(120):
            await main()

    trio.run(bounded)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == []
