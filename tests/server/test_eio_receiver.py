"""The Engine.IO server's message receiver, on one session without sockets: deliveries from
several tasks reach it one at a time and in order, even when it leaves something to await."""

from __future__ import annotations

from collections.abc import Awaitable

import pytest
import trio
import trio.testing

import engineio_core
from engineio_core import protocol as eio
from engineio_core._session import Handshake, Session


async def _nothing(engine: engineio_core.Socket) -> None:
    pass


def test_deliveries_from_two_tasks_never_overlap() -> None:
    async def main() -> None:
        server = engineio_core.Server(_nothing)
        core = eio.ServerSession("sid", eio.ServerConfig(), transport="websocket", now=0.0)
        session = Session(server, core, Handshake(headers={}, query={}, address="127.0.0.1",
                                                   url="/", secure=False))
        received: list[str | bytes] = []
        overlaps: list[str | bytes] = []
        busy = [False]

        async def slowly() -> None:
            await trio.sleep(0.01)
            busy[0] = False

        def receiver(message: str | bytes) -> Awaitable[None] | None:
            if busy[0]:
                overlaps.append(message)
            received.append(message)
            if isinstance(message, str) and message.endswith("slow"):
                busy[0] = True
                return slowly()
            return None

        await session.set_receiver(receiver)

        async def deliver(name: str) -> None:
            for n in range(6):
                suffix = "slow" if n % 2 == 0 else "fast"
                await session.deliver([eio.MessageReceived(f"{name}{n}{suffix}")])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(deliver, "a")
            nursery.start_soon(deliver, "b")
        assert overlaps == []
        assert len(received) == 12
        for name in "ab":
            mine = [m for m in received if isinstance(m, str) and m.startswith(name)]
            assert mine == [f"{name}{n}{'slow' if n % 2 == 0 else 'fast'}" for n in range(6)]
        assert not session.closed.is_set()

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_a_request_after_a_passed_deadline_finds_its_effect_first() -> None:
    # A poll that comes once the ping timeout has passed, before the session's task ran.
    from engineio_core._polling import _fire_due

    async def main() -> None:
        server = engineio_core.Server(_nothing, ping_interval=0.3, ping_timeout=0.2)
        core = eio.ServerSession("sid", server.config, transport="polling", now=0.0)
        session = Session(server, core, Handshake(headers={}, query={}, address="127.0.0.1",
                                                   url="/", secure=False))
        await _fire_due(session, 0.1)
        assert core.handle_timeout(now=0.3) == []  # the ping, on time
        await _fire_due(session, 0.45)
        assert not session.closed.is_set()
        await _fire_due(session, 0.51)
        assert session.closed.is_set()
        assert session.close_reason == "ping timeout"
        with pytest.raises(eio.ProtocolError):
            core.start_poll(now=0.51)

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
