"""Node parity of the server API: room lists wherever rooms are taken (``io.to(["a", "b"])``),
``socket.timeout(ms).emitWithAck``, and the conformance server's ``message`` handler acking
nothing, as the reference's."""

from __future__ import annotations

from typing import Any

import pytest
import trio

from conformance.server import socketio_server
from socketio_core import RemoteSocket, Server, Socket, connect
from socketio_core.client import ClientSocket
from socketio_core.handlers import Ack
from socketio_core.protocol import flatten_rooms
from tests.server.live_util import HOST, serving
from transports import connect_websocket, open_stream


def test_flatten_rooms() -> None:
    assert flatten_rooms() == ()
    assert flatten_rooms("a", ["b", "a"], ("c",), {"d"}) == ("a", "b", "c", "d")


async def _clients(port: int, names: list[str], nursery: trio.Nursery,
                   heard: dict[str, list[str]]) -> dict[str, ClientSocket]:
    clients = {}
    for name in names:
        client = await nursery.start(_client, port, name, heard)
        clients[name] = client
    return clients


async def _client(port: int, name: str, heard: dict[str, list[str]],
                  task_status: trio.TaskStatus[ClientSocket]) -> None:
    async with connect(f"http://{HOST}:{port}", auth={"name": name},
                       transports=("websocket",)) as client:
        client.on("news", lambda text: heard[name].append(text))
        task_status.started(client)
        await trio.sleep_forever()


def test_room_lists_everywhere_rooms_are_taken() -> None:
    sio = Server()
    sockets: dict[str, Socket] = {}

    @sio.on("connection")
    def on_connection(socket: Socket) -> None:
        sockets[socket.handshake.auth["name"]] = socket

    names = ["ada", "bob", "cyd", "dan"]

    async def main() -> None:
        heard: dict[str, list[str]] = {name: [] for name in names}

        async def told(text: str) -> set[str]:
            # Every client acks a probe sent after the news: then the news has arrived.
            await sio.timeout(5).emit_with_ack("probe")
            return {name for name in names if text in heard[name]}

        with trio.fail_after(20):
            async with serving(sio) as port, trio.open_nursery() as nursery:
                clients = await _clients(port, names, nursery, heard)
                for client in clients.values():
                    client.on("probe", lambda: True)
                sockets["ada"].join(["a", "both"])
                sockets["bob"].join("b", ["both"])
                sockets["cyd"].join(("c",))
                assert sockets["ada"].rooms == {sockets["ada"].id, "a", "both"}

                await sio.to(["a", "b"]).emit("news", "1")
                assert await told("1") == {"ada", "bob"}
                await sio.in_("a", ["c"]).emit("news", "2")
                assert await told("2") == {"ada", "cyd"}
                await sio.except_(["a", "b"]).emit("news", "3")
                assert await told("3") == {"cyd", "dan"}
                await sio.of("/").to(["c"]).except_("a").emit("news", "4")
                assert await told("4") == {"cyd"}
                await sockets["ada"].to(["both", "c"]).emit("news", "5")  # not ada herself
                assert await told("5") == {"bob", "cyd"}
                await sockets["dan"].except_(["both"]).emit("news", "6")
                assert await told("6") == {"cyd"}

                sio.sockets_join(["x", "y"])
                assert all({"x", "y"} <= s.rooms for s in sockets.values())
                sio.to("a").sockets_leave(["x", "y"])
                assert not {"x", "y"} & sockets["ada"].rooms
                assert {"x", "y"} <= sockets["bob"].rooms
                sio.sockets_leave("x", ["y"])
                assert not any({"x", "y"} & s.rooms for s in sockets.values())

                bob = sockets["bob"]
                remote = RemoteSocket(sio.of("/").adapter, bob.id, bob.handshake, bob.rooms, {})
                remote.join(["r1", "r2"])
                assert {"r1", "r2"} <= bob.rooms
                nursery.cancel_scope.cancel()

    trio.run(main)


def test_socket_timeout_emit_with_ack() -> None:
    sio = Server()
    results: list[Any] = []

    @sio.on("connection")
    def on_connection(socket: Socket) -> None:
        @socket.on("start")  # sent once the client's handlers are in place
        async def start() -> None:
            results.append(await socket.timeout(5).emit_with_ack("answer", 1))
            with pytest.raises(TimeoutError):
                await socket.timeout(0.2).emit_with_ack("never")
            results.append("timed out")

    async def main() -> None:
        with trio.fail_after(15):
            async with serving(sio) as port, connect(f"http://{HOST}:{port}") as client:
                client.on("answer", lambda n: n + 1)

                @client.on("never")
                def never(*, ack: Ack | None) -> None:
                    pass  # declares the ack and never calls it

                await client.emit("start")
                while len(results) < 2:
                    await trio.sleep(0.01)

    trio.run(main)
    assert results == [2, "timed out"]


def test_the_conformance_message_handler_never_acks() -> None:
    """As the reference test-suite server: ``message`` sends the arguments back and never
    answers an ack; ``message-with-ack`` answers with them."""

    async def main() -> list[str]:
        with trio.fail_after(15):
            async with serving(socketio_server()) as port:
                ws = await connect_websocket(await open_stream(HOST, port), HOST,
                                             "/socket.io/?EIO=4&transport=websocket")
                assert str(await ws.receive()).startswith("0{")  # Engine.IO open
                await ws.send("40")
                assert str(await ws.receive()).startswith("40{")  # Socket.IO connect
                assert await ws.receive() == '42["auth",{}]'
                await ws.send('421["message","hi"]')  # asks for an ack (id 1)
                await ws.send('422["message-with-ack","yo"]')
                received = []
                while not received or received[-1] != '432["yo"]':
                    message = await ws.receive()
                    if message != "2":  # pings
                        received.append(str(message))
                await ws.aclose()
                return received

    # Handlers run in arrival order: an ack for id 1 would have come before the one for 2.
    assert trio.run(main) == ['42["message-back","hi"]', '432["yo"]']
