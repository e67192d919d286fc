"""Raw Engine.IO / Socket.IO clients over trio sockets, for the soak scenarios.

Nothing here is a library client: each call writes exact bytes and reads exact bytes, so that a
scenario can stop, reset or corrupt a connection at any moment. Every read is bounded by the
caller's ``fail_after``/``move_on_after``; a closed or reset connection raises ``Gone``.
"""

from __future__ import annotations

import json
import os
import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import trio

__all__ = [
    "PATH",
    "Conn",
    "Gone",
    "PollingClient",
    "Response",
    "WSClient",
    "frame",
    "http_request",
    "open_conn",
    "sio_event",
]

PATH = "/socket.io/"
_RECV = 65536
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


class Gone(Exception):
    """The server closed or reset the connection, or answered something else than expected."""


class Conn:
    """One TCP connection with a read buffer."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = bytearray()
        self.eof = False

    async def send(self, data: bytes) -> None:
        try:
            await self.stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise Gone(f"send failed: {exc!r}") from None

    async def _fill(self) -> None:
        if self.eof:
            raise Gone("connection closed by the server")
        try:
            data = await self.stream.receive_some(_RECV)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            raise Gone(f"receive failed: {exc!r}") from None
        if not data:
            self.eof = True
            raise Gone("connection closed by the server")
        self.buf += data

    async def read_until(self, marker: bytes, limit: int = 1 << 20) -> bytes:
        """Everything up to and including ``marker``."""
        start = 0
        while True:
            at = self.buf.find(marker, start)
            if at >= 0:
                end = at + len(marker)
                out = bytes(self.buf[:end])
                del self.buf[:end]
                return out
            if len(self.buf) > limit:
                raise Gone("answer too long")
            start = max(0, len(self.buf) - len(marker) + 1)
            await self._fill()

    async def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            await self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    async def read_to_eof(self, limit: int = 1 << 24) -> bytes:
        try:
            while len(self.buf) <= limit:
                await self._fill()
        except Gone:
            pass
        out = bytes(self.buf)
        self.buf.clear()
        return out

    async def closed_by_peer(self) -> bool:
        """Read and discard until the server closes; True once it has (bounded by the caller)."""
        try:
            while True:
                self.buf.clear()
                await self._fill()
        except Gone:
            return True

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), at once."""
        sock = self.stream.socket
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        sock.close()

    async def aclose(self) -> None:
        with trio.move_on_after(1):
            await self.stream.aclose()


async def open_conn(port: int, host: str = "127.0.0.1") -> Conn:
    try:
        stream = await trio.open_tcp_stream(host, port)
    except OSError as exc:
        raise Gone(f"connect failed: {exc!r}") from None
    stream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
    return Conn(stream)


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


def request_bytes(method: str, target: str, headers: Sequence[tuple[str, str]] = (),
                  body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(conn: Conn, *, head_only: bool = False) -> Response:
    head = await conn.read_until(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise Gone(f"not an HTTP answer: {status_line!r}")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(parts[1])
    if head_only or status == 101:
        return Response(status, headers, b"")
    if "content-length" in headers:
        body = await conn.read_exact(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await conn.read_until(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await conn.read_until(b"\r\n")
                break
            chunks.append(await conn.read_exact(size))
            await conn.read_exact(2)
        body = b"".join(chunks)
    else:
        body = await conn.read_to_eof()
    return Response(status, headers, body)


async def http_request(conn: Conn, method: str, target: str,
                       headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Response:
    await conn.send(request_bytes(method, target, headers, body))
    return await read_response(conn)


def frame(opcode: int, payload: bytes, *, fin: bool = True, mask: bool = True,
          rsv: int = 0, key: bytes | None = None) -> bytes:
    """A WebSocket frame as a client sends it (masked unless ``mask`` is false)."""
    head = bytearray([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head.append(mask_bit | n)
    elif n < 65536:
        head.append(mask_bit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mask_bit | 127)
        head += struct.pack("!Q", n)
    if not mask:
        return bytes(head) + payload
    key = key if key is not None else os.urandom(4)
    head += key
    return bytes(head) + _mask(payload, key)


def _mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    repeated = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")).to_bytes(
        len(payload), "little")


def text_frames(messages: Iterable[str]) -> bytes:
    return b"".join(frame(OP_TEXT, m.encode()) for m in messages)


def sio_event(event: str, *args: Any, ack: int | None = None, nsp: str = "/") -> str:
    """A Socket.IO EVENT as an Engine.IO message (``42...``)."""
    prefix = "" if nsp == "/" else f"{nsp},"
    ack_part = "" if ack is None else str(ack)
    return "42" + prefix + ack_part + json.dumps([event, *args], separators=(",", ":"))


def ws_upgrade_request(sid: str | None = None, extra: Sequence[tuple[str, str]] = ()) -> bytes:
    target = f"{PATH}?EIO=4&transport=websocket" + (f"&sid={sid}" if sid else "")
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"),
               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
               ("Sec-WebSocket-Version", "13"), *extra]
    return request_bytes("GET", target, headers)


class WSClient:
    """A WebSocket to the server: text messages in and out, Engine.IO pings answered."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.closed = False
        self.sid: str | None = None

    @classmethod
    async def open(cls, port: int, sid: str | None = None) -> WSClient:
        """The WebSocket upgrade, then (without ``sid``) the Engine.IO open packet."""
        conn = await open_conn(port)
        await conn.send(ws_upgrade_request(sid))
        answer = await read_response(conn, head_only=True)
        if answer.status != 101:
            raise Gone(f"WebSocket refused: {answer.status}")
        client = cls(conn)
        if sid is None:
            opened = await client.recv_text()
            if not opened.startswith("0"):
                raise Gone(f"expected the open packet, got {opened[:40]!r}")
            client.sid = json.loads(opened[1:])["sid"]
        else:
            client.sid = sid
        return client

    async def send(self, *messages: str | bytes) -> None:
        """Send messages in one write."""
        await self.conn.send(b"".join(
            frame(OP_TEXT, m.encode()) if isinstance(m, str) else frame(OP_BINARY, m)
            for m in messages))

    async def recv_frame(self) -> tuple[int, bytes]:
        conn = self.conn
        head = await conn.read_exact(2)
        opcode = head[0] & 0x0F
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", await conn.read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await conn.read_exact(8))[0]
        if head[1] & 0x80:
            raise Gone("the server masked a frame")
        payload = await conn.read_exact(n)
        return opcode, payload

    async def recv_message(self) -> str | bytes:
        """The next whole data message; a Close frame raises ``Gone``; WS pings answered."""
        parts: list[bytes] = []
        first = OP_TEXT
        while True:
            opcode, payload = await self.recv_frame()
            if opcode == OP_CLOSE:
                self.closed = True
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                raise Gone(f"WebSocket closed by the server ({code})")
            if opcode == OP_PING:
                await self.conn.send(frame(OP_PONG, payload))
                continue
            if opcode == OP_PONG:
                continue
            if opcode != OP_CONT:
                first = opcode
                parts = []
            parts.append(payload)
            # The FIN bit is not kept by recv_frame: servers under test send unfragmented frames.
            data = b"".join(parts)
            return data.decode() if first == OP_TEXT else data

    async def recv_text(self) -> str:
        """The next text message that is not an Engine.IO ping (pings are answered)."""
        while True:
            message = await self.recv_message()
            if isinstance(message, bytes):
                continue
            if message == "2":
                await self.send("3")
                continue
            return message

    async def sio_connect(self, nsp: str = "/") -> str:
        """Join a namespace; returns the Socket.IO id."""
        await self.send("40" if nsp == "/" else f"40{nsp},")
        while True:
            message = await self.recv_text()
            if message.startswith("40"):
                body = message[2:] if nsp == "/" else message[2 + len(nsp) + 1:]
                return str(json.loads(body)["sid"])
            if message.startswith("44"):
                raise Gone(f"connect refused: {message}")

    async def close(self) -> None:
        """A clean close: the Close frame, then the TCP close."""
        try:
            await self.conn.send(frame(OP_CLOSE, struct.pack("!H", 1000)))
        except Gone:
            pass
        await self.conn.aclose()


def split_payload(body: bytes) -> list[str]:
    return body.decode().split("\x1e") if body else []


class PollingClient:
    """A long-polling session: one kept-alive connection for GETs, one for POSTs."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sid = ""
        self.get_conn: Conn | None = None
        self.post_conn: Conn | None = None

    def target(self) -> str:
        return f"{PATH}?EIO=4&transport=polling&sid={self.sid}"

    async def handshake(self) -> dict[str, Any]:
        self.get_conn = await open_conn(self.port)
        answer = await http_request(self.get_conn, "GET", f"{PATH}?EIO=4&transport=polling")
        if answer.status != 200 or not answer.body.startswith(b"0"):
            raise Gone(f"handshake refused: {answer.status} {answer.body[:80]!r}")
        opened: dict[str, Any] = json.loads(answer.body[1:])
        self.sid = opened["sid"]
        return opened

    async def post(self, *messages: str) -> Response:
        if self.post_conn is None:
            self.post_conn = await open_conn(self.port)
        body = "\x1e".join(messages).encode()
        return await http_request(self.post_conn, "POST", self.target(),
                                  [("Content-Type", "text/plain;charset=UTF-8")], body)

    async def post_ok(self, *messages: str) -> None:
        answer = await self.post(*messages)
        if answer.status != 200 or answer.body != b"ok":
            raise Gone(f"POST refused: {answer.status} {answer.body[:80]!r}")

    async def get(self) -> list[str]:
        """One poll (parks until the server has something); Engine.IO pings answered."""
        assert self.get_conn is not None
        answer = await http_request(self.get_conn, "GET", self.target())
        if answer.status != 200:
            raise Gone(f"poll refused: {answer.status} {answer.body[:80]!r}")
        packets = split_payload(answer.body)
        if "2" in packets:
            await self.post_ok("3")
        return [p for p in packets if p != "2"]

    async def sio_connect(self) -> str:
        await self.post_ok("40")
        while True:
            for packet in await self.get():
                if packet.startswith("40"):
                    return str(json.loads(packet[2:])["sid"])

    async def aclose(self) -> None:
        for conn in (self.get_conn, self.post_conn):
            if conn is not None:
                await conn.aclose()

    def reset(self) -> None:
        for conn in (self.get_conn, self.post_conn):
            if conn is not None:
                conn.reset()
