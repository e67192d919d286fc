"""The dispatcher every socket uses: calls run one at a time, and a burst past its queue's
size neither loses a call nor stalls."""

from __future__ import annotations

import trio

from socketio_core.dispatch import Dispatcher


def test_a_burst_past_the_queue_runs_every_call() -> None:
    ran: list[int] = []

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                dispatcher = Dispatcher(nursery.start_soon, print, 8)

                for index in range(500):
                    async def call(index: int = index) -> None:
                        ran.append(index)
                    dispatcher.submit_nowait("e", call)
                while len(ran) < 500:
                    await trio.sleep(0)
                assert dispatcher.idle

    trio.run(main)
    assert sorted(ran) == list(range(500))


def test_submit_pushes_back_when_full_and_keeps_the_order() -> None:
    ran: list[int] = []

    async def main() -> None:
        with trio.fail_after(10):
            async with trio.open_nursery() as nursery:
                dispatcher = Dispatcher(nursery.start_soon, print, 4)
                waited = 0
                for index in range(100):
                    async def call(index: int = index) -> None:
                        ran.append(index)
                    rest = dispatcher.submit("e", call)
                    if rest is not None:
                        waited += 1
                        await rest
                assert waited > 0
                while not dispatcher.idle:
                    await trio.sleep(0)

    trio.run(main)
    assert ran == list(range(100))


def test_closed_takes_no_more_calls() -> None:
    ran: list[str] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            dispatcher = Dispatcher(nursery.start_soon, print, 4)

            async def last() -> None:
                ran.append("last")

            async def late() -> None:
                ran.append("late")

            dispatcher.submit_nowait("e", last)
            dispatcher.close()
            dispatcher.submit_nowait("e", late)
            assert dispatcher.submit("e", late) is None

    trio.run(main)
    assert ran == ["last"]
