"""``socketio-core connect URL``: an interactive client for poking any Socket.IO server.

In a terminal it is a prompt with line editing and history (Python's ``readline``); on a pipe
it reads one command per line. ``HELP`` lists the commands. Every incoming event is printed as
it arrives, above the prompt; acks are printed when they come, while typing goes on.

Exit status: 0 when the session ends (``quit``, end of input), 1 when the server cannot be
reached and ``--no-reconnect`` is given, 2 for a usage error (a bad URL, ``--auth`` or
``--query``), 130 after Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any, TextIO
from urllib.parse import urlsplit

import trio

from .client import ClientSocket, Manager
from .errors import ConnectError

try:
    import readline
except ImportError:  # not on every platform: then the prompt has no line editing
    readline = None  # type: ignore[assignment]

__all__ = ["HELP", "Console", "add_arguments", "parse_values", "run_connect"]

HELP = """\
Commands:
  emit EVENT [ARG ...]   send an event
  ack EVENT [ARG ...]    send it asking for an ack; the answer is printed when it comes
  namespace NAME         join another namespace on the same connection and switch to it
  disconnect             leave the current namespace
  connect                join it again
  help                   this list
  quit                   disconnect and exit (end of input, Ctrl-D, too)

An ARG is a JSON value ("two words", 42, true, null, {"a": [1]}) or a bare word, sent as a
string: emit say hi sends the event "say" with "hi". Binary values are written and shown as
{"$bin": "<hex>"}.
Output lines start with < (an event received), = (an ack), * (connection news) or ! (an
error)."""


class UsageError(Exception):
    """A bad command line, reported in one line (exit status 2)."""


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


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON: such a word is a string


def parse_values(text: str) -> list[Any]:
    """Whitespace-separated values: JSON, or bare words taken as strings:
    ``'hi 1 {"b": 2} "two words"'`` -> ``["hi", 1, {"b": 2}, "two words"]``.

    Raises:
        ValueError: a value that starts as JSON (``{``, ``[`` or ``"``) is not valid JSON.
    """
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    values: list[Any] = []
    index = 0
    while True:
        while index < len(text) and text[index].isspace():
            index += 1
        if index == len(text):
            return [_to_wire(v) for v in values]
        if text[index] in '{["':
            try:
                value, index = decoder.raw_decode(text, index)
            except json.JSONDecodeError as error:
                raise ValueError(
                    f"not JSON at {text[index:index + 20]!r}: {error.msg}") from None
        else:
            end = index
            while end < len(text) and not text[end].isspace():
                end += 1
            word, index = text[index:end], end
            try:
                value = decoder.decode(word)
            except ValueError:
                value = word
        values.append(value)


def _root_cause(description: Any) -> str:
    """The last link of an error description ``"outer: ...: cause"`` (see
    ``engineio_core.client``): what actually went wrong."""
    text = str(description)
    return text.rsplit(": ", 1)[-1] if ": " in text else text


class Console:
    """The command loop over one ``Manager``; prints to ``out``.

    Args:
        manager: the connection (entered).
        out: where lines go.
        auth: the auth payload of every namespace joined.
        ack_timeout: seconds an ``ack`` command waits.
        nursery: where pending acks wait.
        reconnect: whether the manager reconnects; without it a failure to connect ends the
            session (``gave_up`` is set).
    """

    def __init__(self, manager: Manager, out: TextIO, *, auth: Any, ack_timeout: float,
                 nursery: trio.Nursery, reconnect: bool = True) -> None:
        self.manager = manager
        self.out = out
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.nursery = nursery
        self.reconnect = reconnect
        self.sockets: dict[str, ClientSocket] = {}
        self.current: ClientSocket | None = None
        self.prompting = False  # a prompt is on screen: print above it
        self.failure: str | None = None  # why the server cannot be reached, while it cannot
        self.gave_up = trio.Event()
        manager.on("error", self._on_engine_error)
        manager.on("reconnect", self._on_reconnect)

    @property
    def prompt(self) -> str:
        """The prompt: the current namespace."""
        return f"{self.current.namespace if self.current else '/'}> "

    def print(self, line: str) -> None:
        """Write one output line (above the prompt, when one is shown) and flush it."""
        if self.prompting and readline is not None:
            # Clear the prompt's line, print, then draw the prompt and what was typed again.
            self.out.write(f"\r\x1b[K{line}\n{self.prompt}{readline.get_line_buffer()}")
        else:
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

    def _on_engine_error(self, error: ConnectError) -> None:
        cause = _root_cause(error.data)
        if cause != self.failure:  # said once, not at every attempt
            self.failure = cause
            retry = "; retrying" if self.reconnect else ""
            self.print(f"! cannot connect to {self.manager.url} ({error.message}): {cause}{retry}")
        if not self.reconnect:
            self.gave_up.set()

    def _on_reconnect(self, attempts: int) -> None:
        self.print(f"* reconnected after {attempts} attempt{'s' if attempts != 1 else ''}")

    def _watch(self, socket: ClientSocket) -> None:
        name = socket.namespace

        def on_connect() -> None:
            self.failure = None
            self.print(f"* connected {name} id={socket.id} transport={self.manager.transport}")

        def on_disconnect(reason: str) -> None:
            self.print(f"* disconnected {name}: {reason}")

        def on_error(error: ConnectError) -> None:
            # The manager reports its own failures to connect (``_on_engine_error``): those
            # carry their cause (or are its timeout); the others are the server's refusals.
            if error.__cause__ is None and error.message != "timeout":
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
                names = parse_values(rest)
                self.join(str(names[0]) if names else "/")
            elif socket is None:
                self.print("! no namespace")
            elif word in ("emit", "ack"):
                event, args = self._event(rest)
                if not socket.connected:
                    why = f": {self.failure}" if self.failure else ""
                    self.print(f"! not connected to {socket.namespace}{why}; nothing was sent")
                elif word == "emit":
                    await socket.emit(event, *args)
                else:
                    self.nursery.start_soon(self._ack, socket, event, args)
            elif word == "disconnect":
                await socket.disconnect()
            elif word == "connect":
                socket.connect()
            else:
                self.print(f"! unknown command {word!r}; try help")
        except ValueError as error:
            self.print(f"! {error}")
        except ConnectionError as error:
            self.print(f"! {error or 'disconnected'}")
        return True

    async def _ack(self, socket: ClientSocket, event: str, args: list[Any]) -> None:
        try:
            answer = await socket.emit_with_ack(event, *args, timeout=self.ack_timeout)
        except TimeoutError:
            self.print(f"! no ack for {event} within {self.ack_timeout:g}s")
        except ConnectionError as error:
            self.print(f"! no ack for {event}: {error or 'disconnected'}")
        else:
            values = list(answer) if isinstance(answer, tuple) else [answer]
            self.print(f"= {socket.namespace} {event} {show(values)}")

    @staticmethod
    def _event(rest: str) -> tuple[str, list[Any]]:
        values = parse_values(rest)
        if not values:
            raise ValueError("which event? e.g. emit chat hello")
        return str(values[0]), values[1:]


def _prompt_for_line(console: Console) -> str:
    """``input()`` at the console's prompt (in a worker thread)."""
    try:
        return input(console.prompt)
    finally:
        console.prompting = False


def _prompt_shown(console: Console) -> None:
    # readline's pre-input hook runs once the prompt is on screen: from then on, printing
    # must draw it again.
    console.prompting = True


async def _lines(stdin: TextIO, console: Console) -> AsyncIterator[str]:
    """The lines typed: at a prompt with line editing in a terminal, else one per line."""
    interactive = stdin.isatty() and stdin is sys.stdin
    if interactive and readline is not None:
        readline.set_pre_input_hook(partial(_prompt_shown, console))
    while True:
        if interactive:
            try:
                line = await trio.to_thread.run_sync(_prompt_for_line, console,
                                                     abandon_on_cancel=True)
            except EOFError:
                console.out.write("\n")
                return
        else:
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
    manager = manager_factory(
        args.url, path=args.path, transports=transports, query=args.query or None,
        reconnection=not args.no_reconnect)
    async with manager, trio.open_nursery() as nursery:
        console = Console(manager, out, auth=args.auth, ack_timeout=args.ack_timeout,
                          nursery=nursery, reconnect=not args.no_reconnect)
        console.join(args.namespace)

        async def read_commands() -> None:
            async for line in _lines(stdin, console):
                if not await console.command(line):
                    break
            nursery.cancel_scope.cancel()

        nursery.start_soon(read_commands)
        await console.gave_up.wait()
        nursery.cancel_scope.cancel()
    return 1 if console.gave_up.is_set() else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``connect`` sub-command's options."""
    parser.add_argument("url", metavar="URL",
                        help="http(s):// or ws(s)://host:port, with a namespace as its path")
    parser.add_argument("--namespace", "-n", default=None,
                        help="the namespace to join (default: the URL's path, else /)")
    parser.add_argument("--transport", choices=("polling", "websocket", "both"), default="both",
                        help="polling only, WebSocket only, or polling then upgrade (both)")
    parser.add_argument("--path", default="/socket.io", help="the server's path (/socket.io)")
    parser.add_argument("--auth", default=None, metavar="JSON",
                        help="the auth payload, a JSON object")
    parser.add_argument("--query", action="append", default=[], metavar="KEY=VALUE",
                        help="an extra query parameter (repeatable)")
    parser.add_argument("--ack-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long an ack command waits (10)")
    parser.add_argument("--no-reconnect", action="store_true",
                        help="do not reconnect; exit with status 1 if the server cannot be "
                             "reached")
    parser.add_argument("--log-level", choices=("critical", "error", "warning", "info", "debug"),
                        default="warning")


def check_arguments(args: argparse.Namespace) -> None:
    """Validate and normalise the options in place: ``url`` (a ws(s) URL becomes http(s); its
    path, the namespace), ``auth`` (parsed), ``query`` (a dict).

    Raises:
        UsageError: what is wrong, in one line.
    """
    parts = urlsplit(args.url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"expected an http(s):// or ws(s):// URL, got {args.url!r}")
    try:
        parts.port  # noqa: B018 -- urlsplit checks the port only when asked
    except ValueError:
        raise UsageError(f"bad port in {args.url!r}") from None
    if args.namespace is None:
        args.namespace = parts.path if parts.path not in ("", "/") else "/"
    args.url = parts._replace(scheme=scheme, path="").geturl()
    if args.auth is not None:
        try:
            args.auth = json.loads(args.auth)
        except ValueError as error:
            raise UsageError(f"--auth is not JSON: {error}") from None
        if not isinstance(args.auth, dict):
            raise UsageError("--auth must be a JSON object, such as '{\"token\": \"abc\"}'")
    query: dict[str, str] = {}
    for item in args.query:
        key, equals, value = item.partition("=")
        if not equals or not key:
            raise UsageError(f"--query expects KEY=VALUE, got {item!r}")
        query[key] = value
    args.query = query


def run_connect(args: argparse.Namespace) -> int:
    """Entry point of ``socketio-core connect``: the exit status."""
    try:
        check_arguments(args)
    except UsageError as error:
        print(f"socketio-core: {error}", file=sys.stderr)
        return 2
    saved = None
    if sys.stdin.isatty():
        import termios

        saved = termios.tcgetattr(sys.stdin)
    code = 130
    try:
        code = trio.run(connect_session, args)
    except* KeyboardInterrupt:
        pass
    finally:
        if saved is not None:
            # A prompt left waiting when the session ended must not leave the terminal raw.
            termios.tcsetattr(sys.stdin, termios.TCSADRAIN, saved)
            if code == 130:
                sys.stdout.write("\n")
    sys.stdout.flush()
    return code
