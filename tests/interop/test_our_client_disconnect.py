"""Our client's deliberate disconnect, as the official Node server sees it: over long-polling
the DISCONNECT goes in its own POST and the Engine.IO close only after that POST completed (as
engine.io-client does), so the server reports ``client namespace disconnect`` (not ``transport
close``) on every transport."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from socketio_core import connect

TRANSPORTS = {"polling": ("polling",), "websocket": ("websocket",),
              "upgrade": ("polling", "websocket")}


def reason_seen(url: str, transports: tuple[str, ...], *, busy: bool) -> Any:
    async def main() -> Any:
        with trio.fail_after(20):
            async with connect(url, transports=transports, reconnection=False) as client:
                assert await client.emit_with_ack("watch-my-disconnect", timeout=5) is True
                if busy:  # messages still queued behind the DISCONNECT's POST
                    for n in range(20):
                        await client.emit("echo", n)
                await client.disconnect()
            async with connect(url, reconnection=False) as other:
                return await other.emit_with_ack("last-disconnect-reason", timeout=5)

    return trio.run(main)


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_the_node_server_sees_a_client_namespace_disconnect(
    reference_server: str, transport: str, busy: bool
) -> None:
    assert reason_seen(reference_server, TRANSPORTS[transport], busy=busy) \
        == "client namespace disconnect"


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_our_server_sees_a_client_namespace_disconnect(our_server: str, transport: str) -> None:
    assert reason_seen(our_server, TRANSPORTS[transport], busy=False) \
        == "client namespace disconnect"
