"""The soak scenarios of issue 17, each run against a live ``ServerProcess`` with raw sockets on
loopback. Every wait is bounded; each returns its figures as a dict (no judgement: the CI tests
and the table decide what they mean).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from .procs import HealthClient, ServerProcess, latency_summary
from .wire import (
    Gone,
    PollingClient,
    WSClient,
    open_conn,
    read_response,
    request_bytes,
    sio_event,
    ws_upgrade_request,
)

__all__ = ["burst", "churn", "flood", "resets", "slow_reader", "upgrade_order"]

_ERRORS = (Gone, trio.TooSlowError, OSError)


async def _bounded(n: int, concurrency: int, unit: Callable[[int], Awaitable[None]],
                   timeout: float) -> int:
    """Run ``unit(i)`` for ``i`` in ``range(n)``, ``concurrency`` at a time, each under
    ``timeout``; returns how many failed (raised or timed out)."""
    failed = 0
    next_i = 0

    async def worker() -> None:
        nonlocal failed, next_i
        while next_i < n:
            i = next_i
            next_i += 1
            try:
                with trio.fail_after(timeout):
                    await unit(i)
            except _ERRORS:
                failed += 1

    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, n)):
            nursery.start_soon(worker)
    return failed


async def ws_ack(client: WSClient, message_for: Callable[[int], str], ack_id: int) -> str:
    """Send ``message_for(ack_id)`` and return the ack's arguments (``43<id>[...]``)."""
    await client.send(message_for(ack_id))
    prefix = f"43{ack_id}["
    while True:
        message = await client.recv_text()
        if message.startswith(prefix):
            return message[len(prefix) - 1:]


async def ws_echo(client: WSClient, n: int = 1) -> None:
    answer = await ws_ack(client, lambda i: sio_event("echo", n, ack=i), n)
    if answer != f"[{n}]":
        raise Gone(f"echo answered {answer!r}")


async def ws_joined(port: int, room: str) -> WSClient:
    client = await WSClient.open(port)
    await client.sio_connect()
    await ws_ack(client, lambda i: sio_event("join", room, ack=i), 1)
    return client


async def polling_ack(client: PollingClient, message: str, ack_id: int) -> str:
    await client.post_ok(message)
    prefix = f"43{ack_id}["
    while True:
        for packet in await client.get():
            if packet.startswith(prefix):
                return packet[len(prefix) - 1:]


async def polling_echo(client: PollingClient, n: int = 1) -> None:
    answer = await polling_ack(client, sio_event("echo", n, ack=n), n)
    if answer != f"[{n}]":
        raise Gone(f"echo answered {answer!r}")


async def _upgrade(client: PollingClient) -> WSClient:
    ws = await WSClient.open(client.port, sid=client.sid)
    await ws.send("2probe")
    if (answer := await ws.recv_text()) != "3probe":
        raise Gone(f"probe answered {answer!r}")
    await ws.send("5")
    return ws


# Churn: one connect/disconnect cycle per call, the mode taken from the cycle's number.

async def _cycle_ws(port: int, reset: bool) -> None:
    client = await WSClient.open(port)
    await client.sio_connect()
    await ws_echo(client)
    if reset:
        client.conn.reset()
    else:
        await client.send("41")
        await client.close()


async def _cycle_polling(port: int, reset: bool) -> None:
    client = PollingClient(port)
    try:
        await client.handshake()
        await client.sio_connect()
        await polling_echo(client)
        if reset:
            # A GET parked, then the reset: the server reads the GET, then sees the connection
            # gone (Linux delivers what was sent before the RST).
            assert client.get_conn is not None
            await client.get_conn.send(request_bytes("GET", client.target()))
            client.reset()
            return
        await client.post_ok("41", "1")
    finally:
        await client.aclose()


async def _cycle_upgrade(port: int, reset: bool) -> None:
    client = PollingClient(port)
    try:
        await client.handshake()
        await client.sio_connect()
        ws = await _upgrade(client)
        await ws_echo(ws)
        if reset:
            ws.conn.reset()
            client.reset()
            return
        await ws.send("41")
        await ws.close()
    finally:
        await client.aclose()


def _churn_modes(port: int) -> list[Callable[[], Awaitable[None]]]:
    return [
        lambda: _cycle_ws(port, False),
        lambda: _cycle_ws(port, True),
        lambda: _cycle_polling(port, False),
        lambda: _cycle_polling(port, True),
        lambda: _cycle_upgrade(port, False),
        lambda: _cycle_upgrade(port, True),
    ]


async def _settled(server: ServerProcess, sessions: int = 0) -> dict[str, Any]:
    """The server's figures once its sessions closed and its connections stopped closing
    (a closing connection lingers for up to a second, longer on a loaded machine): its open
    fds unchanged for 2.4 s."""
    start = trio.current_time()
    await server.wait_sessions(sessions, 15.0)
    seen: list[int] = []
    while True:
        stats = await server.stats()
        seen.append(stats["fds"])
        if (len(seen) >= 13 and len(set(seen[-13:])) == 1) or trio.current_time() - start > 15:
            break
        await trio.sleep(0.2)
    stats["settle_s"] = trio.current_time() - start
    return stats


async def churn(server: ServerProcess, *, warmup: int, cycles: int,
                checkpoints: tuple[int, ...] = (), concurrency: int = 20,
                on_mark: Callable[[int], Awaitable[None]] | None = None) -> dict[str, Any]:
    """``warmup`` cycles, then ``cycles`` more (WebSocket, polling, upgrade; each clean and
    TCP-reset, in turn); the server's figures once settled after the warm-up, at each of
    ``checkpoints`` (cycles after the warm-up) and at the end. ``on_mark(cycles)`` is awaited
    at each of those points, once settled (a tracemalloc snapshot, say)."""
    modes = _churn_modes(server.port)
    done = 0
    failed = 0
    marks: list[dict[str, Any]] = []

    async def run(n: int) -> None:
        nonlocal done, failed
        start = done
        failed += await _bounded(n, concurrency, lambda i: modes[(start + i) % len(modes)](),
                                 timeout=20)
        done += n

    started = time.monotonic()
    await run(warmup)
    marks.append({"cycles": 0, **await _settled(server)})
    if on_mark is not None:
        await on_mark(0)
    for mark in sorted({*checkpoints, cycles}):
        await run(mark - (done - warmup))
        marks.append({"cycles": mark, **await _settled(server)})
        if on_mark is not None:
            await on_mark(mark)
    base, end = marks[0], marks[-1]
    result: dict[str, Any] = {
        "cycles": cycles, "warmup": warmup, "failed": failed, "marks": marks,
        "sessions_after": end["sessions"],
        "rss_growth_pct": 100.0 * (end["rss_kib"] - base["rss_kib"]) / base["rss_kib"],
        "fds_growth": end["fds"] - base["fds"],
        "tasks_growth": (None if base["tasks"] is None else end["tasks"] - base["tasks"]),
        "seconds": time.monotonic() - started,
    }
    return result


# Resets at each moment of a connection's life.

_HEAD_CUT = b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: 127.0.0.1\r\n"


async def _reset_mid_handshake(port: int) -> None:
    conn = await open_conn(port)
    await conn.send(_HEAD_CUT)
    conn.reset()


async def _reset_mid_ws_handshake(port: int) -> None:
    conn = await open_conn(port)
    await conn.send(ws_upgrade_request())
    conn.reset()


async def _reset_mid_post(port: int) -> None:
    client = PollingClient(port)
    await client.handshake()
    client.post_conn = await open_conn(port)
    head = request_bytes("POST", client.target(), [("Content-Type", "text/plain")])
    # Announce 1000 bytes, send 10.
    head = head.replace(b"Content-Length: 0", b"Content-Length: 1000")
    await client.post_conn.send(head + b"4" * 10)
    client.reset()


async def reset_during_probe(port: int, *, wait_probe_answer: bool) -> bool:
    """The issue's reproduction: a polling session with a GET parked, a WebSocket with its sid
    that sends ``2probe`` (and reads ``3probe`` when ``wait_probe_answer``), reset; then POST
    ``1``. Returns whether the session was still there (the POST answered ``ok``)."""
    client = PollingClient(port)
    try:
        await client.handshake()
        assert client.get_conn is not None
        await client.get_conn.send(request_bytes("GET", client.target()))
        conn = await open_conn(port)
        await conn.send(ws_upgrade_request(client.sid))
        if (await read_response(conn, head_only=True)).status != 101:
            raise Gone("probe refused")
        ws = WSClient(conn)
        await ws.send("2probe")
        if wait_probe_answer and (answer := await ws.recv_text()) != "3probe":
            raise Gone(f"probe answered {answer!r}")
        conn.reset()
        closed = await client.post("1")
        return closed.status == 200 and closed.body == b"ok"
    finally:
        await client.aclose()


async def resets(server: ServerProcess, *, each: int, concurrency: int = 20,
                 settle: float = 10.0, pin: bool = False) -> dict[str, Any]:
    """``each`` TCP resets at each moment, with a health client echoing throughout. Per
    moment: failures of our side, sessions still open ``settle`` seconds after (besides the
    health client's), polling sessions lost by a reset during their probe."""
    port = server.port
    health = HealthClient(port, pin=pin)
    start = time.monotonic()
    out: dict[str, Any] = {}
    try:
        lost = 0

        async def probe(i: int) -> None:
            nonlocal lost
            if not await reset_during_probe(port, wait_probe_answer=bool(i % 2)):
                lost += 1

        kinds: list[tuple[str, Callable[[int], Awaitable[None]]]] = [
            ("mid-handshake", lambda i: _reset_mid_handshake(port)),
            ("mid-WebSocket-handshake", lambda i: _reset_mid_ws_handshake(port)),
            ("mid-POST body", lambda i: _reset_mid_post(port)),
            ("during the probe", probe),
        ]
        for name, unit in kinds:
            # Sessions a kind before left behind are not counted again.
            before = (await server.stats())["sessions"]
            failed = await _bounded(each, concurrency, unit, timeout=20)
            left, waited = await server.wait_sessions(before, settle)
            out[name] = {"failed": failed, "left": max(0, left - before), "settle_s": waited}
        out["during the probe"]["lost"] = lost
    finally:
        end = time.monotonic()
        samples = health.stop()
    out["health"] = latency_summary(samples, start, end)
    out["left"] = sum(v["left"] for k, v in out.items() if k != "health")
    out["lost"] = lost
    return out


# Upgrade order: traffic both ways while a polling session upgrades.

async def _one_upgrade(port: int, messages: int) -> dict[str, int]:
    client = PollingClient(port)
    received: list[int] = []
    done: list[int] = []
    paused = trio.Event()
    half = messages // 2

    def take(packet: str) -> None:
        if packet.startswith("42["):
            event, *args = json.loads(packet[2:])
            if event == "seq":
                received.append(args[0])
            elif event == "seq-done":
                done.append(args[0])

    try:
        await client.handshake()
        await client.sio_connect()

        async def poller() -> None:
            while True:
                packets = await client.get()
                for packet in packets:
                    take(packet)
                if paused.is_set():
                    return  # the GET that the probe released (with a noop)

        async def sender() -> None:
            n = 0
            while n < half and not paused.is_set():
                batch = [sio_event("seq", k) for k in range(n, min(half, n + 3))]
                await client.post_ok(*batch)
                n += len(batch)
            sent_by_polling.append(n)

        sent_by_polling: list[int] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(poller)
            nursery.start_soon(sender)
            # Start the probe while both directions are busy.
            await trio.sleep(0)
            ws = await WSClient.open(port, sid=client.sid)
            await ws.send("2probe")
            if (answer := await ws.recv_text()) != "3probe":
                raise Gone(f"probe answered {answer!r}")
            paused.set()
        # Paused: the last GET came back, the last POST was answered; now complete it.
        await ws.send("5")
        n = sent_by_polling[0]
        while n < messages:
            batch = [sio_event("seq", k) for k in range(n, min(messages, n + 3))]
            await ws.send(*batch)
            n += len(batch)
        await ws.send(sio_event("seq-end"))
        while not done:
            take(await ws.recv_text())
        await ws.close()
    finally:
        await client.aclose()
    expected = list(range(messages))
    return {
        "lost": len(set(expected) - set(received)),
        "duplicated": len(received) - len(set(received)),
        "reordered": int(received != sorted(received)),
        "server_in_order": done[0] if done else -1,
    }


async def upgrade_order(server: ServerProcess, *, upgrades: int, messages: int = 40,
                        concurrency: int = 10) -> dict[str, Any]:
    """``upgrades`` polling sessions each sending ``messages`` numbered events while it
    upgrades (half before the probe, the rest on the WebSocket), the server echoing each:
    what was lost, duplicated or reordered on either side."""
    totals = {"lost": 0, "duplicated": 0, "reordered": 0, "server_out_of_order": 0}

    async def unit(i: int) -> None:
        result = await _one_upgrade(server.port, messages)
        for key in ("lost", "duplicated", "reordered"):
            totals[key] += result[key]
        if result["server_in_order"] != messages:
            totals["server_out_of_order"] += 1

    failed = await _bounded(upgrades, concurrency, unit, timeout=30)
    left, _ = await server.wait_sessions(0, 10)
    return {"upgrades": upgrades, "failed": failed, "sessions_after": left, **totals}


# Slow readers.

async def _sample_rss(server: ServerProcess, peak: list[int], stop: trio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], server.rss_kib())
        with trio.move_on_after(0.005):
            await stop.wait()


async def _until_sessions_below(server: ServerProcess, count: int, timeout: float) -> float | None:
    """Seconds until fewer than ``count`` sessions are open, or ``None`` after ``timeout``."""
    start = trio.current_time()
    while trio.current_time() - start < timeout:
        if (await server.stats())["sessions"] < count:
            return trio.current_time() - start
        await trio.sleep(0.02)
    return None


async def _peak_run(server: ServerProcess, body: Callable[[], Awaitable[dict[str, Any]]]
                    ) -> dict[str, Any]:
    """Run ``body`` while tracking the server's peak RSS; adds ``rss_base_kib`` and
    ``peak_growth_mb`` to its figures."""
    base = server.rss_kib()
    hwm = server.reset_hwm()
    peak = [base]
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_sample_rss, server, peak, stop)
        try:
            result = await body()
        finally:
            stop.set()
    top = max(peak[0], server.hwm_kib()) if hwm else peak[0]
    result["rss_base_kib"] = base
    result["peak_growth_mb"] = (top - base) / 1024
    return result


async def slow_reader(server: ServerProcess, *, transport: str, count: int, size: int,
                      bound: float) -> dict[str, Any]:
    """A client in a room stops reading (WebSocket: never reads its socket; polling: never
    polls again) while ``count`` messages of ``size`` characters are broadcast to the room back
    to back: whether and when the server drops it, and its peak memory."""
    port = server.port
    room = f"slow-{transport}"
    if transport == "websocket":
        slow: WSClient | PollingClient = await ws_joined(port, room)
    else:
        slow = PollingClient(port)
        await slow.handshake()
        await slow.sio_connect()
        await polling_ack(slow, sio_event("join", room, ack=1), 1)
    trigger = await WSClient.open(port)
    await trigger.sio_connect()
    sessions = (await server.stats())["sessions"]

    async def body() -> dict[str, Any]:
        start = trio.current_time()
        with trio.fail_after(bound + 30):
            await ws_ack(trigger, lambda i: sio_event("burst", room, count, size, ack=i), 1)
        acked = trio.current_time() - start
        dropped = await _until_sessions_below(server, sessions, bound)
        return {"burst_acked_s": acked,
                "dropped_after_s": None if dropped is None else acked + dropped,
                "sent_mb": count * size / 1e6}

    try:
        return await _peak_run(server, body)
    finally:
        if isinstance(slow, WSClient):
            slow.conn.reset()
        else:
            slow.reset()
        await trigger.close()


async def burst(server: ServerProcess, *, count: int, size: int, bound: float) -> dict[str, Any]:
    """A client that stops reading and a fast reader in one room; ``count`` messages of
    ``size`` characters broadcast to it back to back: what the fast reader got and whether it
    stays, whether and when the slow one is dropped, the server's peak memory."""
    port = server.port
    room = "burst"
    slow = await ws_joined(port, room)
    fast = await ws_joined(port, room)
    trigger = await WSClient.open(port)
    await trigger.sio_connect()
    sessions = (await server.stats())["sessions"]
    got = 0
    fast_error: str | None = None

    async def body() -> dict[str, Any]:
        nonlocal got, fast_error
        start = trio.current_time()
        slow_dropped: float | None = None

        async def read_fast() -> None:
            nonlocal got, fast_error
            try:
                with trio.fail_after(bound):
                    while got < count:
                        message = await fast.recv_message()
                        if isinstance(message, str) and message.startswith('42["blob"'):
                            got += 1
            except (Gone, trio.TooSlowError) as exc:
                fast_error = str(exc) or type(exc).__name__

        async def watch_slow() -> None:
            nonlocal slow_dropped
            slow_dropped = await _until_sessions_below(server, sessions, bound)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_fast)
            nursery.start_soon(watch_slow)
            await trigger.send(sio_event("burst", room, count, size, ack=1))
        stays = False
        if fast_error is None:
            try:
                with trio.fail_after(10):
                    await ws_echo(fast, 7)
                stays = True
            except (Gone, trio.TooSlowError) as exc:
                fast_error = str(exc)
        return {"fast_received": got, "fast_stays": stays, "fast_error": fast_error,
                "slow_dropped_after_s": slow_dropped,
                "took_s": trio.current_time() - start, "sent_mb": count * size / 1e6}

    try:
        return await _peak_run(server, body)
    finally:
        slow.conn.reset()
        await fast.close()
        await trigger.close()


# A flood of connections while an established client echoes.

async def flood(server: ServerProcess, *, connections: int, pin: bool = False,
                bound: float = 120.0) -> dict[str, Any]:
    """``connections`` WebSockets opened at once (each to a joined Socket.IO socket) while the
    health client echoes every 20 ms: how many were served, at what rate, and the health
    client's round trips meanwhile."""
    port = server.port
    health = HealthClient(port, pin=pin)
    before = (await server.stats())["sessions"]
    clients: list[WSClient] = []
    failed = 0
    last = 0.0
    cpu = server.cpu_seconds()
    start = time.monotonic()
    try:
        async def one() -> None:
            nonlocal failed, last
            try:
                client = await WSClient.open(port)
                await client.sio_connect()
            except _ERRORS:
                failed += 1
                return
            clients.append(client)
            last = time.monotonic()

        with trio.move_on_after(bound):
            async with trio.open_nursery() as nursery:
                for _ in range(connections):
                    nursery.start_soon(one)
        end = time.monotonic()
        cpu = server.cpu_seconds() - cpu
        opened = (await server.stats())["sessions"] - before
    finally:
        samples = health.stop()
    served = len(clients)
    for client in clients:
        client.conn.reset()
    left, _ = await server.wait_sessions(0, 15)
    return {
        "connections": connections, "served": served, "failed": failed,
        "sessions_while_open": opened,
        "per_s": served / (last - start) if served and last > start else 0.0,
        "cpu_ms_per_accept": 1000 * cpu / served if served else None,
        "health": latency_summary(samples, start, end),
        "sessions_after": left,
    }
