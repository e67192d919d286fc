"""The client against our server and the official Node server, over each transport mode:
connect, emit, acks both ways, binary, namespaces, auth, connect errors, path/query/headers,
offline buffering, volatile, ack timeouts and retries."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

from socketio_core import ConnectError, Manager, connect
from tests.client.conftest import KINDS, TRANSPORTS, Recorder, ServerProcess, run

BLOB = {"deep": [b"\x00\xff", {"more": b"bin"}], "text": "t", "n": [1, 2.5, None, True]}


async def wait_stopped(manager: Manager) -> None:
    """Until the manager neither is connected nor tries to connect."""
    with trio.fail_after(5):
        while manager.running:
            await trio.sleep(0.01)


async def wait_for_websocket(manager: Manager) -> None:
    while manager.transport != "websocket":
        await trio.sleep(0.01)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_emit_acks_and_binary(servers: dict[str, ServerProcess], kind: str, mode: str) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with connect(url, transports=TRANSPORTS[mode]) as socket:
            assert socket.connected and socket.id
            incoming: list[tuple[Any, ...]] = []
            outgoing: list[tuple[Any, ...]] = []
            socket.on_any(lambda *a: incoming.append(a))
            socket.on_any_outgoing(lambda *a: outgoing.append(a))
            # An ack answered by the server with binary anywhere in the arguments.
            assert await socket.emit_with_ack("echo", BLOB, b"\x01") == (BLOB, b"\x01")
            assert await socket.emit_with_ack("echo", "one") == "one"
            # A plain emit the server answers with an event carrying binary.
            echoed = trio.Event()
            socket.on("echo", lambda *args: echoed.set())
            await socket.emit("echo", [b"\x02"], "x")
            await echoed.wait()
            binary = trio.Event()
            received: list[Any] = []
            socket.on("binary-from-server", lambda data: (received.append(data), binary.set()))
            await socket.emit("send-binary")
            await binary.wait()
            assert received == [{"x": b"\x07\x08", "nested": [b"\x00"]}]
            # The server's ack request is answered with the handler's return value.
            socket.on("ask", lambda n, blob: (n * 2, blob))
            answered = trio.Event()
            answers: list[Any] = []
            socket.on("answered", lambda *a: (answers.extend(a), answered.set()))
            await socket.emit("please-ask", 21, b"\x09")
            await answered.wait()
            assert answers == [42, b"\x09"]
            assert ("echo", [b"\x02"], "x") in incoming
            assert ("binary-from-server", {"x": b"\x07\x08", "nested": [b"\x00"]}) in incoming
            assert outgoing[:2] == [("echo", BLOB, b"\x01"), ("echo", "one")]
            expected = "polling" if mode == "polling" else "websocket"
            if mode == "upgrade":
                await wait_for_websocket(socket.manager)
            assert socket.manager.transport == expected
            assert await socket.emit_with_ack("transport?") == expected

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_namespaces_share_one_connection(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with Manager(url, transports=TRANSPORTS[mode]) as manager:
            main_ns = manager.socket("/")
            other = manager.socket("/other")
            admin = manager.socket("/admin", auth={"token": "secret"})
            for socket in (main_ns, other, admin):
                await socket.wait_connected()
            assert manager.socket("/other") is other
            names = [await s.emit_with_ack("whoami") for s in (main_ns, other, admin)]
            assert names == ["/", "/other", "/admin"]
            engine_ids = {await s.emit_with_ack("engine-id?") for s in (main_ns, other, admin)}
            assert engine_ids == {manager.engine.sid if manager.engine else None}
            assert len({main_ns.id, other.id, admin.id}) == 3
            # Leaving one namespace keeps the others and the connection.
            events = Recorder()
            other.on("disconnect", events("disconnect"))
            await other.disconnect()
            assert not other.connected
            assert await events.wait("disconnect") == [("io client disconnect",)]
            assert await admin.emit_with_ack("echo", b"still") == b"still"
            assert manager.is_open

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_connect_error_carries_message_and_data(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url

    async def main() -> None:
        seen: list[ConnectError] = []
        with pytest.raises(ConnectError) as caught:
            async with connect(url + "/admin", auth={"token": "wrong"},
                               transports=TRANSPORTS[mode]):
                pass
        assert (caught.value.message, caught.value.data) == ("not authorized", {"code": 42})
        # Through the manager: the event, and no reconnection for a refused namespace.
        async with Manager(url, transports=TRANSPORTS[mode], **_fast()) as manager:
            socket = manager.socket("/admin", auth={"token": "wrong"})
            socket.on("connect_error", seen.append)
            await socket.wait()
            assert not socket.active and not socket.connected
            # The manager stopped for good (no other socket was active): nothing can retry;
            # once every task waits, every connect_error fired has reached its handler.
            await wait_stopped(manager)
            await trio.testing.wait_all_tasks_blocked()
            assert [(e.message, e.data) for e in seen] == [("not authorized", {"code": 42})]

    run(main)


def _fast() -> dict[str, Any]:
    return {"reconnection_delay": 0.05, "reconnection_delay_max": 0.2}


@pytest.mark.parametrize("kind", KINDS)
def test_auth_dict_and_callables(servers: dict[str, ServerProcess], kind: str) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with connect(url + "/admin", auth={"token": "secret", "n": 1}) as socket:
            assert await socket.emit_with_ack("auth?") == {"token": "secret", "n": 1}
        calls: list[int] = []

        def sync_auth() -> dict[str, Any]:
            calls.append(1)
            return {"token": "secret", "call": len(calls)}

        async def async_auth() -> dict[str, Any]:
            await trio.sleep(0.01)
            return {"token": "secret", "async": True}

        async with connect(url + "/admin", auth=sync_auth, **_fast()) as socket:
            assert await socket.emit_with_ack("auth?") == {"token": "secret", "call": 1}
            # The callable is asked again when the socket reconnects.
            reconnected = trio.Event()
            socket.manager.on("reconnect", lambda attempt: reconnected.set())
            await socket.emit("drop-transport")
            await reconnected.wait()
            await socket.wait_connected()
            assert await socket.emit_with_ack("auth?") == {"token": "secret", "call": 2}
        async with connect(url + "/admin", auth=async_auth) as socket:
            assert await socket.emit_with_ack("auth?") == {"token": "secret", "async": True}

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_path_query_and_headers(make_server: Any, kind: str, mode: str) -> None:
    server = make_server(kind, path="/custom-path")

    async def main() -> None:
        # The default path is not served: ours answers 404, Node never answers (the timeout).
        with pytest.raises(ConnectError) as caught:
            async with connect(server.url, transports=TRANSPORTS[mode], reconnection=False,
                               connect_timeout=1.0):
                pass
        refused = "websocket error" if mode == "websocket" else "xhr poll error"
        assert caught.value.message == ("timeout" if kind == "node" else refused)
        async with connect(server.url + "?custom=from-url", path="/custom-path",
                           transports=TRANSPORTS[mode]) as socket:
            assert await socket.emit_with_ack("handshake?") == {"query": "from-url",
                                                                "header": None}
        async with connect(server.url, path="/custom-path/", query={"custom": "q"},
                           headers={"X-Custom": "h"}, transports=TRANSPORTS[mode]) as socket:
            assert await socket.emit_with_ack("handshake?") == {"query": "q", "header": "h"}
            if mode == "upgrade":
                await wait_for_websocket(socket.manager)
                assert await socket.emit_with_ack("transport?") == "websocket"

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_emits_before_connecting_are_buffered_in_order(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url
    key = f"buffer-{kind}-{mode}"

    async def main() -> None:
        async with connect(url, wait=False, transports=TRANSPORTS[mode]) as socket:
            assert not socket.connected
            for n in range(5):
                await socket.emit("record", key, n)
                await socket.volatile.emit("record", key, f"volatile {n}")
            first = socket.emit_with_ack("record", key, "acked")
            await socket.wait_connected()
            assert await first is True
            # Volatile emits while connected are sent.
            await socket.volatile.emit("record", key, "volatile connected")
            assert await socket.emit_with_ack("records?", key) == [
                0, 1, 2, 3, 4, "acked", "volatile connected"]

    run(main)


class _SlowUpgrade(trio.abc.Stream):
    """A TCP stream that holds a WebSocket handshake back a little, so that the client surely
    sends on polling while its upgrade is under way."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self._stream = stream

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if b"transport=websocket" in bytes(data[:300]):
            await trio.sleep(0.6)
        await self._stream.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self._stream.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        return await self._stream.receive_some(max_bytes)

    async def aclose(self) -> None:
        await self._stream.aclose()


async def slow_websocket_handshakes(host: str, port: int, tls: bool) -> trio.abc.Stream:
    return _SlowUpgrade(await trio.open_tcp_stream(host, port))


@pytest.mark.parametrize("kind", KINDS)
def test_messages_during_the_upgrade_keep_their_order(
    servers: dict[str, ServerProcess], kind: str
) -> None:
    url = servers[kind].url
    key = f"upgrade-order-{kind}"

    async def main() -> None:
        async with connect(url, stream_factory=slow_websocket_handshakes) as socket:
            transports: set[str | None] = set()
            for n in range(200):
                transports.add(socket.manager.transport)
                await socket.emit("record", key, n)
                if n % 20 == 0:
                    await trio.sleep(0.005)
            await wait_for_websocket(socket.manager)
            assert await socket.emit_with_ack("records?", key) == list(range(200))
            assert "polling" in transports

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_ack_timeouts(servers: dict[str, ServerProcess], kind: str, mode: str) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with connect(url, transports=TRANSPORTS[mode], ack_timeout=0.2) as socket:
            with pytest.raises(TimeoutError, match="operation has timed out"):
                await socket.timeout(0.1).emit_with_ack("never-ack")
            with pytest.raises(TimeoutError, match="operation has timed out"):
                await socket.emit_with_ack("never-ack")
            with pytest.raises(TimeoutError, match="operation has timed out"):
                await socket.emit_with_ack("never-ack", timeout=0.05)
            # The connection is fine afterwards.
            assert await socket.timeout(5).emit_with_ack("echo", 1) == 1

    run(main)


@pytest.mark.parametrize("mode", TRANSPORTS)
@pytest.mark.parametrize("kind", KINDS)
def test_retries_resend_until_acknowledged(
    servers: dict[str, ServerProcess], kind: str, mode: str
) -> None:
    url = servers[kind].url
    key = f"retries-{kind}-{mode}"

    async def main() -> None:
        async with connect(url, transports=TRANSPORTS[mode], retries=2,
                           ack_timeout=0.3) as socket:
            # The server acks "flaky" from its second delivery on.
            assert await socket.emit_with_ack("flaky", key) == 2
            assert await socket.emit_with_ack("attempts?", key) == 2
            # Queued packets go one at a time, in order, each delivered once when acked.
            for n in range(5):
                await socket.emit("record", key, n)
            assert await socket.emit_with_ack("records?", key) == [0, 1, 2, 3, 4]
            # Never acked: tried 1 + retries times, then the error.
            with pytest.raises(TimeoutError, match="operation has timed out"):
                await socket.emit_with_ack("never-ack")

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_ack_handlers_and_failing_auth(servers: dict[str, ServerProcess], kind: str) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with connect(url) as socket:
            events = Recorder()

            @socket.on("ask")
            async def answer_later(n: int, *, ack: Any) -> None:
                await trio.sleep(0.01)
                ack("later", n)
                ack("ignored: an ack is answered once")

            socket.on("answered", events("answered"))
            await socket.emit("please-ask", 5)
            assert await events.wait("answered") == [("later", 5)]
            with pytest.raises(ValueError, match="reserved"):
                await socket.emit("connect")
        with pytest.raises(ConnectionError, match="closed"):
            await socket.emit("echo")
        with pytest.raises(ConnectionError, match="closed"):
            await socket.emit_with_ack("echo")

        def broken_auth() -> dict[str, Any]:
            raise RuntimeError("no token today")

        with pytest.raises(ConnectError, match="auth failed: no token today"):
            async with connect(url + "/admin", auth=broken_auth, reconnection=False):
                pass

    run(main)


@pytest.mark.parametrize("kind", KINDS)
def test_manual_connect_and_cancellation(servers: dict[str, ServerProcess], kind: str) -> None:
    url = servers[kind].url

    async def main() -> None:
        async with Manager(url, auto_connect=False) as manager:
            socket = manager.socket("/")
            assert not manager.running  # nothing started connecting
            assert not socket.connected and not manager.is_open
            socket.connect()
            await socket.wait_connected()
            assert await socket.emit_with_ack("echo", "manual") == "manual"
        # Cancelling the block closes the manager and its tasks at once.
        with trio.move_on_after(0.2) as scope:
            async with connect(url) as socket:
                await trio.sleep_forever()
        assert scope.cancelled_caught and not socket.connected

    run(main)
