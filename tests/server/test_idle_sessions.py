"""An idle session holds no task of its own: its driver runs only while it has work (a ping to
send, a deadline due, output the socket did not take), started by the server's timer."""

from __future__ import annotations

import trio
import trio.testing

import socketio_core
from benchmarks.soak.wire import WSClient

HOST = "127.0.0.1"


def _tasks() -> int:
    return trio.lowlevel.current_statistics().tasks_living


def test_an_idle_websocket_session_holds_only_its_reader_task() -> None:
    async def main() -> None:
        server = socketio_core.Server(ping_interval=0.3, ping_timeout=5.0)
        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, HOST, 0)
                port = listeners[0].socket.getsockname()[1]
                clients = [await WSClient.open(port)]
                await clients[0].sio_connect()
                await trio.testing.wait_all_tasks_blocked(cushion=0.02)
                one = _tasks()
                for _ in range(4):
                    client = await WSClient.open(port)
                    await client.sio_connect()
                    clients.append(client)
                await trio.testing.wait_all_tasks_blocked(cushion=0.02)
                # The connection's task (it reads the WebSocket) and nothing else per session.
                assert _tasks() - one == 4
                for client in clients:  # each driver ran for its ping, and ended
                    assert await client.recv_message() == "2"
                    await client.send("3")
                await trio.testing.wait_all_tasks_blocked(cushion=0.02)
                assert _tasks() - one == 4
                assert len(server.sockets) == 5
                for client in clients:  # and again at the next interval
                    assert await client.recv_message() == "2"
                for client in clients:
                    await client.close()
                await server.aclose()
                nursery.cancel_scope.cancel()

    trio.run(main)


def test_an_idle_session_that_stops_answering_pings_is_closed_by_its_timer() -> None:
    reasons: list[str] = []

    async def main() -> None:
        server = socketio_core.Server(ping_interval=0.1, ping_timeout=0.1)

        @server.on("disconnect")
        def gone(socket: socketio_core.Socket, reason: str) -> None:
            reasons.append(reason)

        with trio.fail_after(20):
            async with trio.open_nursery() as nursery:
                listeners = await nursery.start(server.serve, HOST, 0)
                port = listeners[0].socket.getsockname()[1]
                client = await WSClient.open(port)
                await client.sio_connect()
                while server.sockets:
                    await trio.sleep(0.02)
                await client.close()
                await server.aclose()
                nursery.cancel_scope.cancel()

    trio.run(main)
    assert reasons == ["ping timeout"]
