"""Two orderings of a long-polling POST that Node has and ours keeps by yielding at the right
moments, each shown here with requests that arrive at once (one scheduler batch, whose order
trio draws at random: each case runs many times).

- A GET and a POST of ``"1"`` arriving together: Node reads a body in a later tick than the
  headers, so its GET is parked first and the close answers it with a noop (``6``).
- A POST of several messages to an application iterating its socket: Node runs the handlers
  before it answers ``ok``, so the poll sent after ``ok`` (here pipelined behind the POST)
  finds every reply at once.
"""

from __future__ import annotations

import json

import trio
import trio.testing

import engineio_core
from transports import handle_stream

PATH = "/engine.io/?EIO=4&transport=polling"
RUNS = 30


class Connection:
    """One HTTP connection to the server whose bytes the test puts in at will (no checkpoint
    between two connections' requests) and whose responses it reads whole."""

    def __init__(self, nursery: trio.Nursery, server: engineio_core.Server) -> None:
        self.incoming = trio.testing.MemoryReceiveStream()
        self.outgoing = trio.testing.MemorySendStream()
        self._buffer = b""
        stream = trio.StapledStream(self.outgoing, self.incoming)
        nursery.start_soon(lambda: handle_stream(stream, server.handle_request, None,
                                                 client=("127.0.0.1", 1), secure=False))

    def put(self, method: str, target: str, body: bytes = b"") -> None:
        self.incoming.put_data(
            f"{method} {target} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)

    async def response(self) -> tuple[int, bytes]:
        while b"\r\n\r\n" not in self._buffer:
            self._buffer += await self.outgoing.get_data()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        length = next(int(line.split(":")[1]) for line in lines
                      if line.lower().startswith("content-length:"))
        while len(rest) < length:
            rest += await self.outgoing.get_data()
        self._buffer = rest[length:]
        return int(lines[0].split()[1]), rest[:length]


async def _open(nursery: trio.Nursery, server: engineio_core.Server) -> str:
    first = Connection(nursery, server)
    first.put("GET", PATH)
    status, body = await first.response()
    assert status == 200
    sid: str = json.loads(body[1:])["sid"]
    return sid


def test_a_close_posted_with_a_poll_answers_the_parked_poll_with_a_noop() -> None:
    async def session_ended(socket: engineio_core.Socket) -> None:
        await socket.wait_closed()

    async def main() -> None:
        with trio.fail_after(60):
            for _ in range(RUNS):
                server = engineio_core.Server(session_ended)
                async with trio.open_nursery() as nursery:
                    server.use_nursery(nursery)
                    sid = await _open(nursery, server)
                    poll, post = Connection(nursery, server), Connection(nursery, server)
                    poll.put("GET", f"{PATH}&sid={sid}")
                    post.put("POST", f"{PATH}&sid={sid}", b"1")
                    assert await post.response() == (200, b"ok")
                    assert await poll.response() == (200, b"6")
                    nursery.cancel_scope.cancel()

    trio.run(main)


def test_the_poll_after_ok_finds_every_reply_of_an_iterating_application() -> None:
    async def echo(socket: engineio_core.Socket) -> None:
        async for message in socket:
            socket.send_nowait(message)

    async def main() -> None:
        with trio.fail_after(60):
            for _ in range(RUNS):
                server = engineio_core.Server(echo)
                async with trio.open_nursery() as nursery:
                    server.use_nursery(nursery)
                    sid = await _open(nursery, server)
                    connection = Connection(nursery, server)
                    # Pipelined: the GET is read the moment "ok" is written.
                    connection.put("POST", f"{PATH}&sid={sid}", b"4a\x1e4b\x1e4c")
                    connection.put("GET", f"{PATH}&sid={sid}")
                    assert await connection.response() == (200, b"ok")
                    assert await connection.response() == (200, b"4a\x1e4b\x1e4c")
                    nursery.cancel_scope.cancel()

    trio.run(main)

