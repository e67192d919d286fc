"""The server WebSocket's own frame reader and writer against wsproto's, byte for byte.

The reader decodes simple whole frames itself and hands every other frame (and all bytes after
it) to wsproto; whatever the bytes and however they are split into reads, the messages, the
close code and the bytes we answer with must be the ones wsproto alone gives.
"""

from __future__ import annotations

import itertools
import os
import struct
from collections.abc import Sequence
from unittest import mock

import pytest
import trio
from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, TextMessage

from transports import StreamWebSocket, WebSocketClosed
from transports._wsframes import (
    SPEEDUPS,
    build_frame,
    mask_frame,
    py_unmask,
    take_messages,
    unmask,
)

KEY = b"\x37\xfa\x21\x3d"


class ScriptedStream(trio.abc.Stream):
    """Reads return the given chunks in turn, then EOF; writes are recorded."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self.chunks = list(chunks)
        self.sent = bytearray()
        self.closed = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        await trio.lowlevel.checkpoint()
        return self.chunks.pop(0) if self.chunks else b""

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await trio.lowlevel.checkpoint()
        if self.closed:
            raise trio.ClosedResourceError
        self.sent += data

    async def wait_send_all_might_not_block(self) -> None:
        await trio.lowlevel.checkpoint()

    async def aclose(self) -> None:
        self.closed = True
        await trio.lowlevel.checkpoint()


Outcome = tuple[list[str | bytes], int, str, bool, bytes]


def through_websocket(chunks: Sequence[bytes], limit: int, *, fast: bool) -> Outcome:
    """What a server WebSocket reading ``chunks`` yields: messages, close, bytes it sent."""
    stream = ScriptedStream(chunks[1:])
    first = chunks[0] if chunks else b""
    messages: list[str | bytes] = []

    async def main() -> WebSocketClosed:
        ws = StreamWebSocket(stream, Connection(ConnectionType.SERVER), max_message_size=limit,
                             received=first if fast else b"")
        if not fast:
            # The reference: wsproto alone gets every byte.
            ws._fast = False
            stream.chunks.insert(0, first)
        with trio.fail_after(10):
            while True:
                try:
                    messages.append(await ws.receive())
                except WebSocketClosed as exc:
                    await ws.aclose()
                    return exc

    closed = trio.run(main)
    reason, sent = closed.reason, bytes(stream.sent)
    if closed.code == 1007:
        # wsproto's reason names a position within the bytes it was fed at once, which depends
        # on how the reads were cut even with wsproto alone.
        reason = reason.split(" in position")[0]
        close_frame = sent.rindex(b"\x88")
        assert sent[close_frame + 2:close_frame + 4] == b"\x03\xef"
        sent = sent[:close_frame + 4]
    return messages, closed.code, reason, closed.local, sent


def raw_frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0,
              masked: bool = True, length_bytes: int | None = None) -> bytes:
    """A frame as a client might send it, valid or not (``length_bytes``: 0, 2 or 8 forces the
    length's encoding, minimal or not)."""
    n = len(payload)
    if length_bytes is None:
        length_bytes = 0 if n < 126 else 2 if n < 65536 else 8
    first = (0x80 if fin else 0) | rsv << 4 | opcode
    mask_bit = 0x80 if masked else 0
    if length_bytes == 0:
        head = bytes((first, mask_bit | n))
    elif length_bytes == 2:
        head = bytes((first, mask_bit | 126)) + struct.pack("!H", n)
    else:
        head = bytes((first, mask_bit | 127)) + struct.pack("!Q", n)
    if masked:
        return head + KEY + unmask(payload, KEY)
    return head + payload


texts = st.text(max_size=40)
sizes = st.sampled_from([0, 1, 125, 126, 127, 300, 65535, 65536, 70000])


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from([
        "text", "text", "text", "binary", "binary", "sized", "close", "ping", "pong",
        "fragments", "bad_utf8", "unmasked", "rsv", "opcode", "long_length", "control_long",
        "continuation"]))
    if kind == "text":
        return raw_frame(1, draw(texts).encode("utf-8", "surrogatepass"))
    if kind == "binary":
        return raw_frame(2, draw(st.binary(max_size=40)))
    if kind == "sized":
        return raw_frame(draw(st.sampled_from([1, 2])), b"a" * draw(sizes))
    if kind == "close":
        code = draw(st.sampled_from([1000, 1001, 3000, 4999, 999, 1005, 1016]))
        reason = draw(st.text(max_size=10)).encode("utf-8", "surrogatepass")
        return raw_frame(8, struct.pack("!H", code) + reason)
    if kind in ("ping", "pong"):
        return raw_frame(9 if kind == "ping" else 10, draw(st.binary(max_size=20)))
    if kind == "fragments":
        opcode = draw(st.sampled_from([1, 2]))
        return (raw_frame(opcode, draw(texts).encode(), fin=False)
                + raw_frame(0, draw(texts).encode(), fin=draw(st.booleans())))
    if kind == "bad_utf8":
        return raw_frame(1, draw(st.binary(max_size=4)) + b"\xff" + draw(st.binary(max_size=4)))
    if kind == "unmasked":
        return raw_frame(draw(st.sampled_from([1, 2])), b"abc", masked=False)
    if kind == "rsv":
        return raw_frame(draw(st.sampled_from([1, 2])), b"abc", rsv=draw(st.integers(1, 7)))
    if kind == "opcode":
        return raw_frame(draw(st.sampled_from([3, 7, 11, 15])), b"")
    if kind == "long_length":
        return raw_frame(draw(st.sampled_from([1, 2])), b"a" * draw(st.sampled_from([5, 200])),
                         length_bytes=draw(st.sampled_from([2, 8])))
    if kind == "control_long":
        return raw_frame(9, b"p" * 126)
    return raw_frame(0, b"x")


@st.composite
def chunked(draw: st.DrawFn) -> list[bytes]:
    data = b"".join(draw(st.lists(frames(), max_size=8)))
    if draw(st.booleans()):
        data += draw(st.binary(max_size=6))  # a truncated tail
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=6)))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a] or [b""]


@settings(max_examples=400, deadline=None)
@given(chunked(), st.sampled_from([100, 1000, 70000]))
def test_same_messages_and_close_as_wsproto_alone(chunks: list[bytes], limit: int) -> None:
    assert through_websocket(chunks, limit, fast=True) == \
        through_websocket(chunks, limit, fast=False)


@pytest.mark.parametrize("n", [0, 1, 125, 126, 127, 65535, 65536, 70000])
@pytest.mark.parametrize("opcode", [1, 2])
def test_length_edges_decode_in_one_read_and_in_dribbles(n: int, opcode: int) -> None:
    payload = bytes(i % 251 for i in range(n)) if opcode == 2 else b"z" * n
    frame = raw_frame(opcode, payload)
    header = {0: 6, 1: 6, 125: 6, 126: 8, 127: 8, 65535: 8}.get(n, 14)
    assert len(frame) == header + n
    out: list[str | bytes] = []
    assert take_messages(frame + frame, True, 70000, out) == (2 * len(frame), False)
    message = payload.decode() if opcode == 1 else payload
    assert out == [message, message]
    for cut in {*range(1, header + 1), len(frame) - 1} - {len(frame)}:
        out = []
        assert take_messages(frame[:cut], True, 70000, out) == (0, False)
        assert out == []
    chunks = [frame[:3], frame[3:header], frame[header:]] if n else [frame]
    messages, code, _, _, _ = through_websocket([c for c in chunks if c], 70000, fast=True)
    assert messages == [message] and code == 1006


@pytest.mark.parametrize("frame", [
    raw_frame(1, b"a" * 100, length_bytes=2),  # 16-bit length for a 7-bit size
    raw_frame(2, b"a" * 300, length_bytes=8),  # 64-bit length for a 16-bit size
    raw_frame(1, b"abc", fin=False),
    raw_frame(1, b"abc", rsv=4),
    raw_frame(2, b"abc", masked=False),
    raw_frame(9, b""),
    raw_frame(8, b"\x03\xe8"),
    raw_frame(1, b"\xc3"),
    raw_frame(2, b"a" * 101),
], ids=["len16", "len64", "fragment", "rsv", "unmasked", "ping", "close", "utf8", "oversize"])
def test_other_frames_are_left_to_wsproto(frame: bytes) -> None:
    ok = raw_frame(1, b"ok")
    out: list[str | bytes] = []
    assert take_messages(ok + frame + ok, True, 100, out) == (len(ok), True)
    assert out == ["ok"]


def test_64_bit_length_with_the_top_bit_is_left_to_wsproto() -> None:
    frame = bytes((0x82, 0xFF)) + struct.pack("!Q", 1 << 63) + KEY
    assert take_messages(frame, True, 1 << 64, []) == (0, True)


def test_client_side_takes_unmasked_frames_only() -> None:
    plain = b"".join(build_frame("hé")) + b"".join(build_frame(b"\x00\x01"))
    out: list[str | bytes] = []
    assert take_messages(plain, False, 100, out) == (len(plain), False)
    assert out == ["hé", b"\x00\x01"]
    assert take_messages(raw_frame(1, b"x"), False, 100, []) == (0, True)


def test_unmask_matches_wsproto() -> None:
    for n in [*range(0, 140), 2047, 2048, 2049, 4099, 65535, 65536, 65537]:
        payload = os.urandom(n)
        frame = bytes(Connection(ConnectionType.CLIENT).send(BytesMessage(data=payload)))
        out: list[str | bytes] = []
        assert take_messages(frame, True, 1 << 20, out) == (len(frame), False)
        assert out == [payload]


def test_built_frames_are_wsprotos() -> None:
    server = Connection(ConnectionType.SERVER)
    for n in [*range(0, 300), *range(65400, 65700), 70000]:
        text = "é" * (n // 2) + "a" * (n % 2)  # n UTF-8 bytes
        assert b"".join(build_frame(text)) == server.send(TextMessage(data=text))
        data = b"\x01" * n
        assert b"".join(build_frame(data)) == server.send(BytesMessage(data=data))
        assert b"".join(build_frame(bytearray(data))) == server.send(BytesMessage(data=data))


def test_lone_surrogate_is_refused_as_by_wsproto() -> None:
    with pytest.raises(UnicodeEncodeError):
        Connection(ConnectionType.SERVER).send(TextMessage(data="\ud800"))
    with pytest.raises(UnicodeEncodeError):
        build_frame("\ud800")


def test_the_speedups_extra_is_installed_for_the_tests() -> None:
    # CI installs it (.ci/test), so the C path below is tested, not skipped.
    assert SPEEDUPS


@given(st.binary(max_size=5000), st.binary(min_size=4, max_size=4))
def test_c_and_python_unmasking_give_the_same_bytes(data: bytes, key: bytes) -> None:
    assert unmask(data, key) == py_unmask(data, key)
    assert unmask(memoryview(data), bytearray(key)) == py_unmask(memoryview(data), key)


def test_c_and_python_unmasking_agree_on_large_payloads() -> None:
    for n in (2047, 2048, 2049, 65536, 70001, 1 << 20):
        data, key = os.urandom(n), os.urandom(4)
        assert unmask(data, key) == py_unmask(data, key)


@settings(max_examples=200)
@given(st.one_of(st.text(), st.binary(max_size=70_000)), st.binary(min_size=4, max_size=4))
def test_masked_client_frames_are_wsprotos(message: str | bytes, key: bytes) -> None:
    client = Connection(ConnectionType.CLIENT)
    event = TextMessage(data=message) if isinstance(message, str) else BytesMessage(data=message)
    # wsproto draws each frame's key from os.urandom(4): give it ours.
    with mock.patch("wsproto.frame_protocol.os.urandom", return_value=key):
        try:
            expected = client.send(event)
        except UnicodeEncodeError:
            return
    assert mask_frame(message, key) == expected
