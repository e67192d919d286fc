"""CORS, the cookie option, permessage-deflate and HTTP compression against a live server."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Awaitable, Callable

import pytest
import trio

from tests.server.live_util import HOST, live_server
from transports import HTTPClientError, connect_websocket, open_stream

HANDSHAKE = "/engine.io/?EIO=4&transport=polling"
WS_HANDSHAKE = "/engine.io/?EIO=4&transport=websocket"


def run(fn: Callable[[], Awaitable[None]]) -> None:
    async def bounded() -> None:
        with trio.fail_after(20):
            await fn()

    trio.run(bounded)


def _headers(origin: str | None, host: str = f"{HOST}:1") -> list[tuple[str, str]]:
    return [("Host", host)] + ([("Origin", origin)] if origin else [])


@pytest.mark.parametrize(("setting", "origin", "allowed", "allow_origin"), [
    (None, None, True, None),
    (None, "http://evil.example", False, None),
    ("*", "http://anywhere.example", True, "*"),
    ("*", None, True, "*"),  # as Node's cors: the header even without an Origin
    (["http://a.example", "http://b.example"], "http://b.example", True, "http://b.example"),
    (["http://a.example"], "http://c.example", False, None),
    ("http://a.example", "http://a.example", True, "http://a.example"),
    ("http://a.example", None, True, "http://a.example"),  # Node's fixed origin
    (["http://a.example"], None, True, None),
    (lambda origin: origin.endswith(".trusted"), "http://x.trusted", True, "http://x.trusted"),
    (lambda origin: origin.endswith(".trusted"), "http://x.untrusted", False, None),
], ids=["default no origin", "default foreign", "star", "star no origin", "list hit",
        "list miss", "string", "string no origin", "list no origin", "callable hit",
        "callable miss"])
def test_cors_allowed_origins(setting: object, origin: str | None, allowed: bool,
                              allow_origin: str | None) -> None:
    async def main() -> None:
        async with live_server(cors_allowed_origins=setting) as live:
            response = await live.request("GET", HANDSHAKE, headers=_headers(origin))
            assert (response.status == 200) is allowed
            assert response.header("access-control-allow-origin") == allow_origin
            if allowed and allow_origin not in (None, "*"):
                assert response.header("access-control-allow-credentials") == "true"
            assert len(live.server.sessions) == (1 if allowed else 0)

    run(main)


def test_same_origin_is_allowed_by_default() -> None:
    async def main() -> None:
        async with live_server() as live:
            host = f"{HOST}:{live.port}"
            response = await live.request(
                "GET", HANDSHAKE, headers=_headers(f"http://{host}", host=host))
            assert response.status == 200

    run(main)


def test_cors_credentials_off_and_preflight() -> None:
    async def main() -> None:
        async with live_server(cors_allowed_origins=["http://a.example"],
                               cors_credentials=False) as live:
            response = await live.request("GET", HANDSHAKE, headers=_headers("http://a.example"))
            assert response.header("access-control-allow-origin") == "http://a.example"
            assert response.header("access-control-allow-credentials") is None
            preflight = await live.request(
                "OPTIONS", HANDSHAKE,
                headers=[*_headers("http://a.example"),
                         ("Access-Control-Request-Method", "POST"),
                         ("Access-Control-Request-Headers", "content-type")])
            assert preflight.status == 204
            assert preflight.header("access-control-allow-origin") == "http://a.example"
            assert "POST" in (preflight.header("access-control-allow-methods") or "")
            assert preflight.header("access-control-allow-headers") == "content-type"
            assert len(live.server.sessions) == 1  # the GET's: a preflight opens nothing

    run(main)


def test_foreign_origin_on_the_websocket_handshake_is_refused_unless_allowed() -> None:
    async def main() -> None:
        async with live_server() as live:
            stream = await open_stream(HOST, live.port)
            with pytest.raises(HTTPClientError) as info:
                await connect_websocket(stream, HOST, WS_HANDSHAKE,
                                        [("Origin", "http://evil.example")])
            assert info.value.status == 400
            assert live.server.sessions == {}
        async with live_server(cors_allowed_origins=["http://good.example"]) as live:
            ws = await connect_websocket(await open_stream(HOST, live.port), HOST, WS_HANDSHAKE,
                                         [("Origin", "http://good.example")])
            assert (await ws.receive()).startswith("0{")
            await ws.aclose()

    run(main)


def test_cookie_option() -> None:
    async def main() -> None:
        async with live_server(cookie={"name": "sticky", "max_age": 60, "secure": True}) as live:
            response = await live.request("GET", HANDSHAKE)
            sid = json.loads(response.body[1:])["sid"]
            cookie = response.header("set-cookie") or ""
            assert cookie.startswith(f"sticky={sid}; ")
            assert {"Max-Age=60", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} <= set(
                cookie.split("; "))
        async with live_server() as live:  # off by default, as in Node
            assert (await live.request("GET", HANDSHAKE)).header("set-cookie") is None
        async with live_server(cookie=True) as live:
            response = await live.request("GET", HANDSHAKE)
            assert (response.header("set-cookie") or "").startswith("io=")

    run(main)


@pytest.mark.parametrize("enabled", [True, False])
def test_per_message_deflate_is_negotiated_only_when_enabled(enabled: bool) -> None:
    async def main() -> None:
        async with live_server(per_message_deflate=enabled) as live:
            ws = await connect_websocket(await open_stream(HOST, live.port), HOST, WS_HANDSHAKE,
                                         per_message_deflate=True)
            accepted = " ".join(str(extension) for extension in ws.extensions)
            assert ("permessage-deflate" in accepted) is enabled
            await ws.receive()
            big = "4" + "abc" * 10_000
            await ws.send(big)
            assert await ws.receive() == big
            await ws.aclose()

    run(main)


@pytest.mark.parametrize(("enabled", "accept", "expected"), [
    (True, "gzip, deflate", "gzip"),
    (True, "deflate", "deflate"),
    (True, None, None),
    (False, "gzip", None),
])
def test_http_compression_of_polling_responses(enabled: bool, accept: str | None,
                                               expected: str | None) -> None:
    async def main() -> None:
        async with live_server(http_compression=enabled) as live:
            sid = await live.handshake()
            target = f"{HANDSHAKE}&sid={sid}"
            message = "4" + "x" * 5000
            assert (await live.request("POST", target, message.encode())).status == 200
            headers = [("Accept-Encoding", accept)] if accept else []
            response = await live.request("GET", target, headers=headers)
            assert response.header("content-encoding") == expected
            body = response.body
            if expected == "gzip":
                body = gzip.decompress(body)
            elif expected == "deflate":
                body = zlib.decompress(body)
            assert body == message.encode()  # the echo

    run(main)
