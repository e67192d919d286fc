"""Run the chat: ``python3 -m examples.chat [--host H] [--port P]``.

Prints ``listening PORT`` once ready (port 0 picks a free one), then serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
from functools import partial

import trio

from socketio_core.cli import Monitor

from .server import build, static_files


async def main(host: str, port: int) -> None:
    """Serve the chat on ``host:port``; print ``listening PORT`` once ready."""
    server = build()
    monitor = Monitor(server)  # logs connections, rooms and event rates at info level
    monitor.attach()
    async with server, trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(server.serve, host, port, other=static_files))
        bound = listeners[0].socket.getsockname()[1]
        print(f"listening {bound}", flush=True)
        logging.getLogger("examples.chat").info("chat on http://%s:%d", host, bound)
        nursery.start_soon(monitor.run, 10.0)


def parser() -> argparse.ArgumentParser:
    """The command line: ``--host``, ``--port``, ``--log-level``."""
    parser = argparse.ArgumentParser(prog="python3 -m examples.chat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    return parser


def run() -> None:
    """Serve the chat until Ctrl-C."""
    args = parser().parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    try:
        trio.run(main, args.host, args.port)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    run()
