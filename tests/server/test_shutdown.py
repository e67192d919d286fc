"""Ctrl-C and SIGTERM on a serving program: every client is told at once, disconnect handlers
see ``server shutting down``, the exit status is 130 after Ctrl-C (as Python's) and 0 after
SIGTERM, and nothing prints a traceback. Real processes, real signals, our client."""

from __future__ import annotations

import json
import re
import signal
import sys
from collections.abc import Callable
from functools import partial

import pytest
import trio

from socketio_core import Server, Socket, connect
from tests.cli.proc import Proc, console_script
from tests.interop.conftest import ROOT
from transports import HTTPConnection, open_stream

LISTENING = r"listening on http://127\.0\.0\.1:(\d+)/socket\.io/"


def readme_server() -> str:
    """The README's serving script, on a free port."""
    readme = (ROOT / "README.md").read_text()
    (script,) = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
                 if "sio.run(" in b]
    assert 'sio.run("127.0.0.1", 8000)' in script
    return script.replace('sio.run("127.0.0.1", 8000)', 'sio.run("127.0.0.1", 0)')


PROGRAMS: dict[str, Callable[[], list[str]]] = {
    "readme": lambda: [sys.executable, "-c", readme_server()],
    "chat": lambda: [sys.executable, "-m", "examples.chat", "--port", "0"],
    "cli": lambda: [console_script(), "serve", "tests.cli.tiny_app:sio", "--port", "0",
                    "--stats", "0"],
}
# What each program shows of its disconnect handlers: the README's prints, the others log.
HANDLER_SAW = {
    "readme": r"^\S+ left: server shutting down$",
    "chat": r"disconnect \S+ from /: server shutting down$",
    "cli": r"disconnect \S+ from /: server shutting down$",
}


async def clients_hear_the_close(port: int, stop: Callable[[], None]) -> list[str]:
    """Connect one client per transport, call ``stop``, return their disconnect reasons."""
    reasons: list[str] = []
    url = f"http://127.0.0.1:{port}"
    with trio.fail_after(15):
        async with (connect(url, transports=("polling",), auth={"name": "ada"},
                            reconnection=False) as polling,
                    connect(url, transports=("websocket",), auth={"name": "bob"},
                            reconnection=False) as websocket):
            both = trio.Event()
            for client in (polling, websocket):
                @client.on("disconnect")
                def gone(reason: str) -> None:
                    reasons.append(reason)
                    if len(reasons) == 2:
                        both.set()
            stop()
            await both.wait()
    return reasons


def disconnect_reasons(*servers: Server) -> list[str]:
    """The disconnect reasons every socket of ``servers`` will see, in order."""
    seen: list[str] = []
    for server in servers:
        @server.on("connection")
        def on_connection(socket: Socket) -> None:
            socket.on("disconnect", seen.append)
    return seen


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("program", list(PROGRAMS))
def test_a_signal_closes_the_server_cleanly(program: str, sig: signal.Signals) -> None:
    proc = Proc(PROGRAMS[program]())
    try:
        port = int(proc.expect(LISTENING).group(1))
        reasons = trio.run(clients_hear_the_close, port, partial(proc.process.send_signal, sig))
        assert reasons == ["transport close", "transport close"]
        proc.expect(rf"{sig.name}: shutting down")
        proc.expect(HANDLER_SAW[program])
        proc.expect(HANDLER_SAW[program])
        assert proc.finish(None) == (130 if sig == signal.SIGINT else 0)
    finally:
        proc.kill()
    assert "Traceback" not in "".join(proc.lines)


STUCK_HANDLER = """
import trio
from socketio_core import Server, Socket

sio = Server()
sio.engine.shutdown_timeout = 600


@sio.on("connection")
def on_connection(socket: Socket) -> None:
    @socket.on("disconnect")
    async def gone(reason: str) -> None:
        print("stuck in the handler", flush=True)
        await trio.sleep(600)


sio.run("127.0.0.1", 0)
"""


def test_a_second_ctrl_c_stops_a_shutdown_that_hangs() -> None:
    proc = Proc([sys.executable, "-c", "import logging; logging.basicConfig(level='INFO')\n"
                 + STUCK_HANDLER])
    try:
        port = int(proc.expect(LISTENING).group(1))

        async def connect_then_interrupt() -> None:
            with trio.fail_after(15):
                async with connect(f"http://127.0.0.1:{port}", reconnection=False) as client:
                    gone = trio.Event()
                    client.on("disconnect", lambda reason: gone.set())
                    proc.process.send_signal(signal.SIGINT)
                    await gone.wait()

        trio.run(connect_then_interrupt)
        proc.expect("stuck in the handler")
        proc.process.send_signal(signal.SIGINT)
        assert proc.finish(None) != 0  # within the wait's bound, not after the 600 s
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in "".join(proc.lines)


def test_two_servers_in_one_run_share_the_signal_and_restore_the_handlers() -> None:
    before = signal.getsignal(signal.SIGINT)
    first, second = Server(), Server()
    seen = disconnect_reasons(first, second)

    async def main() -> None:
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                ports = []
                for server in (first, second):
                    listeners = await nursery.start(server.serve)
                    ports.append(listeners[0].socket.getsockname()[1])
                async with (connect(f"http://127.0.0.1:{ports[0]}") as a,
                            connect(f"http://127.0.0.1:{ports[1]}") as b):
                    assert a.connected and b.connected
                    signal.raise_signal(signal.SIGINT)
                    await first.wait_closed()
                    await second.wait_closed()
            # Both serve() calls returned by themselves: the nursery had nothing to cancel.

    trio.run(main)
    assert seen == ["server shutting down", "server shutting down"]
    assert first.shutdown_signal == second.shutdown_signal == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before


def test_without_handle_signals_serve_leaves_signals_alone() -> None:
    server = Server()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(partial(server.serve, handle_signals=False))
            with pytest.raises(KeyboardInterrupt):
                signal.raise_signal(signal.SIGINT)
                await trio.sleep(5)  # trio delivers the interrupt at this checkpoint
            nursery.cancel_scope.cancel()

    trio.run(main)
    assert server.shutdown_signal is None


def test_a_polling_client_that_stopped_polling_still_gets_its_disconnect_handler_run() -> None:
    # Its close can never be flushed (no GET comes): without the abort at three quarters of
    # shutdown_timeout, the session outlived aclose and the handler never ran.
    server = Server()
    server.engine.shutdown_timeout = 0.4
    seen = disconnect_reasons(server)

    async def main() -> None:
        with trio.fail_after(15):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve)
                port = listeners[0].socket.getsockname()[1]
                connection = HTTPConnection(await open_stream("127.0.0.1", port), "127.0.0.1")
                target = "/socket.io/?EIO=4&transport=polling"
                opened = await connection.request("GET", target)
                target += "&sid=" + json.loads(opened.body[1:])["sid"]
                assert (await connection.request("POST", target, [], b"40")).body == b"ok"
                assert (await connection.request("GET", target)).body.startswith(b"40{")
                await server.aclose()
                assert not server.engine.sessions
                await connection.aclose()

    trio.run(main)
    assert seen == ["server shutting down"]
