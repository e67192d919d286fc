"""The probe and the upgrade packet sent back to back, then an immediate poll: the order the
official engine.io suite's "ignores HTTP requests with same sid after upgrade" relies on."""

from __future__ import annotations

import json

import trio

import engineio_core
from transports import HTTPConnection, connect_websocket, open_stream


async def _echo(socket: engineio_core.Socket) -> None:
    async for message in socket:
        await socket.send(message)


def test_probe_and_upgrade_in_one_write_then_poll_is_refused_and_3probe_comes_first() -> None:
    trio.run(_probe_then_poll)


async def _probe_then_poll() -> None:
    server = engineio_core.Server(_echo)
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve, "127.0.0.1", 0)
            port = listeners[0].socket.getsockname()[1]
            http = HTTPConnection(await open_stream("127.0.0.1", port), "127.0.0.1")
            opened = await http.request("GET", "/engine.io/?EIO=4&transport=polling")
            sid = json.loads(opened.body[1:])["sid"]
            ws = await connect_websocket(await open_stream("127.0.0.1", port), "127.0.0.1",
                                         f"/engine.io/?EIO=4&transport=websocket&sid={sid}")
            await ws.send_many(["2probe", "5"])  # one TCP write: one read on the server
            poll = await http.request("GET", f"/engine.io/?EIO=4&transport=polling&sid={sid}")
            assert poll.status == 400
            assert await ws.receive() == "3probe"
            await ws.send("4hello")
            assert await ws.receive() == "4hello"
            await ws.aclose()
            await http.aclose()
            await server.aclose()
            nursery.cancel_scope.cancel()
