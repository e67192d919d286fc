"""``socketio-core connect URL``: an interactive client for poking any Socket.IO server.

Type a command per line; every incoming event is printed as it arrives::

    emit EVENT [ARG ...]     send an event; each ARG is a JSON value (``"hi" 42 {"a": [1]}``)
    ack EVENT [ARG ...]      send it asking for an ack, and print the answer (or the timeout)
    namespace NAME           join another namespace on the same connection and switch to it
    disconnect               leave the current namespace
    connect                  join it again
    help                     this list
    quit                     (or end of input) disconnect and exit

Binary values are written and shown as ``{"$bin": "<hex>"}``. Output lines start with ``<`` (an
event received), ``=`` (an ack), ``*`` (connection news) or ``!`` (an error).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import AsyncIterator, Callable
from typing import Any, TextIO

import trio

from .client import ClientSocket, Manager
from .errors import ConnectError

__all__ = ["Console", "add_arguments", "parse_args_json", "run_connect"]

HELP = __doc__.split("::", 1)[1].split("\n\nBinary", 1)[0].strip("\n") if __doc__ else ""


def _to_wire(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$bin"} and isinstance(value["$bin"], str):
            return bytes.fromhex(value["$bin"])
        return {k: _to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_wire(v) for v in value]
    return value


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": bytes(value).hex()}
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json(v) for v in value]
    return value


def show(values: Any) -> str:
    """``values`` as compact JSON, bytes as ``{"$bin": hex}``."""
    return json.dumps(_to_json(values), ensure_ascii=False, separators=(",", ":"))


def parse_args_json(text: str) -> list[Any]:
    """Consecutive JSON values separated by whitespace: ``'"a" 1 {"b": 2}'`` → ``["a", 1, {...}]``.

    Raises:
        ValueError: something there is not JSON.
    """
    decoder = json.JSONDecoder()
    values: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return [_to_wire(v) for v in values]
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON at {text[index:index + 20]!r}: {error.msg}") from None
        values.append(value)


class Console:
    """The command loop over one ``Manager``; prints to ``out``."""

    def __init__(self, manager: Manager, out: TextIO, *, auth: Any, ack_timeout: float) -> None:
        self.manager = manager
        self.out = out
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.sockets: dict[str, ClientSocket] = {}
        self.current: ClientSocket | None = None

    def print(self, line: str) -> None:
        """Write one output line and flush it."""
        self.out.write(line + "\n")
        self.out.flush()

    def join(self, name: str) -> ClientSocket:
        """Open (or reuse, reconnecting it) the socket of namespace ``name``; make it current."""
        if not name.startswith("/"):
            name = "/" + name
        socket = self.sockets.get(name)
        if socket is None:
            socket = self.manager.socket(name, auth=self.auth)
            self.sockets[name] = socket
            self._watch(socket)  # the manager auto-connects the sockets it makes
        elif not socket.connected:
            socket.connect()
        self.current = socket
        return socket

    def _watch(self, socket: ClientSocket) -> None:
        name = socket.namespace

        def on_connect() -> None:
            self.print(f"* connected {name} id={socket.id} transport={self.manager.transport}")

        def on_disconnect(reason: str) -> None:
            self.print(f"* disconnected {name}: {reason}")

        def on_error(error: ConnectError) -> None:
            self.print(f"! connect_error {name}: {error.message} {show(error.data)}")

        def on_any(event: str, *args: Any) -> None:
            self.print(f"< {name} {event} {show(list(args))}")

        socket.on("connect", on_connect)
        socket.on("disconnect", on_disconnect)
        socket.on("connect_error", on_error)
        socket.on_any(on_any)

    async def command(self, line: str) -> bool:
        """Run one command line; ``False`` when the session should end."""
        word, _, rest = line.strip().partition(" ")
        socket = self.current
        try:
            if not word or word.startswith("#"):
                return True
            if word in ("quit", "exit"):
                return False
            if word == "help":
                self.print(HELP)
            elif word == "namespace":
                name = shlex.split(rest)[0] if rest.strip() else "/"
                self.join(name)
            elif socket is None:
                self.print("! no namespace")
            elif word == "emit":
                event, args = self._event(rest)
                await socket.emit(event, *args)
            elif word == "ack":
                event, args = self._event(rest)
                answer = await socket.emit_with_ack(event, *args, timeout=self.ack_timeout)
                values = list(answer) if isinstance(answer, tuple) else [answer]
                self.print(f"= {socket.namespace} {event} {show(values)}")
            elif word == "disconnect":
                await socket.disconnect()
            elif word == "connect":
                socket.connect()
            else:
                self.print(f"! unknown command {word!r}; try help")
        except ValueError as error:
            self.print(f"! {error}")
        except TimeoutError:
            self.print(f"! no ack within {self.ack_timeout:g}s")
        except ConnectionError as error:
            self.print(f"! {error or 'disconnected'}")
        return True

    @staticmethod
    def _event(rest: str) -> tuple[str, list[Any]]:
        rest = rest.strip()
        if not rest:
            raise ValueError("which event? e.g. emit chat \"hello\"")
        if rest[0] == '"':
            event, end = json.JSONDecoder().raw_decode(rest)
            return str(event), parse_args_json(rest[end:])
        event, _, args = rest.partition(" ")
        return event, parse_args_json(args)


async def _lines(stdin: TextIO) -> AsyncIterator[str]:
    while True:
        line = await trio.to_thread.run_sync(stdin.readline, abandon_on_cancel=True)
        if not line:
            return
        yield line


async def connect_session(
    args: argparse.Namespace, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout,
    manager_factory: Callable[..., Manager] = Manager,
) -> int:
    """Run the interactive session; the exit code."""
    transports = {"polling": ("polling",), "websocket": ("websocket",)}.get(
        args.transport, ("polling", "websocket"))
    auth = json.loads(args.auth) if args.auth else None
    query = dict(item.split("=", 1) for item in args.query)
    manager = manager_factory(
        args.url, path=args.path, transports=transports, query=query or None,
        reconnection=not args.no_reconnect)
    async with manager:
        console = Console(manager, out, auth=auth, ack_timeout=args.ack_timeout)
        console.join(args.namespace)
        async for line in _lines(stdin):
            if not await console.command(line):
                break
        for socket in console.sockets.values():
            await socket.disconnect()
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``connect`` sub-command's options."""
    parser.add_argument("url", metavar="URL", help="http(s)://host:port[/namespace]")
    parser.add_argument("--namespace", "-n", default=None,
                        help="the namespace to join (default: the URL's path, else /)")
    parser.add_argument("--transport", choices=("polling", "websocket", "both"), default="both",
                        help="polling only, WebSocket only, or polling then upgrade (both)")
    parser.add_argument("--path", default="/socket.io", help="the server's path (/socket.io)")
    parser.add_argument("--auth", default=None, metavar="JSON", help="the auth payload")
    parser.add_argument("--query", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra query parameter (repeatable)")
    parser.add_argument("--ack-timeout", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--no-reconnect", action="store_true", help="do not reconnect")
    parser.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"),
                        default="warning")


def run_connect(args: argparse.Namespace) -> int:
    """Entry point of ``socketio-core connect``."""
    from urllib.parse import urlsplit

    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        print(f"socketio-core: expected an http(s):// URL, got {args.url!r}", file=sys.stderr)
        return 2
    if args.namespace is None:
        args.namespace = parts.path if parts.path not in ("", "/") else "/"
        args.url = parts._replace(path="").geturl()
    try:
        return trio.run(connect_session, args)
    except KeyboardInterrupt:
        return 130
