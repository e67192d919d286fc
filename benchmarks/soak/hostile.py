"""The hostile mix: known vectors, mutations of valid packets, random bytes, broken HTTP,
WebSocket protocol violations, pong floods, binary for unjoined namespaces, oversize messages
and slowloris connections, drawn from one seeded generator.

The plan (which units, with which inputs) is a pure function of the seed; the units then run
concurrently against the server. Each unit counts the packets it sent (a WebSocket message or
frame, a polling payload, an HTTP request) and ends with a sentinel echo, so that the server has
acted on everything before the unit closes.
"""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trio

from .procs import HealthClient, ServerProcess, latency_summary
from .wire import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_TEXT,
    PATH,
    Conn,
    Gone,
    PollingClient,
    WSClient,
    frame,
    open_conn,
    read_response,
    request_bytes,
    sio_event,
    ws_upgrade_request,
)

__all__ = ["KNOWN", "hostile_mix", "plan"]

_ERRORS = (Gone, trio.TooSlowError, OSError)

# Socket.IO-level vectors, each a list of messages sent in one write on a WebSocket connected
# to "/" (the CVEs and parser bugs of the reference's history, and the reproductions).
KNOWN: list[list[str | bytes]] = [
    ['451-["hello",{"_placeholder":true,"num":"splice"}]'],
    ['451-["hello",{"_placeholder":true,"num":"toString"}]'],
    ['451-["hello",{"_placeholder":true,"num":1}]', b"x"],
    ['451-["hello",{"_placeholder":true,"num":-1}]', b"x"],
    ['451-["hello",{"_placeholder":true,"num":0.5}]', b"x"],
    ['451-["hello",{"_placeholder":true,"num":"0"}]', b"x"],
    ['45999999999-["hello",{"_placeholder":true,"num":0}]'],
    ['4511-["hello"]'],
    ['45-1-["hello"]'],
    ['42[{"toString":"x"}]'],
    ["42[]"], ["42[1]"], ["42[null]"], ['42{"a":1}'],
    ['42["connect"]'], ['42["connect_error"]'], ['42["disconnect"]'],
    ['42["disconnecting"]'], ['42["newListener"]'], ['42["removeListener"]'],
    ["43[]"], ['42["a"]xyz'], ["431x[]"], ['47["a"]'], ["4"], ["42/admin"],
    ['451-["a",{"_placeholder":true,"num":0}]', "x"],
    [b"\x00\x01"],
    ['429007199254740993["a"]'], ['42["a",NaN]'],
    ['42["__proto__",{"__proto__":{"polluted":1}}]'],
    ['42["echo",{"__proto__":{"x":1},"constructor":{"prototype":{"y":2}}}]'],
    ['452-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', b"a",
     '42["interleaved"]'],
    # The reproductions.
    ["40/never,", "4x"],
    ['42["unknown_event"]', '42["echo",1]', "4x"],
    ['42["echo",' + "[" * 600 + "]" * 600 + "]"],
    ['42["echo",' + "[" * 5000 + "]" * 5000 + "]"],
    ['42["echo",' + '{"a":' * 3000 + "1" + "}" * 3000 + "]"],
    ["41", '42["echo",1]'],
    ["40", "40", "40"],
    ['40/admin,{"token":"wrong"}', '42/admin,["echo",1]'],
    ["0", "0"], ["1"], ["5"], ["6"], ["2probe"], ["3probe"], ["9"], [""], ["x"],
]

# Engine.IO polling bodies (text/plain), each POSTed to a fresh session.
POLLING_BODIES: list[bytes] = [
    b"bAAA*", b"bAAAAA", b"4a\x1e\x1e4b", b"\x1e4a", b"4a\x1e", b"", b"9", b"x",
    b"4a\x1e\xff\xfe", b"40\x1e40\x1e40", b"40\x1e4x", b'42["echo",1]\x1e4x',
    b"1\x1e40", b"5", b"2probe", b"bAQID", b"b", b"4" * 100_000,
    b"40\x1e" + b'42["echo",' + b"[" * 5000 + b"]" * 5000 + b"]",
]

TEMPLATES: list[str] = [
    '42["echo","hello",{"a":[1,2,3],"b":null}]',
    '421["echo",{"x":1.5,"y":"\\u00e9"}]',
    '42["join","room"]',
    "43[true]",
    '40/admin,{"token":"secret"}',
    '44{"message":"x"}',
    '451-["echo",{"_placeholder":true,"num":0}]',
    "41",
    "3",
    "2",
    '42/admin,7["echo",[[],{}]]',
]

_ALPHABET = '0123456789[]{}",:/-_\\ \x00\x1etrue nullabcxyz\u00e9\ud7ff\U0001f600\x7f'


def mutate(rng: random.Random, text: str) -> str:
    """``text`` with one to three random edits (replace, insert, delete, duplicate, cut)."""
    chars = list(text)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        at = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            chars[min(at, len(chars) - 1)] = rng.choice(_ALPHABET)
        elif op == 1:
            chars.insert(at, rng.choice(_ALPHABET))
        elif op == 2 and chars:
            del chars[min(at, len(chars) - 1)]
        elif op == 3:
            end = min(len(chars), at + rng.randint(1, 8))
            chars[at:at] = chars[at:end]
        else:
            chars = chars[:at]
    return "".join(chars)


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 120)))


def random_bytes(rng: random.Random, n: int | None = None) -> bytes:
    return rng.randbytes(rng.randint(0, 200) if n is None else n)


def broken_http(rng: random.Random) -> bytes:
    """A broken or hostile HTTP request (or plain noise)."""
    q = f"{PATH}?EIO=4&transport=polling"
    choices: list[Callable[[], bytes]] = [
        lambda: b"\r\n\r\n",
        lambda: b"GET\r\n\r\n",
        lambda: b"GET / HTTP/1.1\r\n\r\n",
        lambda: f"GET {q} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n".encode(),
        lambda: f"POST {q}&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".encode(),
        lambda: f"POST {q} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"
                .encode(),
        lambda: f"POST {q} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n"
                "\r\nhello".encode(),
        lambda: f"GET {q} HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n".encode(),
        lambda: f"GET {q} HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n".encode(),
        lambda: f"G\x00T {q} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        lambda: f"GET {q} HTTP/2.0\r\nHost: x\r\n\r\n".encode(),
        lambda: f"GET {q}\r\n\r\n".encode(),
        lambda: f"GET {q}&x={'a' * 20000} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
        lambda: (f"GET {q} HTTP/1.1\r\nHost: x\r\n"
                 + "".join(f"X-{i}: {i}\r\n" for i in range(300)) + "\r\n").encode(),
        lambda: f"GET {q} HTTP/1.1\r\nHost: x\r\nX: {'v' * 40000}\r\n\r\n".encode(),
        lambda: f"GET {q} HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n".encode(),
        lambda: f"GET {PATH}?EIO=4&transport=polling&é=\xff HTTP/1.1\r\nHost: x\r\n\r\n"
                .encode("latin-1"),
        lambda: request_bytes("POST", f"{q}&sid=garbage", body=b"4hello"),
        lambda: request_bytes("GET", f"{PATH}?EIO=3&transport=polling"),
        lambda: request_bytes("GET", f"{PATH}?EIO=5&transport=polling"),
        lambda: request_bytes("GET", f"{PATH}?EIO=abc&transport=polling"),
        lambda: request_bytes("GET", f"{PATH}?EIO=4&transport=flash"),
        lambda: request_bytes("GET", f"{PATH}?EIO=4&transport=polling&sid=%00%ff"),
        lambda: request_bytes("GET", f"{q}&j=constructor"),
        lambda: request_bytes("GET", f"{q}&j=-1"),
        lambda: request_bytes("GET", f"{q}&j=99999999999999999999"),
        lambda: request_bytes("PUT", q, body=b"x"),
        lambda: request_bytes("DELETE", q),
        lambda: request_bytes("OPTIONS", q, [("Origin", "http://evil"),
                                             ("Access-Control-Request-Headers", "x" * 1000)]),
        lambda: request_bytes("GET", f"{PATH}?EIO=4&transport=websocket",
                              [("Upgrade", "websocket"), ("Connection", "Upgrade")]),
        lambda: request_bytes("GET", f"{PATH}?EIO=4&transport=websocket",
                              [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Key", "short"), ("Sec-WebSocket-Version", "13")]),
        lambda: request_bytes("GET", f"{PATH}?EIO=4&transport=websocket",
                              [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                               ("Sec-WebSocket-Version", "8")]),
        lambda: request_bytes("GET", f"{PATH}?EIO=4&transport=polling",
                              [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                               ("Sec-WebSocket-Version", "13")]),
        lambda: request_bytes("POST", f"{q}&sid=x", [("Expect", "100-continue"),
                                                     ("Content-Length", "99999999999")]),
        lambda: request_bytes("GET", q) + b"garbage after a request\r\n\r\n",
        lambda: mutate(rng, request_bytes("GET", q).decode()).encode("utf-8", "replace"),
        lambda: random_bytes(rng),
    ]
    return rng.choice(choices)()


def ws_violation(rng: random.Random) -> list[bytes]:
    """Frames that break RFC 6455 (each list is sent in one write after the open packet)."""
    text = frame(OP_TEXT, b'42["echo",1]')
    choices: list[Callable[[], list[bytes]]] = [
        lambda: [frame(OP_TEXT, b"40", mask=False)],
        lambda: [frame(OP_TEXT, b"40", rsv=4)],
        lambda: [frame(OP_TEXT, b"40", rsv=rng.randint(1, 7))],
        lambda: [frame(3, b"x")],
        lambda: [frame(11, b"x")],
        lambda: [frame(OP_PING, b"x", fin=False)],
        lambda: [frame(OP_PING, b"x" * 126)],
        lambda: [frame(OP_CONT, b"40")],
        lambda: [frame(OP_TEXT, b"4", fin=False), frame(OP_TEXT, b"0")],
        lambda: [frame(OP_TEXT, b"4\xff\xfe")],
        lambda: [frame(OP_TEXT, b"4\xed\xa0\x80")],
        lambda: [frame(OP_CLOSE, struct.pack("!H", rng.choice([999, 1005, 1006, 1015, 5000])))],
        lambda: [frame(OP_CLOSE, b"\x03")],
        lambda: [frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff\xfe")],
        lambda: [bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 63) + b"\x00\x00\x00\x00"],
        lambda: [bytes([0x81, 0xFF]) + struct.pack("!Q", 1 << 40) + b"\x00\x00\x00\x00abc"],
        lambda: [frame(OP_TEXT, b"")],
        lambda: [frame(OP_BINARY, b"")],
        lambda: [frame(OP_TEXT, b"4", fin=False)]
        + [frame(OP_CONT, b"x", fin=False) for _ in range(100)] + [frame(OP_CONT, b"")],
        lambda: [frame(OP_TEXT, b"42", fin=False), frame(OP_PING, b"p"),
                 frame(OP_CONT, b'["echo",2]')],
        lambda: [text[: rng.randint(1, len(text) - 1)]],
        lambda: [random_bytes(rng, rng.randint(1, 64))],
    ]
    return rng.choice(choices)()


@dataclass(frozen=True, slots=True)
class Unit:
    """One connection's worth of hostile input: its kind and the seed of its inputs."""

    kind: str
    seed: int


KINDS = {
    "known": 12, "mutation": 25, "random": 12, "http": 12, "ws-violation": 12,
    "pong-flood": 3, "unjoined-binary": 4, "oversize": 2, "polling": 10,
}


def plan(seed: int, units: int, kinds: tuple[str, ...] = tuple(KINDS)) -> list[Unit]:
    """The units of a mix (of ``kinds`` only): a pure function of the arguments."""
    rng = random.Random(seed)
    names = list(kinds)
    weights = [KINDS[name] for name in names]
    return [Unit(rng.choices(names, weights)[0], rng.getrandbits(32)) for _ in range(units)]


async def _sentinel(client: WSClient, n: int) -> None:
    """An echo with an ack after the hostile input: answered, or the connection closes."""
    await client.send(sio_event("echo", n, ack=n))
    prefix = f"43{n}["
    while not (await client.recv_text()).startswith(prefix):
        pass


async def _ws_session(port: int, connect: bool = True) -> WSClient:
    client = await WSClient.open(port)
    if connect:
        await client.sio_connect()
    return client


async def _run_unit(port: int, unit: Unit) -> int:
    """Run one unit; returns the packets it sent (up to the server closing on it)."""
    rng = random.Random(unit.seed)
    sent = 0
    client: WSClient | None = None
    conn: Conn | None = None
    polling: PollingClient | None = None
    try:
        if unit.kind in ("known", "mutation", "random", "pong-flood", "unjoined-binary",
                         "oversize"):
            client = await _ws_session(port, connect=unit.kind != "known" or rng.random() < 0.9)
        if unit.kind == "known":
            assert client is not None
            messages = rng.choice(KNOWN)
            await client.send(*messages)
            sent += len(messages)
        elif unit.kind == "mutation":
            assert client is not None
            for _ in range(rng.randint(1, 30)):
                message = mutate(rng, rng.choice(TEMPLATES))
                await client.send(message)
                sent += 1
                if rng.random() < 0.1:
                    await client.send(random_bytes(rng, rng.randint(0, 16)))
                    sent += 1
        elif unit.kind == "random":
            assert client is not None
            for _ in range(rng.randint(1, 30)):
                await client.send(random_text(rng) if rng.random() < 0.6 else random_bytes(rng))
                sent += 1
        elif unit.kind == "pong-flood":
            assert client is not None
            n = rng.randint(20, 200)
            for start in range(0, n, 100):
                await client.send(*(["3"] * min(100, n - start)))
            sent += n
        elif unit.kind == "unjoined-binary":
            assert client is not None
            nsp = rng.choice(["/admin", "/never", "/x/y"])
            await client.send(f'451-{nsp},["x",{{"_placeholder":true,"num":0}}]', b"\x01\x02")
            sent += 2
        elif unit.kind == "oversize":
            assert client is not None
            await client.send("4" + "x" * 1_000_001)
            sent += 1
        elif unit.kind == "http":
            conn = await open_conn(port)
            await conn.send(broken_http(rng))
            sent += 1
            with trio.move_on_after(1.0):
                await read_response(conn)
            return sent
        elif unit.kind == "ws-violation":
            conn = await open_conn(port)
            await conn.send(ws_upgrade_request())
            if (await read_response(conn, head_only=True)).status != 101:
                return sent
            client = WSClient(conn)
            await client.recv_text()
            if rng.random() < 0.8:
                await client.sio_connect()
            frames = ws_violation(rng)
            await conn.send(b"".join(frames))
            sent += len(frames)
        elif unit.kind == "polling":
            polling = PollingClient(port)
            await polling.handshake()
            if rng.random() < 0.5:
                await polling.sio_connect()
            if rng.random() < 0.8:
                body = rng.choice(POLLING_BODIES)
            else:
                body = mutate(rng, rng.choice(TEMPLATES)).encode("utf-8", "surrogatepass")
            if polling.post_conn is None:
                polling.post_conn = await open_conn(port)
            content_type = rng.choice(["text/plain;charset=UTF-8", "application/octet-stream",
                                       "text/plain"])
            await polling.post_conn.send(request_bytes(
                "POST", polling.target(), [("Content-Type", content_type)], body))
            sent += 1
            with trio.move_on_after(2.0):
                await read_response(polling.post_conn)
            # A GET parked before the reset, so that the server sees the session's client go.
            assert polling.get_conn is not None
            await polling.get_conn.send(request_bytes("GET", polling.target()))
            return sent
        if client is not None:
            await _sentinel(client, 99)
            sent += 1
        return sent
    except _ERRORS:
        return sent
    finally:
        if client is not None:
            if rng.random() < 0.5:
                client.conn.reset()
            else:
                await client.conn.aclose()
        elif conn is not None:
            await conn.aclose()
        if polling is not None:
            polling.reset()


async def _slowloris(port: int, connections: int, stop: trio.Event) -> int:
    """Hold ``connections`` requests whose head arrives a byte a second, until ``stop``;
    returns how many the server cut off."""
    head = request_bytes("GET", f"{PATH}?EIO=4&transport=polling")
    cut = 0

    async def one() -> None:
        nonlocal cut
        try:
            conn = await open_conn(port)
        except Gone:
            return
        try:
            async with trio.open_nursery() as nursery:
                async def trickle() -> None:
                    try:
                        for byte in head:
                            await conn.send(bytes([byte]))
                            await trio.sleep(1.0)
                    except Gone:
                        pass

                async def until_stop() -> None:
                    await stop.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(trickle)
                nursery.start_soon(until_stop)
                await conn.closed_by_peer()  # the server's 408, or its close
                cut += 1
                nursery.cancel_scope.cancel()
        finally:
            conn.reset()

    async with trio.open_nursery() as nursery:
        for _ in range(connections):
            nursery.start_soon(one)
    return cut


async def hostile_mix(server: ServerProcess, *, packets: int, seed: int = 17,
                      concurrency: int = 20, slowloris: int = 20,
                      kinds: tuple[str, ...] = tuple(KINDS), pin: bool = False
                      ) -> dict[str, Any]:
    """Send at least ``packets`` hostile packets, unit by unit from ``plan(seed, ...)``, while
    a health client echoes and ``slowloris`` connections trickle; restart the server whenever
    it dies. Returns the packets sent, the crashes, the health client's figures, and the
    server's ERROR records."""
    port = server.port
    units = iter(plan(seed, 1_000_000, kinds))
    sent = 0
    by_kind: dict[str, int] = {}
    health = HealthClient(port, pin=pin)
    start = time.monotonic()
    stop = trio.Event()
    cut = 0
    try:
        async def monitor() -> None:
            while not stop.is_set():
                if server.ensure_running():
                    await trio.sleep(0.5)
                with trio.move_on_after(0.1):
                    await stop.wait()

        async def worker() -> None:
            nonlocal sent
            while sent < packets:
                unit = next(units)
                with trio.move_on_after(15):
                    n = await _run_unit(port, unit)
                    sent += n
                    by_kind[unit.kind] = by_kind.get(unit.kind, 0) + n

        async def loris() -> None:
            nonlocal cut
            cut = await _slowloris(port, slowloris, stop)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(monitor)
            nursery.start_soon(loris)
            async with trio.open_nursery() as workers:
                for _ in range(concurrency):
                    workers.start_soon(worker)
            stop.set()
        server.ensure_running()
        # Some units open sessions with a plain handshake and go: those live until the ping
        # timeout, as in Node. What is left after 2 s is counted, not judged.
        left, _ = await server.wait_sessions(1, 2)
    finally:
        end = time.monotonic()
        samples = health.stop()
    return {
        "packets": sent, "by_kind": by_kind, "crashes": server.crashes,
        "health": latency_summary(samples, start, end),
        "sessions_after": max(0, left - 1), "slowloris_cut": cut,
        "error_records": server.error_records(),
    }
