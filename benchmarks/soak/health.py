"""An established client in a process of its own: an ``echo`` with an ack every ``--interval``
seconds on one WebSocket, whether the last one was answered or not (open loop), until its
stdin closes; then one JSON line on stdout.

Usage: ``python -m benchmarks.soak.health --port PORT [--interval 0.02]``

The line: ``{"samples": [[sent, rtt or null], ...], "disconnects": n, "ready": t}``, times
from ``time.monotonic()`` (the same clock in every process), an unanswered echo's rtt ``null``.
After a disconnect (the server crashed or dropped it) it connects again and goes on.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import trio

from .wire import Gone, WSClient, sio_event

__all__ = ["main"]

_GRACE = 5.0  # seconds, after the stop, for the answers to the echoes in flight


async def _run(port: int, interval: float) -> None:
    sent: dict[int, float] = {}
    samples: list[list[float | None]] = []
    disconnects = 0
    ready = trio.Event()
    ready_at = 0.0
    stop = trio.Event()

    async def watch_stdin() -> None:
        stream = trio.lowlevel.FdStream(os.dup(0))
        while await stream.receive_some(4096):
            pass
        stop.set()

    ids = itertools.count()

    async def session(client: WSClient) -> None:
        """Echo on ``client`` until told to stop; raises ``Gone`` (not inside an exception
        group) when the connection is lost."""
        lost: Gone | None = None

        async def reader() -> None:
            nonlocal lost
            try:
                while True:
                    message = await client.recv_text()
                    if message.startswith("43"):
                        body = message[2:]
                        ack_id = int(body[: body.index("[")])
                        at = sent.pop(ack_id, None)
                        if at is not None:
                            samples.append([at, time.monotonic() - at])
            except Gone as exc:
                lost = exc
                nursery.cancel_scope.cancel()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            try:
                while not stop.is_set():
                    now = time.monotonic()
                    ack_id = next(ids)
                    sent[ack_id] = now
                    await client.send(sio_event("echo", ack_id, ack=ack_id))
                    with trio.move_on_after(interval):
                        await stop.wait()
                # The echoes still in flight get their answers (a busy server's round trip)
                # before they are counted as unanswered.
                with trio.move_on_after(_GRACE):
                    while sent and lost is None:
                        await trio.sleep(interval)
            except Gone as exc:
                lost = exc
            nursery.cancel_scope.cancel()
        if lost is not None:
            raise lost

    async with trio.open_nursery() as nursery:
        nursery.start_soon(watch_stdin)
        while not stop.is_set():
            try:
                with trio.fail_after(30):
                    client = await WSClient.open(port)
                    await client.sio_connect()
            except (Gone, trio.TooSlowError):
                disconnects += 1
                await trio.sleep(0.2)
                continue
            if not ready.is_set():
                ready_at = time.monotonic()
                ready.set()
                print("ready", flush=True, file=sys.stderr)
            try:
                await session(client)
            except Gone:
                disconnects += 1
                # What was in flight on the lost connection will never be answered.
                for at in sent.values():
                    samples.append([at, None])
                sent.clear()
            await client.conn.aclose()
        nursery.cancel_scope.cancel()
    for at in sent.values():
        samples.append([at, None])
    print(json.dumps({"samples": sorted(samples, key=lambda s: s[0] or 0.0),
                      "disconnects": disconnects, "ready": ready_at}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.02)
    args = parser.parse_args()
    trio.run(_run, args.port, args.interval)


if __name__ == "__main__":
    main()
