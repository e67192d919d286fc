"""``Server(forwarded_allow_ips=...)``: the handshake's address and scheme behind a proxy, and
the same-origin check with the scheme the browser used."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
import trio

from socketio_core import Server, Socket, connect
from transports import HTTPConnection, open_stream

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def handshake_seen(allow: Any) -> tuple[str, bool]:
    server = Server(forwarded_allow_ips=allow)
    seen: list[tuple[str, bool]] = []

    @server.on("connection")
    def on_connection(socket: Socket) -> None:
        seen.append((socket.handshake.address, socket.handshake.secure))

    async def main() -> None:
        with trio.fail_after(15):
            async with server, trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve)
                url = f"http://127.0.0.1:{listeners[0].socket.getsockname()[1]}"
                async with connect(url, headers=FORWARDED, reconnection=False):
                    pass
                nursery.cancel_scope.cancel()

    trio.run(main)
    return seen[0]


@pytest.mark.parametrize(("allow", "expected"), [
    (None, ("127.0.0.1", False)),
    ("127.0.0.1", ("203.0.113.7", True)),
    (["10.0.0.0/8"], ("127.0.0.1", False)),  # the peer is not that proxy
])
def test_the_handshake_believes_only_trusted_proxies(allow: Any, expected: Any) -> None:
    assert handshake_seen(allow) == expected


def test_same_origin_uses_the_scheme_the_browser_used_at_the_proxy() -> None:
    async def status(server: Server, headers: list[tuple[str, str]]) -> int:
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(server.serve, handle_signals=False))
            port = listeners[0].socket.getsockname()[1]
            async with HTTPConnection(await open_stream("127.0.0.1", port), "chat.test") as conn:
                response = await conn.request(
                    "GET", "/socket.io/?EIO=4&transport=polling",
                    [("Host", "chat.test"), ("Origin", "https://chat.test"), *headers])
            nursery.cancel_scope.cancel()
            return response.status

    async def main() -> list[int]:
        with trio.fail_after(15):
            proto = [("X-Forwarded-Proto", "https")]
            return [await status(Server(), proto),
                    await status(Server(forwarded_allow_ips="127.0.0.1"), proto),
                    await status(Server(forwarded_allow_ips="127.0.0.1"), [])]

    # The page is https://chat.test, the proxy speaks plain HTTP to the server.
    assert trio.run(main) == [400, 200, 400]
