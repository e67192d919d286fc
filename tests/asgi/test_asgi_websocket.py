"""ASGIWebSocket on its own, with an in-process ASGI ``send``: the ordering of writes."""

from __future__ import annotations

import trio
import trio.testing

from transports import WebSocketClosed
from transports.asgi import ASGIWebSocket


async def _never() -> dict[str, object]:
    await trio.sleep_forever()
    raise AssertionError


def test_concurrent_writers_keep_the_order_they_started_in() -> None:
    """The session driver and the reader finishing an upgrade both write frames; each batch
    must reach the wire whole and in the order the batches were taken from the core."""
    wire: list[object] = []

    async def send(event: dict[str, object]) -> None:
        await trio.sleep(0.01)  # an ASGI server that yields on every message
        wire.append(event.get("text", event.get("bytes")))

    async def main() -> None:
        websocket = ASGIWebSocket(_never, send, max_message_size=100)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(websocket.send_many, ["a1", b"a2", "a3"])
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(websocket.send_many, ["b1", "b2"])
            await trio.testing.wait_all_tasks_blocked()
            nursery.start_soon(websocket.send, "c1")
        assert wire == ["a1", b"a2", "a3", "b1", "b2", "c1"]

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_send_after_the_peer_left_raises_closed() -> None:
    async def send(event: dict[str, object]) -> None:
        raise OSError("gone")

    async def main() -> None:
        websocket = ASGIWebSocket(_never, send, max_message_size=100)
        for _ in range(2):
            try:
                await websocket.send_many(["x", "y"])
            except WebSocketClosed as exc:
                assert exc.code == 1006
            else:
                raise AssertionError("no WebSocketClosed")
        assert not websocket.is_open

    trio.run(main)


def test_a_message_over_the_limit_closes_1009_with_no_reason() -> None:
    """As Node's ws (and our own transport): the close carries the code alone, and the error is
    ours (``local``: the session then closes with ``transport error``)."""
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "websocket.receive", "text": "x" * 101}

    async def send(event: dict[str, object]) -> None:
        sent.append(event)

    async def main() -> None:
        websocket = ASGIWebSocket(receive, send, max_message_size=100)
        try:
            await websocket.receive()
        except WebSocketClosed as exc:
            assert (exc.code, exc.reason, exc.local) == (1009, "message too big", True)
        else:
            raise AssertionError("no WebSocketClosed")
        assert sent == [{"type": "websocket.close", "code": 1009, "reason": ""}]

    trio.run(main)
