"""``raise ConnectError(message, data)`` in a ``connection`` (or ``connect``) handler refuses the
client, as a middleware does: CONNECT_ERROR with that message and data, and nothing the handler
sent. The client is told it is connected only once the connection handlers have run to their
first wait; a refusal after that disconnects it instead (and says so in the log)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import trio

from socketio_core import ConnectError, Server, Socket, connect
from tests.interop.conftest import CONFORMANCE, SCENARIOS_JS
from tests.server.live_util import serving

HOST = "127.0.0.1"


def run(fn: Any) -> Any:
    async def bounded() -> Any:
        with trio.fail_after(30):
            return await fn()

    return trio.run(bounded)


def refusing_server() -> tuple[Server, list[str]]:
    """``/refusing`` sends ``welcome`` (directly and by broadcast), joins a room, then refuses;
    ``/late`` refuses after its first wait; ``/`` accepts."""
    server = Server()
    seen: list[str] = []

    @server.of("/refusing").on("connection")
    async def refuse(socket: Socket) -> None:
        socket.emit_nowait("welcome", "direct")
        socket.join("room")
        await server.of("/refusing").emit("welcome", "broadcast")  # does not wait here

        @socket.on("disconnect")
        def gone(reason: str) -> None:
            seen.append(f"disconnect {reason}")

        raise ConnectError("not allowed", {"code": 7})

    @server.of("/late").on("connect")  # the alias refuses alike
    async def late(socket: Socket) -> None:
        socket.emit_nowait("welcome", "before")
        await trio.sleep(0)
        raise ConnectError("too late")

    @server.on("connection")
    def accept(socket: Socket) -> None:
        socket.on("rooms", lambda: {name: sorted(ns.adapter.all_rooms())  # type: ignore[attr-defined]
                                    for name, ns in server.namespaces.items()})
        socket.on("sockets", lambda: {name: len(ns.sockets)
                                      for name, ns in server.namespaces.items()})

    return server, seen


def test_the_official_client_is_refused_with_the_message_and_data_and_nothing_else() -> None:
    server, seen = refusing_server()

    async def main() -> Any:
        async with serving(server) as port:
            completed = await trio.run_process(
                ["node", str(SCENARIOS_JS), "handler_refusal", f"http://{HOST}:{port}"],
                cwd=CONFORMANCE, capture_stdout=True, capture_stderr=True, check=False)
        return json.loads(completed.stdout.decode().strip().splitlines()[-1])

    assert run(main) == {
        "message": "not allowed", "data": {"code": 7}, "active": False, "connects": 0,
        "packets": [{"type": 4, "nsp": "/refusing",
                     "data": {"message": "not allowed", "data": {"code": 7}}}],
    }
    assert seen == []  # never connected, so no disconnect


@pytest.mark.parametrize("transports", [("polling",), ("websocket",)])
def test_our_client_is_refused_and_the_server_keeps_nothing_of_it(
    transports: tuple[str, ...],
) -> None:
    server, seen = refusing_server()

    async def main() -> tuple[ConnectError, list[str], Any, Any]:
        async with serving(server) as port:
            url = f"http://{HOST}:{port}"
            got: list[str] = []
            with pytest.raises(ConnectError) as refused:
                async with connect(f"{url}/refusing", transports=transports,
                                   wait=False) as client:
                    client.on("welcome", got.append)
                    await client.wait_connected()
            async with connect(url, transports=transports, reconnection=False) as main_ns:
                rooms = await main_ns.emit_with_ack("rooms", timeout=5)
                sockets = await main_ns.emit_with_ack("sockets", timeout=5)
        return refused.value, got, rooms, sockets

    refusal, got, rooms, sockets = run(main)
    assert (refusal.message, refusal.data) == ("not allowed", {"code": 7})
    assert got == []
    assert rooms["/refusing"] == [] and sockets["/refusing"] == 0
    assert seen == []


def test_a_refusal_after_the_first_wait_disconnects_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, _ = refusing_server()

    async def main() -> tuple[list[Any], str | None]:
        async with serving(server) as port:
            got: list[Any] = []
            reasons: list[str] = []
            async with connect(f"http://{HOST}:{port}/late", reconnection=False,
                               wait=False) as client:
                gone = trio.Event()
                client.on("welcome", got.append)
                client.on("disconnect", lambda reason: (reasons.append(reason), gone.set()))
                await client.wait_connected()
                await gone.wait()
        return got, reasons[0]

    with caplog.at_level(logging.WARNING, logger="socketio_core"):
        got, reason = run(main)
    assert got == ["before"]
    assert reason == "io server disconnect"
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "raised ConnectError('too late') after it first waited" in warning.getMessage()
    assert "Namespace.use" in warning.getMessage()


def test_what_a_connection_handler_sends_before_it_waits_follows_the_connect() -> None:
    """Held until the client is told it is connected, then sent in order."""
    server = Server()

    @server.on("connection")
    async def hello(socket: Socket) -> None:
        socket.emit_nowait("first")
        socket.join("r")
        await server.to("r").emit("second")  # a broadcast reaching the new socket
        await socket.emit("third")  # the client is not behind: no wait
        await trio.sleep(0)  # the first wait: the CONNECT and the three leave here
        await socket.emit("fourth")

    async def main() -> list[str]:
        async with serving(server) as port:
            got: list[str] = []
            done = trio.Event()
            async with connect(f"http://{HOST}:{port}", wait=False,
                               reconnection=False) as client:
                for name in ("first", "second", "third"):
                    client.on(name, lambda name=name: got.append(name))
                client.on("fourth", lambda: (got.append("fourth"), done.set()))
                await done.wait()
        return got

    assert run(main) == ["first", "second", "third", "fourth"]
