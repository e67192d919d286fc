"""A WebSocket message over ``max_http_buffer_size`` (Node's ``maxHttpBufferSize``, 1 MB by
default on both servers): the official Node server and ours close with code 1009 and no
reason (Node's ``ws`` sends the code alone)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import trio

from transports import WebSocketClosed, connect_websocket, open_stream


def close_seen(url: str) -> tuple[int, str]:
    async def main() -> tuple[int, str]:
        with trio.fail_after(20):
            parts = urlsplit(url)
            assert parts.hostname is not None and parts.port is not None
            ws = await connect_websocket(
                await open_stream(parts.hostname, parts.port), parts.hostname,
                "/socket.io/?EIO=4&transport=websocket")
            assert str(await ws.receive()).startswith("0{")
            await ws.send("4" + "a" * 1_000_001)
            with pytest.raises(WebSocketClosed) as info:
                while True:
                    await ws.receive()
            return info.value.code, info.value.reason

    return trio.run(main)


def test_the_node_server_closes_1009_with_no_reason(reference_server: str) -> None:
    assert close_seen(reference_server) == (1009, "")


def test_our_server_closes_like_it(our_server: str) -> None:
    assert close_seen(our_server) == (1009, "")
