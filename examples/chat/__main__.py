"""Run the chat: ``python3 -m examples.chat [--host H] [--port P]``.

Prints ``listening PORT`` once ready (port 0 picks a free one), then serves until Ctrl-C or
SIGTERM, which close the server cleanly: every client is told, and the others see who left.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from functools import partial

import trio

from socketio_core import Server
from socketio_core.cli import Monitor
from socketio_core.static import ClientBundleNotFound

from .server import build, static_files


async def main(server: Server, host: str, port: int) -> None:
    """Serve the chat on ``host:port`` until a signal; print ``listening PORT`` once ready."""
    monitor = Monitor(server)  # logs connections, rooms and event rates at info level
    monitor.attach()
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(server.serve, host, port, other=static_files))
        bound = listeners[0].socket.getsockname()[1]
        print(f"listening {bound}", flush=True)
        logging.getLogger("examples.chat").info("chat on http://%s:%d", host, bound)
        await monitor.run(10.0)  # returns once the server is closed


def parser() -> argparse.ArgumentParser:
    """The command line: ``--host``, ``--port``, ``--log-level``."""
    parser = argparse.ArgumentParser(prog="python3 -m examples.chat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    return parser


def run() -> None:
    """Serve the chat until Ctrl-C (exit status 130, as Python's) or SIGTERM (0)."""
    args = parser().parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s %(message)s")
    try:
        server = build()
    except ClientBundleNotFound as error:  # the page needs the official browser client
        sys.exit(f"python3 -m examples.chat: {error}")
    try:
        trio.run(main, server, args.host, args.port)
    except* OSError as group:  # such as the port in use; trio's nursery hands it on in a group
        reason = group.exceptions[0]
        sys.exit(f"python3 -m examples.chat: cannot listen on {args.host}:{args.port}: "
                 f"{getattr(reason, 'strerror', None) or reason}")
    if server.shutdown_signal == signal.SIGINT:
        sys.exit(128 + signal.SIGINT)


if __name__ == "__main__":
    run()
