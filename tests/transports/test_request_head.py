"""The lean parser of plain request heads against h11, the reference: whatever head it takes,
h11 takes with the same method, target and headers; anything else it leaves to h11."""

from __future__ import annotations

import h11
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from transports._request_head import parse_plain_head


def _h11(buf: bytes) -> h11.Request | None:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(buf)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return None
    return event if isinstance(event, h11.Request) else None


def _check(buf: bytes) -> None:
    lean = parse_plain_head(buf)
    if lean is None:
        return
    event = _h11(buf)
    assert event is not None, buf
    assert (event.method.decode(), event.target, event.http_version) == (
        lean.method, lean.target, b"1.1")
    assert list(event.headers) == lean.headers
    declared = [v for k, v in event.headers if k == b"content-length"]
    assert lean.content_length == (int(declared[0]) if declared else 0)
    assert not any(k in (b"transfer-encoding", b"expect") for k, _ in event.headers)
    if any(k == b"upgrade" for k, _ in event.headers):
        assert lean.method == "GET"  # a WebSocket handshake; h11 is never asked to switch
    assert buf.find(b"\r\n\r\n") + 4 == lean.size


_TOKEN = st.text("abcxyzABC-_!#0189~", min_size=1, max_size=12).map(str.encode)
_FIELD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                 max_size=10).map(str.encode)


def _mostly(common: st.SearchStrategy[bytes],
            odd: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """``common`` nine times in ten, else ``odd``."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else common)


_NAMES = _mostly(
    st.one_of(st.sampled_from([b"Host", b"Content-Length", b"content-length", b"Connection",
                               b"Origin", b"User-Agent", b"Accept", b"Cookie"]), _TOKEN),
    st.one_of(st.sampled_from([b"Transfer-Encoding", b"Expect", b"Upgrade", b"HOST", b"X Y",
                               b""]), st.binary(min_size=0, max_size=6)))
_VALUES = _mostly(
    st.one_of(st.sampled_from([b"x", b"127.0.0.1:3000", b"0", b"12", b"007", b"keep-alive",
                               b"a b", b"", b"\xff\xfe"]), _FIELD),
    st.one_of(st.sampled_from([b"1,1", b" 5 ", b"-1", b"close", b"Upgrade", b"chunked",
                               b"100-continue", b"\t", b"99999999999999999999", b"a\x00b"]),
              st.binary(max_size=12)))
_SEPARATORS = _mostly(st.sampled_from([b": ", b":"]), st.sampled_from([b":\t", b" : ", b":  "]))
_EOLS = _mostly(st.just(b"\r\n"), st.sampled_from([b"\n", b"\r", b"\r\n ", b"\r\n\t"]))


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    method = draw(_mostly(st.sampled_from([b"GET", b"POST"]),
                          st.sampled_from([b"PUT", b"get", b"HEAD", b"G\x00T", b""])))
    target = draw(_mostly(
        st.one_of(st.sampled_from([b"/socket.io/?EIO=4&transport=polling&sid=abc", b"/",
                                   b"*", b"http://h/x"]), _FIELD),
        st.one_of(st.sampled_from([b"/a b", b"/\x7f", b"/\xc3\xa9", b""]),
                  st.binary(min_size=0, max_size=10))))
    version = draw(_mostly(st.just(b"HTTP/1.1"), st.sampled_from(
        [b"HTTP/1.0", b"HTTP/2.0", b"http/1.1", b"HTTP/1.1 ", b"HTTP/11"])))
    lines = [method + b" " + target + b" " + version]
    if draw(_mostly(st.just(True), st.just(False))):
        lines.append(b"Host: 127.0.0.1:3000")
    for _ in range(draw(st.integers(0, 5))):
        lines.append(draw(_NAMES) + draw(_SEPARATORS) + draw(_VALUES))
    out = bytearray()
    for line in lines:
        out += line + draw(_EOLS)
    out += draw(_mostly(st.just(b"\r\n"), st.sampled_from([b"\n", b""])))
    out += draw(st.binary(max_size=8))  # a body, or the next request's beginning
    return bytes(out)


def test_the_generated_heads_reach_every_path() -> None:
    # Not vacuous: the heads above include lean ones with headers, ones h11 alone takes, and
    # ones h11 refuses.
    lean = find(heads(), lambda b: (h := parse_plain_head(b)) is not None and len(h.headers) > 2)
    assert _h11(lean) is not None
    assert find(heads(), lambda b: parse_plain_head(b) is None and _h11(b) is not None)
    assert find(heads(), lambda b: _h11(b) is None)


@settings(max_examples=1000)
@given(heads())
def test_a_plain_head_is_what_h11_parses(buf: bytes) -> None:
    _check(buf)


@settings(max_examples=500)
@given(st.binary(max_size=200))
def test_random_bytes_are_h11s_too(buf: bytes) -> None:
    _check(b"GET / HTTP/1.1\r\nHost: h\r\n" + buf)
    _check(buf)


@pytest.mark.parametrize("buf", [
    b"GET /socket.io/?EIO=4&transport=polling&t=1 HTTP/1.1\r\nHost: h:1\r\n"
    b"Origin: http://x\r\n\r\n",
    b"POST /socket.io/?EIO=4&transport=polling&sid=s HTTP/1.1\r\nHost: h\r\n"
    b"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: 3\r\n\r\n40x",
    b"POST / HTTP/1.1\r\nhost: h\r\nconnection: keep-alive\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
    b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n\x81\x82",
])
def test_the_polling_and_websocket_heads_take_the_lean_path(buf: bytes) -> None:
    head = parse_plain_head(buf)
    assert head is not None
    _check(buf)


@pytest.mark.parametrize("buf", [
    b"GET / HTTP/1.1\r\nHost: h\r\n",  # incomplete
    b"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
    b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",  # folded
    b"GET / HTTP/1.1\nHost: h\r\n\r\n",
    b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
])
def test_anything_else_is_left_to_h11(buf: bytes) -> None:
    assert parse_plain_head(buf) is None
