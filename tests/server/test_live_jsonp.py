"""JSONP polling against a live Engine.IO server on loopback: what tests/server/test_node_parity.py
cannot put side by side with Node (the upgrade to WebSocket, compression, the size limit, a plain
session asked for JSONP later)."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Awaitable, Callable

import trio

import engineio_core
from tests.server.live_util import HOST, Live, live_server, settle
from transports import HTTPResponse, connect_websocket, open_stream

POLLING = "/engine.io/?EIO=4&transport=polling"
JSONP = re.compile(rb"___eio\[([0-9]*)\]\((.*)\);", re.DOTALL)


def run(fn: Callable[[], Awaitable[None]], timeout: float = 20.0) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


def unwrap(response: HTTPResponse, index: str) -> str:
    """The payload inside a JSONP answer with callback ``index``."""
    assert response.status == 200, response
    match = JSONP.fullmatch(response.body)
    assert match is not None and match[1] == index.encode(), response.body
    payload: str = json.loads(match[2])
    return payload


async def jsonp_handshake(live: Live, j: str) -> str:
    opened = await live.request("GET", f"{POLLING}&j={j}")
    payload = unwrap(opened, "".join(c for c in j if c.isascii() and c.isdigit()))
    assert payload.startswith("0{")
    sid: str = json.loads(payload[1:])["sid"]
    return sid


def test_a_jsonp_session_upgrades_to_websocket() -> None:
    async def main() -> None:
        async with live_server() as live:
            sid = await jsonp_handshake(live, "5")
            session = f"{POLLING}&sid={sid}"
            assert (await live.request("POST", session, b"d=4hello")).body == b"ok"
            assert unwrap(await live.request("GET", session), "5") == "4hello"
            ws = await connect_websocket(await open_stream(HOST, live.port), HOST,
                                         f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
            async with trio.open_nursery() as nursery:
                polls: list[HTTPResponse] = []

                async def poll() -> None:
                    polls.append(await live.request("GET", session))

                nursery.start_soon(poll)
                await settle(lambda: live.server.sessions[sid]._session.core.poll_parked)
                await ws.send("2probe")
                assert await ws.receive() == "3probe"
            assert unwrap(polls[0], "5") == "6"  # the parked GET is released, still as JSONP
            await ws.send("5")
            await ws.send("4over websocket")
            assert await ws.receive() == "4over websocket"
            assert live.server.sessions[sid].transport == "websocket"
            await ws.aclose()

    run(main)


def test_a_large_jsonp_answer_is_compressed_whole() -> None:
    async def main() -> None:
        async with live_server() as live:
            sid = await jsonp_handshake(live, "1")
            session = f"{POLLING}&sid={sid}"
            text = "x\u2028" * 600
            assert (await live.request("POST", session, b"d=4" + b"x%E2%80%A8" * 600)).body \
                == b"ok"
            answer = await live.request("GET", session, headers=[("Accept-Encoding", "gzip")])
            assert answer.header("content-encoding") == "gzip"
            assert answer.header("content-type") == "text/plain; charset=UTF-8"
            body = gzip.decompress(answer.body)
            assert body == b'___eio[1]("4' + b"x\\u2028" * 600 + b'");'
            assert json.loads(JSONP.fullmatch(body)[2]) == "4" + text  # type: ignore[index]

    run(main)


def test_an_oversized_jsonp_body_is_413_and_closes_the_session() -> None:
    reasons: list[str | None] = []

    async def handler(socket: engineio_core.Socket) -> None:
        await socket.wait_closed()
        reasons.append(socket.close_reason)

    async def main() -> None:
        async with live_server(handler, max_http_buffer_size=100) as live:
            sid = await jsonp_handshake(live, "2")
            response = await live.request("POST", f"{POLLING}&sid={sid}", b"d=" + b"4" * 99)
            assert response.status == 413
            await settle(lambda: bool(reasons))
            assert reasons == ["transport error"]

    run(main)


def test_j_matters_only_on_the_handshake() -> None:
    async def main() -> None:
        async with live_server() as live:
            opened = await live.request("GET", POLLING)
            assert opened.body.startswith(b"0{")
            sid = json.loads(opened.body[1:])["sid"]
            session = f"{POLLING}&sid={sid}&j=3"
            assert (await live.request("POST", session, b"4plain")).body == b"ok"
            assert (await live.request("GET", session)).body == b"4plain"
            # and a JSONP session stays JSONP, with its own index, without j
            sid = await jsonp_handshake(live, "a9")
            assert (await live.request("POST", f"{POLLING}&sid={sid}", b"d=4x")).body == b"ok"
            assert unwrap(await live.request("GET", f"{POLLING}&sid={sid}&j=8"), "9") == "4x"

    run(main)
