"""The ``socketio-core`` command: run a server, or poke any Socket.IO server interactively.

``socketio-core serve MODULE:ATTR --host 127.0.0.1 --port 8000 --log-level info`` imports
``ATTR`` from ``MODULE`` (a ``Server``, or with ``--factory`` a function returning one), serves
it and logs at info level: connections, disconnections, and every ``--stats`` seconds the
clients, rooms and event rates. ``socketio-core connect URL`` is an interactive client (see
``socketio_core.cli_connect``).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import trio

from ._gc import gc_threshold, parse_gc_threshold
from .namespace import Namespace
from .server import Server
from .socket import Socket

__all__ = ["Monitor", "load_server", "main"]

log = logging.getLogger("socketio_core.cli")

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class CLIError(Exception):
    """A usage error the command reports in one line (exit code 2)."""


def load_server(target: str, *, factory: bool = False, app_dir: str = ".") -> Server:
    """Import ``MODULE:ATTR`` (``ATTR`` may be dotted) and return the ``Server`` it names.

    Raises:
        CLIError: the target is malformed, cannot be imported, or is not a ``Server``.
    """
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise CLIError(f"expected MODULE:ATTR (e.g. myapp:sio), got {target!r}")
    sys.path.insert(0, os.path.abspath(app_dir))
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise CLIError(f"cannot import {module_name!r}: {error}") from error
    value: Any = module
    for part in attr.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise CLIError(f"{module_name!r} has no attribute {attr!r}") from None
    if factory:
        if not callable(value):
            raise CLIError(f"--factory: {target} is not callable")
        value = value()
    if isinstance(value, Server):
        return value
    kind = type(value).__name__
    hint = (" (an ASGIApp runs under an ASGI server: hypercorn -k trio " + target + ")"
            if kind == "ASGIApp" else "; pass --factory if it is a function that makes one")
    raise CLIError(f"{target} is a {kind}, not a socketio_core.Server{hint}")


@dataclass
class _Counts:
    connections: int = 0
    disconnections: int = 0
    events_in: int = 0
    events_out: int = 0


class Monitor:
    """Logs what a ``Server`` is doing, at info level: each connection and disconnection, and
    a periodic line with the clients, sockets, rooms and event rates since the last line.

    ``events in`` counts events received; ``events out`` counts events sent to sockets, a
    broadcast counting once per recipient (what ``on_any_outgoing`` listeners see).
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        self.counts = _Counts()
        self._watched: set[int] = set()
        self._last = _Counts()

    def attach(self) -> None:
        """Watch every namespace the server has now, and those it makes from now on."""
        for namespace in self.server.namespaces.values():
            self._watch(namespace)
        self.server.on("new_namespace", self._watch)

    def _watch(self, namespace: Namespace) -> None:
        # A namespace made for a dynamic matcher shares its parent's handlers: watch that once.
        owner = namespace.parent or namespace
        if id(owner) in self._watched:
            return
        self._watched.add(id(owner))
        owner.on("connection", self._on_connect)

    def _on_connect(self, socket: Socket) -> None:
        counts = self.counts
        counts.connections += 1
        name = socket.namespace.name
        log.info("connect %s on %s from %s over %s", socket.id, name,
                 socket.handshake.address or "?", socket.transport)

        def incoming(*_: Any) -> None:
            counts.events_in += 1

        def outgoing(*_: Any) -> None:
            counts.events_out += 1

        def disconnected(reason: str) -> None:
            counts.disconnections += 1
            log.info("disconnect %s from %s: %s", socket.id, name, reason)

        socket.on_any(incoming)
        socket.on_any_outgoing(outgoing)
        socket.on("disconnect", disconnected)

    def totals(self) -> str:
        """What is connected now: clients, sockets and rooms (sockets' own rooms not counted)."""
        namespaces = self.server.namespaces.values()
        sockets = sum(len(n.sockets) for n in namespaces)
        rooms = sum(len(n.adapter.all_rooms() - set(n.sockets)) for n in namespaces)
        return f"{len(self.server.engine.sessions)} clients, {sockets} sockets, {rooms} rooms"

    def report(self, elapsed: float) -> str:
        """The periodic line: the totals, then the activity since the previous report."""
        now, last = self.counts, self._last
        rate_in = (now.events_in - last.events_in) / elapsed if elapsed > 0 else 0.0
        rate_out = (now.events_out - last.events_out) / elapsed if elapsed > 0 else 0.0
        self._last = _Counts(**vars(now))
        return (f"{self.totals()}; +{now.connections - last.connections} "
                f"-{now.disconnections - last.disconnections} connections; "
                f"events {rate_in:.1f}/s in, {rate_out:.1f}/s out")

    async def run(self, interval: float) -> None:
        """Log ``report`` every ``interval`` seconds until the server is closed; an idle server
        (nothing happened and the totals did not change since the last line) stays quiet."""
        logged_totals = None
        while True:
            with trio.move_on_after(interval):
                await self.server.wait_closed()
                return
            idle = self.counts == self._last
            totals = self.totals()
            line = self.report(interval)
            if not idle or totals != logged_totals:
                log.info("%s", line)
                logged_totals = totals


async def serve(server: Server, host: str, port: int, stats: float, **options: Any) -> None:
    """Serve ``server`` (``options`` are ``Server.serve``'s) until SIGINT or SIGTERM, which
    close it cleanly; with ``stats``, log the activity line every ``stats`` seconds."""
    monitor = Monitor(server)
    monitor.attach()
    async with server, trio.open_nursery() as nursery:
        await nursery.start(partial(server.serve, host, port, **options))
        if stats > 0:
            await monitor.run(stats)
        await server.wait_closed()


def _gc_threshold(text: str) -> tuple[int, ...]:
    try:
        return parse_gc_threshold(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="socketio-core", description="Run or poke Socket.IO servers (trio-socketio-core).")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="serve a socketio_core.Server: MODULE:ATTR",
                              description="Serve the Server named by MODULE:ATTR, as uvicorn does.")
    run.add_argument("target", metavar="MODULE:ATTR")
    run.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    run.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    run.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    run.add_argument("--stats", type=float, default=10.0, metavar="SECONDS",
                     help="log clients, rooms and event rates this often (0: never)")
    run.add_argument("--factory", action="store_true",
                     help="ATTR is a function returning the Server")
    run.add_argument("--app-dir", default=".", help="where MODULE is looked for (.)")
    run.add_argument("--ssl-certfile", metavar="PEM", help="serve HTTPS with this certificate")
    run.add_argument("--ssl-keyfile", metavar="PEM", help="its private key")
    run.add_argument("--gc-threshold", type=_gc_threshold, metavar="N,N,N",
                     help="the garbage collector's thresholds while serving, as 700,10,1000 "
                          "(off: Python's)")
    from .cli_connect import HELP, add_arguments

    add_arguments(commands.add_parser(
        "connect", help="an interactive client for any Socket.IO server",
        description="Connect to URL, then type commands; incoming events are printed as they "
                    "arrive.", epilog=HELP, formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script's entry point; returns the exit code (130 after Ctrl-C, as Python's
    own ``KeyboardInterrupt`` exit)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "connect":
        from .cli_connect import run_connect

        return run_connect(args)
    code = 0
    # except*: trio's nurseries hand errors on in exception groups.
    try:
        server = load_server(args.target, factory=args.factory, app_dir=args.app_dir)
        with gc_threshold(args.gc_threshold):
            trio.run(partial(serve, server, args.host, args.port, args.stats,
                             ssl_certfile=args.ssl_certfile, ssl_keyfile=args.ssl_keyfile))
        if server.shutdown_signal == signal.SIGINT:
            code = 128 + signal.SIGINT
    except* CLIError as group:
        print(f"socketio-core: {group.exceptions[0]}", file=sys.stderr)
        code = 2
    except* OSError as group:
        print(f"socketio-core: {_os_error(group.exceptions[0], args)}", file=sys.stderr)
        code = 1
    return code


def _os_error(error: BaseException, args: argparse.Namespace) -> str:
    """One line for an ``OSError`` of ``serve``: which address or file, and why."""
    if isinstance(error, ssl.SSLError):
        return f"cannot use the TLS certificate or key: {error.reason or error}"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    if isinstance(error, OSError) and error.strerror:
        return f"cannot listen on {args.host}:{args.port}: {error.strerror}"
    return str(error)


if __name__ == "__main__":
    sys.exit(main())
