"""Connection state recovery on our server, on the wire: raw Engine.IO long-polling requests,
as socket.io's own test/connection-state-recovery.ts drives Node's server, and more (expiry, a
deliberate disconnect, several recoveries in a row, the history's bound, forged ids, a client
back before the server noticed its old connection go)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

from socketio_core import Server, Socket
from socketio_core.adapter import InMemoryAdapter
from socketio_core.recovery import ConnectionStateRecovery, SessionAwareAdapter
from tests.server.live_util import HOST
from tests.server.live_util import serving as serving_on_a_port
from transports import HTTPConnection, open_stream

PATH = "/socket.io/?EIO=4&transport=polling"


def run(fn: Callable[[], Awaitable[None]], timeout: float = 20.0) -> None:
    async def bounded() -> None:
        with trio.fail_after(timeout):
            await fn()

    trio.run(bounded)


class Raw:
    """Engine.IO long-polling by hand, one request per connection."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.before: list[str] = []  # what came before the last CONNECT answer

    async def _request(self, method: str, target: str, body: bytes = b"") -> bytes:
        connection = HTTPConnection(await open_stream(HOST, self.port), HOST)
        try:
            response = await connection.request(method, target, [], body)
        finally:
            await connection.aclose()
        assert response.status == 200, response
        return response.body

    async def handshake(self) -> str:
        body = await self._request("GET", PATH)
        sid: str = json.loads(body[1:])["sid"]
        return sid

    async def push(self, sid: str, *packets: str) -> None:
        body = "\x1e".join("4" + packet for packet in packets).encode()
        assert await self._request("POST", f"{PATH}&sid={sid}", body) == b"ok"

    async def get(self, sid: str) -> bytes:
        """One poll, whatever it holds."""
        return await self._request("GET", f"{PATH}&sid={sid}")

    async def close(self, sid: str) -> None:
        """The client closes its Engine.IO session (packet 1): the server sees a transport
        close, without a Socket.IO DISCONNECT."""
        assert await self._request("POST", f"{PATH}&sid={sid}", b"1") == b"ok"

    async def poll(self, sid: str) -> list[str]:
        """The Socket.IO packets of one poll (the Engine.IO ``4`` taken off)."""
        body = (await self._request("GET", f"{PATH}&sid={sid}")).decode()
        packets = body.split("\x1e")
        assert all(p.startswith("4") for p in packets), packets
        return [p[1:] for p in packets]

    async def connect(self, payload: str = "") -> tuple[str, dict[str, Any]]:
        """A new Engine.IO session joining "/" with CONNECT ``payload``: (engine sid, answer)."""
        sid = await self.handshake()
        await self.push(sid, "0" + payload)
        packets = await self.poll(sid)
        assert packets[-1].startswith("0{"), packets
        self.before = packets[:-1]
        return sid, json.loads(packets[-1][1:])


def events(packets: list[str]) -> list[list[Any]]:
    assert all(p.startswith("2[") for p in packets), packets
    return [json.loads(p[1:]) for p in packets]


@asynccontextmanager
async def serving(server: Server) -> AsyncIterator[Raw]:
    # Polling sessions left open wait for a GET that never comes: don't wait long.
    server.engine.shutdown_timeout = 0.2
    async with serving_on_a_port(server) as port:
        yield Raw(port)


def recovering_server(**options: Any) -> tuple[Server, list[Socket]]:
    server = Server(connection_state_recovery=options or True)
    connected: list[Socket] = []
    server.on("connection", connected.append)
    return server, connected


async def init(raw: Raw, server: Server, connected: list[Socket]
               ) -> tuple[str, str, str, Socket]:
    """socket.io's ``init``: a client connected, one event received (its offset), then gone
    (a transport close): (socket id, pid, offset, the server-side socket)."""
    sid, answer = await raw.connect()
    assert set(answer) == {"sid", "pid"}
    await server.emit("hello")
    [hello] = events(await raw.poll(sid))
    assert hello[0] == "hello" and isinstance(hello[1], str)
    socket = connected[-1]
    await raw.close(sid)
    with trio.fail_after(5):
        while socket.connected:
            await trio.sleep(0.01)
    return answer["sid"], answer["pid"], hello[1], socket


def test_recovery_is_off_by_default_no_pid_no_offset() -> None:
    async def main() -> None:
        server = Server()
        assert isinstance(server.of("/").adapter, InMemoryAdapter)
        async with serving(server) as raw:
            sid, answer = await raw.connect('{"pid":"foo","offset":"bar"}')
            assert set(answer) == {"sid"} and answer["sid"] != "foo"
            await server.emit("hello", 1)
            assert await raw.poll(sid) == ['2["hello",1]']
            await server.aclose()

    run(main)


def test_restores_session_and_missed_packets_before_the_connect_answer() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        assert isinstance(server.of("/").adapter, SessionAwareAdapter)
        server.on("connection", lambda socket: socket.join("room1"))
        async with serving(server) as raw:
            sid, pid, offset, socket = await init(raw, server, connected)
            await server.emit("hello1")
            await server.to("room1").emit("hello2")
            await socket.emit("hello3")  # on the socket that left: kept for its client
            await server.to(sid).emit("hello4")
            await server.to("elsewhere").emit("not for it")
            await server.except_("room1").emit("not for it either")
            await server.volatile.emit("volatile: not kept")
            _, answer = await raw.connect(f'{{"pid":"{pid}","offset":"{offset}"}}')
            assert answer == {"sid": sid, "pid": pid}
            socket = connected[-1]
            assert socket.recovered and socket.id == sid and socket.pid == pid
            assert socket.rooms == {sid, "room1"}
            assert [e[:-1] for e in events(raw.before)] == [
                ["hello1"], ["hello2"], ["hello3"], ["hello4"]]
            await server.aclose()

    run(main)


def test_exact_packets_of_a_recovery() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        server.on("connection", lambda socket: socket.join("room1"))
        async with serving(server) as raw:
            sid, pid, offset, _ = await init(raw, server, connected)
            await server.emit("hello1")
            await server.to("room1").emit("hello2", {"b": 1})
            await server.to(sid).emit("hello3")
            engine_sid = await raw.handshake()
            await raw.push(engine_sid, f'0{{"pid":"{pid}","offset":"{offset}"}}')
            packets = await raw.poll(engine_sid)
            tag = offset.rpartition(".")[0]
            assert packets == [f'2["hello1","{tag}.2"]', f'2["hello2",{{"b":1}},"{tag}.3"]',
                               f'2["hello3","{tag}.4"]', f'0{{"sid":"{sid}","pid":"{pid}"}}']
            await server.aclose()

    run(main)


def test_restores_rooms_and_data_and_skips_middlewares_by_default() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        calls: list[str] = []

        @server.on("connection")
        def on_connection(socket: Socket) -> None:
            if not socket.recovered:
                socket.join("room1", "room2")
                socket.data["foo"] = "bar"

        async with serving(server) as raw:
            sid, pid, offset, _ = await init(raw, server, connected)
            server.use(lambda socket: calls.append(socket.id))
            _, answer = await raw.connect(f'{{"pid":"{pid}","offset":"{offset}"}}')
            socket = connected[-1]
            assert answer["sid"] == sid and socket.recovered
            assert socket.rooms == {sid, "room1", "room2"}
            assert socket.data == {"foo": "bar"}
            assert calls == []
            await server.aclose()

    run(main)


def test_runs_middlewares_upon_recovery_when_asked() -> None:
    async def main() -> None:
        server, connected = recovering_server(skip_middlewares=False)
        seen: list[tuple[bool, Any]] = []
        async with serving(server) as raw:
            sid, pid, offset, old = await init(raw, server, connected)
            old.data["k"] = 1
            server.use(lambda socket: seen.append((socket.recovered, socket.data)))
            _, answer = await raw.connect(f'{{"pid":"{pid}","offset":"{offset}"}}')
            assert answer["sid"] == sid and connected[-1].recovered
            assert seen == [(True, {"k": 1})]
            await server.aclose()

    run(main)


def test_packets_broadcast_while_a_middleware_runs_are_not_lost() -> None:
    async def main() -> None:
        server, connected = recovering_server(skip_middlewares=False)
        async with serving(server) as raw:
            sid, pid, offset, _ = await init(raw, server, connected)
            await server.emit("before")

            async def slow(socket: Socket) -> None:
                await server.emit("during")  # the socket is in no room yet
                await trio.sleep(0.05)

            server.use(slow)
            engine_sid = await raw.handshake()
            await raw.push(engine_sid, f'0{{"pid":"{pid}","offset":"{offset}"}}')
            packets = await raw.poll(engine_sid)
            while not packets[-1].startswith("0"):
                packets += await raw.poll(engine_sid)
            assert [e[0] for e in events(packets[:-1])] == ["before", "during"]
            assert json.loads(packets[-1][1:])["sid"] == sid
            await server.aclose()

    run(main)


def test_unknown_or_forged_sessions_give_a_new_socket() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        async with serving(server) as raw:
            _, answer = await raw.connect('{"pid":"foo","offset":"bar"}')
            assert answer["sid"] != "foo" and answer["pid"] != "bar"
            assert not connected[-1].recovered
            sid, pid, offset, _ = await init(raw, server, connected)
            # the socket id is public, the pid is not: neither another id nor a forged offset
            for payload in (f'{{"pid":"{sid}","offset":"{offset}"}}',
                            f'{{"pid":"{pid}","offset":"{offset}x"}}',
                            f'{{"pid":"{pid}","offset":1}}',
                            f'{{"pid":"{pid}"}}'):
                _, answer = await raw.connect(payload)
                assert answer["sid"] != sid and not connected[-1].recovered
            # the failed attempt with the right pid took the session: it is gone now
            _, answer = await raw.connect(f'{{"pid":"{pid}","offset":"{offset}"}}')
            assert answer["sid"] != sid
            await server.aclose()

    run(main)


def test_a_deliberate_disconnect_is_not_recoverable() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        async with serving(server) as raw:
            # the client leaves the namespace (DISCONNECT), then its transport closes
            sid, answer = await raw.connect()
            await server.emit("hi")
            [[_, offset]] = events(await raw.poll(sid))
            await raw.push(sid, "1")
            with trio.fail_after(5):
                while connected[-1].connected:
                    await trio.sleep(0.01)
            _, again = await raw.connect(f'{{"pid":"{answer["pid"]}","offset":"{offset}"}}')
            assert again["sid"] != answer["sid"]
            # the server disconnects the socket
            sid, answer = await raw.connect()
            await server.emit("hi")
            [[_, offset]] = events(await raw.poll(sid))
            await connected[-1].disconnect()
            assert await raw.poll(sid) == ["1"]
            _, again = await raw.connect(f'{{"pid":"{answer["pid"]}","offset":"{offset}"}}')
            assert again["sid"] != answer["sid"]
            await server.aclose()

    run(main)


def test_recovers_again_and_again_and_after_the_server_closes_the_transport() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        server.on("connection", lambda socket: socket.join("r"))
        async with serving(server) as raw:
            sid, pid, offset, _ = await init(raw, server, connected)
            got: list[str] = []
            for round_ in range(4):
                await server.to("r").emit("missed", round_)
                engine_sid = await raw.handshake()
                await raw.push(engine_sid, f'0{{"pid":"{pid}","offset":"{offset}"}}')
                packets = await raw.poll(engine_sid)
                assert json.loads(packets[-1][1:]) == {"sid": sid, "pid": pid}
                [[name, value, offset]] = events(packets[:-1])
                got.append(f"{name}{value}")
                socket = connected[-1]
                assert socket.recovered and socket.rooms == {sid, "r"}
                if round_ % 2:
                    socket.conn.close()  # the server restarts the transport: "forced close"
                    assert await raw.get(engine_sid) == b"1"
                else:
                    await raw.close(engine_sid)
                with trio.fail_after(5):
                    while socket.connected:
                        await trio.sleep(0.01)
            assert got == ["missed0", "missed1", "missed2", "missed3"]
            await server.aclose()

    run(main)


def test_back_before_the_server_noticed_the_old_connection_go() -> None:
    async def main() -> None:
        server, connected = recovering_server()
        reasons: list[str] = []
        server.on("connection", lambda socket: socket.on("disconnect", reasons.append))
        async with serving(server) as raw:
            old_engine, answer = await raw.connect()
            await server.emit("hi")
            [[_, offset]] = events(await raw.poll(old_engine))
            old = connected[-1]
            _, again = await raw.connect(f'{{"pid":"{answer["pid"]}","offset":"{offset}"}}')
            assert again == answer and connected[-1].recovered
            assert not old.connected
            with trio.fail_after(5):
                while not reasons:
                    await trio.sleep(0.01)
            assert reasons == ["transport close"]
            await server.aclose()

    run(main)


def test_expired_session_is_not_restored() -> None:
    async def main() -> None:
        server, connected = recovering_server(max_disconnection_duration=0.2)
        async with serving(server) as raw:
            sid, pid, offset, _ = await init(raw, server, connected)
            await trio.sleep(0.3)
            _, answer = await raw.connect(f'{{"pid":"{pid}","offset":"{offset}"}}')
            assert answer["sid"] != sid and not connected[-1].recovered
            await server.aclose()

    run(main)


def test_an_offset_trimmed_from_the_history_fails_cleanly() -> None:
    async def main() -> None:
        server, connected = recovering_server(max_packets=3)
        async with serving(server) as raw:
            sid, pid, offset, _ = await init(raw, server, connected)
            for index in range(4):  # the first missed packet goes past the bound
                await server.emit("missed", index)
            _, answer = await raw.connect(f'{{"pid":"{pid}","offset":"{offset}"}}')
            assert answer["sid"] != sid and answer["pid"] != pid
            assert not connected[-1].recovered
            await server.aclose()

    run(main)


@pytest.mark.parametrize("value", [{"max_disconnection_duration": -1}, {"nope": 1}, 3])
def test_bad_options(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        Server(connection_state_recovery=value)


def test_options_forms() -> None:
    assert Server().connection_state_recovery is None
    assert Server(connection_state_recovery=False).connection_state_recovery is None
    assert Server(connection_state_recovery={}).connection_state_recovery == (
        ConnectionStateRecovery())
    options = ConnectionStateRecovery(max_disconnection_duration=5, skip_middlewares=False)
    assert Server(connection_state_recovery=options).connection_state_recovery is options


def test_the_pid_of_another_namespace_restores_nothing() -> None:
    from socketio_core import Manager

    async def main() -> None:
        server = Server(connection_state_recovery=True)

        async def hello(socket: Socket) -> None:
            await socket.emit("hi")

        server.on("connection", hello)
        server.of("/other").on("connection", hello)
        async with serving(server) as raw:
            url = f"http://{HOST}:{raw.port}"
            async with Manager(url, reconnection=False, transports=("websocket",)) as manager:
                main_socket, other = manager.socket("/"), manager.socket("/other")
                for socket in (main_socket, other):
                    socket.on("hi", lambda *args: None)
                    await socket.wait_connected()
                with trio.fail_after(5):
                    while other._last_offset is None or main_socket._last_offset is None:
                        await trio.sleep(0.01)
                ids = (main_socket.id, other.id)
                main_socket._pid, main_socket._last_offset = other._pid, other._last_offset
                assert manager.engine is not None
                manager.engine.close()
                with trio.fail_after(5):
                    while main_socket.connected or other.connected:
                        await trio.sleep(0.01)
                main_socket.connect()
                await main_socket.wait_connected()
                assert not main_socket.recovered and main_socket.id not in ids
                other.connect()
                await other.wait_connected()
                assert other.recovered and other.id == ids[1]  # its session was left alone
            await server.aclose()

    run(main)


def test_an_adapter_that_keeps_no_sessions_is_warned_about(
        caplog: pytest.LogCaptureFixture) -> None:
    """As Node with an adapter without sessions: the pid is sent, nothing is recovered, and we
    say so at start."""

    async def main() -> None:
        server, connected = Server(adapter=InMemoryAdapter, connection_state_recovery=True), []
        server.on("connection", connected.append)
        async with serving(server) as raw:
            sid, answer = await raw.connect()
            assert set(answer) == {"sid", "pid"}
            await server.emit("hello")
            assert events(await raw.poll(sid)) == [["hello"]]  # no offset either
            await raw.close(sid)
            with trio.fail_after(5):
                while connected[-1].connected:
                    await trio.sleep(0.01)
            _, again = await raw.connect(f'{{"pid":"{answer["pid"]}","offset":"x"}}')
            assert again["sid"] != answer["sid"]
            await server.aclose()

    run(main)
    assert any("keeps no sessions" in r.getMessage() for r in caplog.records)
