"""Connection state recovery from the client's side, against our server and the official Node
server (both with recovery on): the ``pid`` and last offset sent on reconnection, the same id,
rooms and data back, the missed events once, in order and before ``connect``; several times in
a row, after either side dropped the transport; none after a deliberate disconnect or once the
session expired. Also the listener helpers: ``once``, ``off`` and ``compress``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio

from socketio_core import Manager, connect
from tests.client.conftest import FAST, KINDS, Recorder, ServerProcess, run

RECOVERY = {"maxDisconnectionDuration": 60000, "skipMiddlewares": True}
MODES = {"websocket": ("websocket",), "polling": ("polling",)}


@pytest.fixture(scope="module")
def recovering() -> Iterator[dict[str, ServerProcess]]:
    started: dict[str, ServerProcess] = {}
    try:
        for kind in KINDS:
            started[kind] = ServerProcess(kind, recovery=RECOVERY)
            started[kind].start()
        yield started
    finally:
        for server in started.values():
            server.close()


def recorded(socket: Any, events: Recorder, *names: str) -> None:
    for name in names:
        socket.on(name, events(name))


async def offset_of_one_event(socket: Any, events: Recorder) -> str:
    """Ask the server for one event: its last argument is the offset to recover from."""
    before = len(events.of("sent"))
    await socket.emit_with_ack("send-me", "x")
    sent = (await events.wait("sent", before + 1))[-1]
    assert sent[0] == "x" and isinstance(sent[1], str)
    offset: str = sent[1]
    return offset


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_recovered_after_the_transport_drops(
        recovering: dict[str, ServerProcess], kind: str, mode: str) -> None:
    url = recovering[kind].url

    async def main() -> None:
        events = Recorder()
        async with Manager(url, transports=MODES[mode], **FAST) as manager:
            socket = manager.socket("/")
            recorded(socket, events, "connect", "missed", "sent", "disconnect")
            await socket.wait_connected()
            assert socket.recovered is False
            first = socket.id
            assert first is not None
            assert await socket.emit_with_ack("join", "r") is True
            assert await socket.emit_with_ack("set-data", {"k": [1, "two"]}) is True
            offset = await offset_of_one_event(socket, events)
            assert await socket.emit_with_ack("auth?") == {}  # no pid before a reconnection
            assert await socket.emit_with_ack("arm-missed", "r") is True
            assert manager.engine is not None
            manager.engine.close()  # the transport goes, no DISCONNECT packet
            await events.wait("connect", 2)
            assert socket.recovered is True and socket.id == first
            missed = events.of("missed")
            assert [m[:-1] for m in missed] == [("direct", "transport close"), ("room",),
                                                ("all",)]
            offsets = [m[-1] for m in missed]
            assert all(isinstance(o, str) for o in offsets) and len(set(offsets)) == 3
            assert offset not in offsets
            # every missed event came before the connect handler ran
            names = events.names()
            assert names.index("connect", 1) > max(i for i, n in enumerate(names)
                                                   if n == "missed")
            assert await socket.emit_with_ack("rooms?") == sorted([first, "r"])
            assert await socket.emit_with_ack("data?") == {"k": [1, "two"]}
            assert await socket.emit_with_ack("recovered?") is True
            auth = await socket.emit_with_ack("auth?")  # the CONNECT that recovered
            assert auth == {"pid": auth["pid"], "offset": offset}

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_recovered_again_and_again_after_either_side_drops(
        recovering: dict[str, ServerProcess], kind: str) -> None:
    url = recovering[kind].url

    async def main() -> None:
        events = Recorder()
        async with Manager(url, transports=("websocket",), **FAST) as manager:
            socket = manager.socket("/", auth={"token": "t"})
            recorded(socket, events, "connect", "missed", "sent")
            await socket.wait_connected()
            first = socket.id
            await socket.emit_with_ack("join", "r")
            await offset_of_one_event(socket, events)
            for round_ in range(4):
                await socket.emit_with_ack("arm-missed", "r")
                if round_ % 2:
                    await socket.emit("drop-transport")  # the server restarts the transport
                else:
                    assert manager.engine is not None
                    manager.engine.close()
                await events.wait("connect", round_ + 2)
                assert socket.recovered is True and socket.id == first, round_
                assert await socket.emit_with_ack("recovered?") is True
                assert await socket.emit_with_ack("rooms?") == sorted([first, "r"])
                reason = "forced close" if round_ % 2 else "transport close"
                assert [m[:-1] for m in events.of("missed")][-3:] == [
                    ("direct", reason), ("room",), ("all",)]
            assert len(events.of("missed")) == 12
            # the auth given is still sent, after the pid and the offset
            auth = await socket.emit_with_ack("auth?")
            assert list(auth) == ["pid", "offset", "token"] and auth["token"] == "t"

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_not_recovered_after_a_deliberate_disconnect_or_without_an_offset(
        recovering: dict[str, ServerProcess], kind: str) -> None:
    url = recovering[kind].url

    async def main() -> None:
        events = Recorder()
        async with Manager(url, transports=("websocket",), **FAST) as manager:
            socket = manager.socket("/")
            recorded(socket, events, "connect", "sent", "disconnect")
            await socket.wait_connected()
            # no event received yet: the reconnection carries a pid but no offset
            first = socket.id
            assert manager.engine is not None
            manager.engine.close()
            await events.wait("connect", 2)
            assert socket.recovered is False and socket.id != first
            assert list(await socket.emit_with_ack("auth?")) == ["pid"]
            # the client leaves, then comes back
            await offset_of_one_event(socket, events)
            second = socket.id
            await socket.disconnect()
            socket.connect()
            await socket.wait_connected()
            assert socket.recovered is False and socket.id != second
            # the server disconnects it, then it comes back
            await offset_of_one_event(socket, events)
            third = socket.id
            await socket.emit("disconnect-me")
            await events.wait("disconnect", 3)
            assert events.of("disconnect")[-1] == ("io server disconnect",)
            socket.connect()
            await socket.wait_connected()
            assert socket.recovered is False and socket.id != third

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_not_recovered_once_the_session_expired(make_server: Any, kind: str) -> None:
    server: ServerProcess = make_server(kind, recovery={"maxDisconnectionDuration": 300})

    async def main() -> None:
        events = Recorder()
        async with Manager(server.url, transports=("websocket",), reconnection=False) as manager:
            socket = manager.socket("/")
            recorded(socket, events, "connect", "sent", "disconnect")
            await socket.wait_connected()
            first = socket.id
            await offset_of_one_event(socket, events)
            assert manager.engine is not None
            manager.engine.close()
            await events.wait("disconnect")
            await trio.sleep(0.6)
            socket.connect()
            await socket.wait_connected()
            assert socket.recovered is False and socket.id != first

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_once_off_and_compress(servers: dict[str, ServerProcess], kind: str) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with connect(url, transports=("websocket",)) as socket:
            seen: list[tuple[str, Any]] = []

            def first(value: Any) -> None:
                seen.append(("first", value))

            def every(value: Any) -> None:
                seen.append(("every", value))

            def removed(value: Any) -> None:
                seen.append(("removed", value))

            socket.once("echo", first)
            socket.on("echo", every)
            socket.once("echo", removed)
            socket.off("echo", removed)
            assert socket.listeners("echo") == [first, every]
            for value in (1, 2):
                await socket.compress(False).emit("echo", value)
            while len(seen) < 3:
                await trio.sleep(0.01)
            assert seen == [("first", 1), ("every", 1), ("every", 2)]
            assert socket.listeners("echo") == [every]
            assert await socket.compress(True).emit_with_ack("echo", 3) == 3
            socket.off("echo")
            assert socket.listeners("echo") == []
            socket.on("echo", every)
            socket.on("other", every)
            socket.off()
            assert socket.listeners("echo") == socket.listeners("other") == []
            anything: list[Any] = []
            socket.on_any(anything.append)
            socket.off_any(anything.append)
            socket.on_any_outgoing(anything.append)
            socket.off_any_outgoing()
            await socket.emit_with_ack("echo", 4)
            assert anything == []

    run(main)
