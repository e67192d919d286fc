"""``engine.on("initial_headers")`` / ``("headers")``, as Node's engine events: the first adds
headers to a session's handshake answer (polling or WebSocket), the second to every answer
that carries a session (the handshake, each poll and POST, each WebSocket's 101). Seen from
a raw HTTP client, header by header."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio

import engineio_core
from tests.server.live_util import HOST, live_server
from transports import HTTPConnection, HTTPResponse, Request, open_stream

EIO = "/engine.io/?EIO=4&transport="


async def _ask(port: int, method: str, target: str, body: bytes = b"") -> HTTPResponse:
    connection = HTTPConnection(await open_stream(HOST, port), HOST)
    try:
        return await connection.request(method, target, [("X-Who", "tester")], body)
    finally:
        await connection.aclose()


async def _websocket_head(port: int, target: str) -> list[tuple[str, str]]:
    """The headers of the 101 answering a WebSocket handshake to ``target``."""
    stream = await open_stream(HOST, port)
    await stream.send_all(
        f"GET {target} HTTP/1.1\r\nHost: {HOST}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\nX-Who: tester\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += await stream.receive_some(4096)
    await stream.aclose()
    status, *lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert status.startswith("HTTP/1.1 101 ")
    return [(name.lower(), value) for name, _, value in
            (line.partition(": ") for line in lines)]


def _ours(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(name, value) for name, value in headers
            if name in ("set-cookie", "x-initial", "x-every", "x-seen")]


def _hooked(server: engineio_core.Server) -> None:
    @server.on("initial_headers")
    def initial(headers: dict[str, Any], request: Request) -> None:
        cookies = headers.setdefault("Set-Cookie", [])
        if isinstance(cookies, str):  # the cookie option's, already there
            cookies = headers["Set-Cookie"] = [cookies]
        cookies += ["1=1; Max-Age=86400", "2=2; Path=/; HttpOnly"]
        headers["X-Initial"] = "yes"

    def every(headers: dict[str, Any], request: Request) -> None:
        headers["X-Every"] = 1  # not a string: sent as its str(), as Node does
        headers["X-Seen"] = request.header("x-who")

    server.on("headers", every)


def test_polling_answers_carry_the_hooks_headers() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with live_server(cookie="io") as live:
                _hooked(live.server)
                handshake = await _ask(live.port, "GET", EIO + "polling")
                sid = json.loads(handshake.body[1:])["sid"]
                assert _ours(handshake.headers) == [
                    ("set-cookie", f"io={sid}; Path=/; HttpOnly; SameSite=Lax"),
                    ("set-cookie", "1=1; Max-Age=86400"),
                    ("set-cookie", "2=2; Path=/; HttpOnly"),
                    ("x-initial", "yes"), ("x-every", "1"), ("x-seen", "tester")]
                posted = await _ask(live.port, "POST", f"{EIO}polling&sid={sid}", b"4hello")
                assert posted.body == b"ok"
                assert _ours(posted.headers) == [("x-every", "1"), ("x-seen", "tester")]
                polled = await _ask(live.port, "GET", f"{EIO}polling&sid={sid}")
                assert polled.body == b"4hello"
                assert _ours(polled.headers) == [("x-every", "1"), ("x-seen", "tester")]
                upgrade = await _websocket_head(live.port, f"{EIO}websocket&sid={sid}")
                assert _ours(upgrade) == [("x-every", "1"), ("x-seen", "tester")]

    trio.run(main)


def test_a_websocket_handshake_carries_them_too() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with live_server() as live:
                _hooked(live.server)
                head = await _websocket_head(live.port, EIO + "websocket")
                assert _ours(head) == [
                    ("set-cookie", "1=1; Max-Age=86400"), ("set-cookie", "2=2; Path=/; HttpOnly"),
                    ("x-initial", "yes"), ("x-every", "1"), ("x-seen", "tester")]

    trio.run(main)


def test_without_hooks_only_the_cookie_option_adds_a_header() -> None:
    async def main() -> None:
        with trio.fail_after(10):
            async with live_server(cookie="io") as live:
                handshake = await _ask(live.port, "GET", EIO + "polling")
                sid = json.loads(handshake.body[1:])["sid"]
                assert _ours(handshake.headers) == [
                    ("set-cookie", f"io={sid}; Path=/; HttpOnly; SameSite=Lax")]
                posted = await _ask(live.port, "POST", f"{EIO}polling&sid={sid}", b"4x")
                assert _ours(posted.headers) == []

    trio.run(main)


def test_a_hook_that_raises_is_logged_and_the_answer_still_goes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(headers: dict[str, Any], request: Request) -> None:
        headers["X-Every"] = "partial"
        raise RuntimeError("boom")

    async def main() -> HTTPResponse:
        with trio.fail_after(10):
            async with live_server() as live:
                live.server.on("headers", broken)
                return await _ask(live.port, "GET", EIO + "polling")

    with caplog.at_level(logging.ERROR, logger="engineio_core"):
        answer = trio.run(main)
    assert answer.status == 200 and answer.body.startswith(b"0{")
    assert _ours(answer.headers) == [("x-every", "partial")]
    [record] = caplog.records
    assert "a headers hook failed" in record.getMessage() and record.exc_info is not None


def test_an_unknown_event_is_refused() -> None:
    server = engineio_core.Server(lambda socket: trio.sleep(0))
    with pytest.raises(ValueError, match="unknown engine event 'header'"):
        server.on("header", lambda headers, request: None)
