"""The server-wide timer (``engineio_core._timers``): alarms ring at their time, in their order,
and the heap keeps no entry of an alarm set elsewhere (a closed session's) for long."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import trio
import trio.testing

from engineio_core import _timers
from engineio_core._timers import Alarm, Timers


class Recorded(Alarm):
    __slots__ = ("name", "rung")

    def __init__(self, name: str, rung: list[tuple[str, float]]) -> None:
        super().__init__()
        self.name = name
        self.rung = rung

    def ring(self) -> None:
        self.rung.append((self.name, trio.current_time()))


def _run_with_timers(body: Callable[[Timers, trio.testing.MockClock], Awaitable[None]]) -> None:
    async def main() -> None:
        clock = trio.lowlevel.current_clock()
        assert isinstance(clock, trio.testing.MockClock)
        with trio.fail_after(10_000):  # the mock clock's seconds
            async with trio.open_nursery() as nursery:
                def spawn(fn: Callable[[], Awaitable[object]]) -> bool:
                    nursery.start_soon(fn)
                    return True

                await body(Timers(spawn), clock)
                nursery.cancel_scope.cancel()  # the timer's task sleeps until woken

    trio.run(main, clock=trio.testing.MockClock())


def test_alarms_ring_at_their_latest_time_in_order() -> None:
    rung: list[tuple[str, float]] = []

    async def body(timers: Timers, clock: trio.testing.MockClock) -> None:
        start = trio.current_time()
        late, soon, moved = (Recorded(n, rung) for n in ("late", "soon", "moved"))
        timers.set(late, start + 30)
        timers.set(soon, start + 10)
        timers.set(moved, start + 5)
        timers.set(moved, start + 20)  # its entry at 5 is void
        for _ in range(4):
            clock.jump(10)
            await trio.testing.wait_all_tasks_blocked()
        assert rung == [("soon", start + 10), ("moved", start + 20), ("late", start + 30)]

    _run_with_timers(body)


def test_the_heap_keeps_no_void_entry_for_long() -> None:
    # A session's alarm is set to None when it closes, usually long before its time (its next
    # ping, 25 s on): under churn the heap held an entry of every session closed in the last
    # 25 s (thousands of small objects, which fragmented the allocator's arenas).
    rung: list[tuple[str, float]] = []

    async def body(timers: Timers, clock: trio.testing.MockClock) -> None:
        start = trio.current_time()
        kept = Recorded("kept", rung)
        timers.set(kept, start + 100)
        closed = 4 * _timers._VOID_ENTRIES
        for i in range(closed):
            alarm = Recorded(f"closed {i}", rung)
            timers.set(alarm, start + 25)
            if i % 2:
                timers.set(alarm, start + 20)  # moved earlier first: two entries, one void
            timers.set(alarm, None)  # its session closed
        back = Recorded("back", rung)
        timers.set(back, start + 50)
        timers.set(back, start + 60)
        timers.set(back, start + 50)  # back to a time it had: two entries look live
        assert len(timers._heap) <= 3 + _timers._VOID_ENTRIES < closed
        clock.jump(100)
        await trio.testing.wait_all_tasks_blocked()
        assert rung == [("back", start + 100), ("kept", start + 100)] or rung == [
            ("kept", start + 100), ("back", start + 100)]

    _run_with_timers(body)
