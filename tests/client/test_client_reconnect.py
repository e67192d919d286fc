"""Disconnect reasons, reconnection and offline buffering, against our server and Node's, with
the server stopped, restarted on the same port, and paused (SIGSTOP) to silence its pings."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from socketio_core import ConnectError, Manager, connect
from tests.client.conftest import FAST, KINDS, TRANSPORTS, Recorder, ServerProcess, run


async def until(predicate: Any) -> None:
    while not predicate():
        await trio.sleep(0.01)


def watch(manager: Manager, events: Recorder, *sockets: Any) -> None:
    for name in ("open", "close", "error", "reconnect_attempt", "reconnect", "reconnect_error",
                 "reconnect_failed"):
        manager.on(name, events(name))
    for socket in sockets:
        for name in ("connect", "connect_error", "disconnect"):
            socket.on(name, events(f"{socket.namespace} {name}"))


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_server_namespace_disconnect_is_final(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url

    async def main() -> None:
        events = Recorder()
        async with Manager(url, transports=TRANSPORTS[mode], **FAST) as manager:
            socket, other = manager.socket("/"), manager.socket("/other")
            watch(manager, events, socket, other)
            await socket.wait_connected()
            await other.wait_connected()
            await socket.emit("disconnect-me")
            assert await events.wait("/ disconnect") == [("io server disconnect",)]
            await socket.wait()
            assert not socket.active
            # The other namespace keeps the connection; leaving it too closes it, for good.
            assert await other.emit_with_ack("whoami") == "/other"
            await other.disconnect()
            assert await events.wait("/other disconnect") == [("io client disconnect",)]
            assert await events.wait("close") == [("forced close",)]
            await other.wait()
            await trio.sleep(0.3)
            assert "reconnect_attempt" not in events.names()
            assert not manager.is_open

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_lost_transport_reconnects_every_namespace(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url

    async def main() -> None:
        events = Recorder()
        async with Manager(url, transports=TRANSPORTS[mode], **FAST) as manager:
            socket = manager.socket("/")
            admin = manager.socket("/admin", auth={"token": "secret"})
            watch(manager, events, socket, admin)
            await socket.wait_connected()
            await admin.wait_connected()
            first_ids = (socket.id, admin.id)
            pending = trio.Event()
            failures: list[BaseException] = []

            async def wait_for_ack() -> None:
                try:
                    await socket.emit_with_ack("never-ack")
                except ConnectionError as error:
                    failures.append(error)
                pending.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(wait_for_ack)
                await trio.sleep(0.05)
                await socket.emit("drop-transport")
                await pending.wait()
            assert [str(e) for e in failures] == ["socket has been disconnected"]
            assert await events.wait("/ disconnect") == [("transport close",)]
            assert await events.wait("/admin disconnect") == [("transport close",)]
            assert await events.wait("reconnect") == [(1,)]
            assert events.of("reconnect_attempt") == [(1,)]
            await events.wait("/ connect", 2)
            await events.wait("/admin connect", 2)
            assert (socket.id, admin.id) != first_ids
            assert await admin.emit_with_ack("whoami") == "/admin"
            assert await socket.emit_with_ack("echo", b"again") == b"again"

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_restarted_server_gets_the_offline_buffer(make_server: Any, kind: str, mode: str) -> None:
    server: ServerProcess = make_server(kind)

    async def main() -> None:
        events = Recorder()
        async with Manager(server.url, transports=TRANSPORTS[mode], **FAST) as manager:
            socket, other = manager.socket("/"), manager.socket("/other")
            watch(manager, events, socket, other)
            await socket.wait_connected()
            await other.wait_connected()
            if mode == "upgrade":
                await until(lambda: manager.transport == "websocket")
            await server.astop()
            reason = "transport error" if mode == "polling" else "transport close"
            assert await events.wait("/ disconnect") == [(reason,)]
            assert await events.wait("/other disconnect") == [(reason,)]
            # Emits while the server is down wait in order; volatile ones are dropped.
            for n in range(5):
                await socket.emit("record", "offline", n)
                await other.volatile.emit("record", "offline", "volatile")
                await other.emit("record", "offline-other", n)
            answer: list[Any] = []
            async with trio.open_nursery() as nursery:
                async def acked() -> None:
                    answer.append(await socket.emit_with_ack("record", "offline", "acked"))

                nursery.start_soon(acked)
                await events.wait("reconnect_error", 2)
                assert ("/ connect_error",) not in events.items  # only after an attempt
                await server.astart()
                await events.wait("reconnect")
            assert answer == [True]
            assert not socket._send_buffer and not other._send_buffer
            assert await socket.emit_with_ack("records?", "offline") == [0, 1, 2, 3, 4, "acked"]
            assert await other.emit_with_ack("records?", "offline-other") == [0, 1, 2, 3, 4]
            attempts = [a for (a,) in events.of("reconnect_attempt")]
            assert attempts == list(range(1, len(attempts) + 1)) and len(attempts) >= 3
            assert len(events.of("reconnect_error")) == len(attempts) - 1
            assert events.of("reconnect") == [(len(attempts),)]
            messages = {e.message for (e,) in events.of("/ connect_error")}
            assert messages <= {"xhr poll error", "websocket error"} and messages

    run(main, limit=30)


@pytest.mark.parametrize("kind", KINDS)
def test_reconnection_gives_up_after_the_attempts(make_server: Any, kind: str) -> None:
    server: ServerProcess = make_server(kind)

    async def main() -> None:
        events = Recorder()
        async with Manager(server.url, reconnection_attempts=2, **FAST) as manager:
            socket = manager.socket("/")
            watch(manager, events, socket)
            await socket.wait_connected()
            await server.astop()
            await events.wait("reconnect_failed")
            await socket.wait()
            assert events.of("reconnect_attempt") == [(1,), (2,)]
            assert len(events.of("reconnect_error")) == 2
            with pytest.raises(ConnectionError):
                await socket.wait_connected()

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_silent_server_is_a_ping_timeout(make_server: Any, kind: str, mode: str) -> None:
    # A 0.8 s window, so that a busy machine does not time out before the pause.
    server: ServerProcess = make_server(kind, pingInterval=400, pingTimeout=400)

    async def main() -> None:
        events = Recorder()
        async with Manager(server.url, transports=TRANSPORTS[mode], connect_timeout=0.5,
                           **FAST) as manager:
            socket = manager.socket("/")
            watch(manager, events, socket)
            await socket.wait_connected()
            if mode == "upgrade":
                await until(lambda: manager.transport == "websocket")
            # Pings keep it alive well past ping_interval + ping_timeout.
            await trio.sleep(1.6)
            assert socket.connected
            server.pause()
            try:
                assert await events.wait("/ disconnect") == [("ping timeout",)]
                # Attempts meanwhile time out (the paused server never answers).
                (error,) = (await events.wait("/ connect_error"))[0]
                assert error.message == "timeout"
            finally:
                server.resume()
            await events.wait("reconnect")
            await events.wait("/ connect", 2)
            assert await socket.emit_with_ack("echo", 1) == 1

    run(main, limit=30)


@pytest.mark.parametrize("kind", KINDS)
def test_connect_timeout(make_server: Any, kind: str) -> None:
    server: ServerProcess = make_server(kind)

    async def main() -> None:
        server.pause()
        try:
            with pytest.raises(ConnectError) as caught:
                async with connect(server.url, connect_timeout=0.3, reconnection=False):
                    pass
        finally:
            server.resume()
        assert caught.value.message == "timeout"
        async with connect(server.url, connect_timeout=5) as socket:
            assert socket.connected

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_connect_again_after_a_deliberate_disconnect(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url

    async def main() -> None:
        events = Recorder()
        async with Manager(url, transports=TRANSPORTS[mode], **FAST) as manager:
            socket = manager.socket("/")
            watch(manager, events, socket)
            await socket.wait_connected()
            first = socket.id
            await socket.disconnect()
            # At once, while the old connection is still closing, and again after it closed.
            socket.connect()
            await socket.wait_connected()
            assert socket.id != first
            assert await socket.emit_with_ack("echo", 1) == 1
            await socket.disconnect()
            await events.wait("close", 2)
            assert not manager.is_open
            socket.connect()
            await socket.wait_connected()
            assert await socket.emit_with_ack("echo", 2) == 2
            assert events.of("close") == [("forced close",), ("forced close",)]
            assert events.of("/ disconnect") == [("io client disconnect",)] * 2
            assert "reconnect_attempt" not in events.names()

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_retry_queue_waits_for_the_restarted_server(make_server: Any, kind: str) -> None:
    server: ServerProcess = make_server(kind)

    async def main() -> None:
        events = Recorder()
        async with Manager(server.url, transports=("websocket",), **FAST) as manager:
            socket = manager.socket("/", retries=3, ack_timeout=1)
            watch(manager, events, socket)
            await socket.wait_connected()
            await server.astop()
            await events.wait("/ disconnect")
            for n in range(3):
                await socket.emit("record", "queued", n)
            flaky = socket.emit_with_ack("flaky", "queued")
            await events.wait("reconnect_error")
            await server.astart()
            # Each queued packet reaches the new server once, in order, when it is acked.
            assert await flaky == 2
            assert await socket.emit_with_ack("records?", "queued") == [0, 1, 2]
            assert await socket.emit_with_ack("attempts?", "queued") == 2

    run(main)
