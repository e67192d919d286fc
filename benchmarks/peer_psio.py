"""The benchmark contract on python-socketio 5.x, an ASGI app under uvicorn (uvloop, httptools).

Runs only in the benchmark's own environment (``benchmarks/.venv``, made by ``setup.sh``):
``benchmarks/.venv/bin/python benchmarks/peer_psio.py --port PORT``.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio  # type: ignore[import-not-found]
import uvicorn  # type: ignore[import-not-found]


class _Server(socketio.AsyncServer):  # type: ignore[misc]
    """python-socketio does not tell a handler whether an ack was asked; the contract's ``echo``
    needs to know, so the one event is answered here."""

    async def _handle_event_internal(
        self, server: Any, sid: str, eio_sid: str, data: list[Any], namespace: str, id: Any
    ) -> None:
        if data and data[0] == "echo" and id is None:
            await self.emit("echo", tuple(data[1:]), to=sid, namespace=namespace)
            return
        await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)


def make_app() -> Any:
    sio = _Server(async_mode="asgi")

    @sio.on("echo")
    async def echo(sid: str, *args: Any) -> Any:
        return args

    @sio.on("join")
    async def join(sid: str, room: str) -> bool:
        await sio.enter_room(sid, room)
        return True

    @sio.on("broadcast")
    async def broadcast(sid: str, room: str, payload: Any) -> bool:
        await sio.emit("bcast", payload, room=room)
        return True

    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    uvicorn.run(make_app(), host="127.0.0.1", port=parser.parse_args().port, loop="uvloop",
                http="httptools", ws="auto", log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
