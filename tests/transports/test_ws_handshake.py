"""Our server handshake against wsproto's, the reference: the same requests accepted and refused,
byte for byte the same 101 (so the same Sec-WebSocket-Accept), the same permessage-deflate
agreed; and where wsproto raised something other than its protocol error, a clean answer."""

from __future__ import annotations

import h11
import pytest
from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection
from wsproto.events import Request as WSRequest
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.utilities import RemoteProtocolError as WSRemoteProtocolError

from transports._ws_handshake import HandshakeError, server_handshake

Headers = list[tuple[bytes, bytes]]
REFUSED = "refused"


def _wsproto(method: bytes, headers: Headers, deflate: bool,
             extra: Headers) -> tuple[bytes, list[Extension]] | str:
    """What wsproto answers, driven as the server drove it before (``accept_websocket``)."""
    ws = WSConnection(ConnectionType.SERVER)
    try:
        ws.receive_data(h11.Connection(h11.CLIENT).send(
            h11.Request(method=method, target=b"/engine.io/?EIO=4", headers=headers)))
        request = next(e for e in ws.events() if isinstance(e, WSRequest))
    except (WSRemoteProtocolError, UnicodeDecodeError):
        return REFUSED
    offered = [str(e).split(";", 1)[0].strip() for e in request.extensions]
    extensions: list[Extension] = (
        [PerMessageDeflate()] if deflate and "permessage-deflate" in offered else [])
    try:
        data = ws.send(AcceptConnection(extensions=extensions, extra_headers=extra))
    except ValueError:
        # A parameter that is not a number: wsproto raised; declining the offer is the answer.
        return _wsproto(method, [h for h in headers if h[0].lower() != b"sec-websocket-extensions"],
                        deflate, extra)
    assert ws.connection is not None
    return data, [e for e in ws.connection._proto.extensions]


def _ours(method: bytes, headers: Headers, deflate: bool,
          extra: Headers) -> tuple[bytes, list[Extension]] | str:
    try:
        return server_handshake(method.decode(), [(k.lower(), v) for k, v in headers],
                                per_message_deflate=deflate, extra_headers=extra)
    except HandshakeError:
        return REFUSED


def _same(method: bytes, headers: Headers, deflate: bool, extra: Headers = ()) -> None:
    theirs = _wsproto(method, headers, deflate, list(extra))
    ours = _ours(method, headers, deflate, list(extra))
    if isinstance(theirs, str) or isinstance(ours, str):
        assert ours == theirs
        return
    assert ours[0] == theirs[0]
    assert [(e.name, vars(e)) for e in ours[1]] == [(e.name, vars(e)) for e in theirs[1]]


_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
_BASE: Headers = [(b"Host", b"localhost:3000"), (b"Connection", b"Upgrade"),
                  (b"Upgrade", b"websocket"), (b"Sec-WebSocket-Key", _KEY),
                  (b"Sec-WebSocket-Version", b"13")]
_FIELD = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1,
                 max_size=12).map(str.encode)


def _mostly(common: st.SearchStrategy[bytes],
            odd: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.integers(0, 5).flatmap(lambda n: odd if n == 0 else common)


_VALUES = {
    b"Connection": _mostly(st.sampled_from([b"Upgrade", b"keep-alive, Upgrade", b"upgrade"]),
                           st.sampled_from([b"keep-alive", b"close", b"Upgrade\xff", b"Up grade",
                                            b"x,,upgrade", b""])),
    b"Upgrade": _mostly(st.sampled_from([b"websocket", b"WebSocket"]),
                        st.sampled_from([b"websocket, h2c", b"h2c", b"websockets", b""])),
    b"Sec-WebSocket-Key": _mostly(st.sampled_from([_KEY, b"x3JJHMbDL1EzLkh9GBhXDw=="]),
                                  st.one_of(_FIELD, st.just(b""))),
    b"Sec-WebSocket-Version": _mostly(st.just(b"13"),
                                      st.sampled_from([b"8", b"13, 8", b"013", b""])),
    b"Sec-WebSocket-Extensions": st.sampled_from([
        b"permessage-deflate", b"permessage-deflate; client_max_window_bits",
        b"permessage-deflate; client_max_window_bits=10; server_max_window_bits=12",
        b"permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        b"permessage-deflate; client_max_window_bits=7",
        b"permessage-deflate; server_max_window_bits=16",
        b"permessage-deflate; client_max_window_bits=x", b"x-webkit-deflate-frame",
        b"permessage-deflate; server_max_window_bits=9, permessage-deflate", b"\xe9t\xe9"]),
    b"Sec-WebSocket-Protocol": st.sampled_from([b"chat", b"a, b", b"\xff"]),
    b"Origin": _FIELD,
}


@st.composite
def handshakes(draw: st.DrawFn) -> tuple[bytes, Headers, bool, Headers]:
    method = draw(_mostly(st.just(b"GET"), st.sampled_from([b"POST", b"HEAD"])))
    headers = [h for h in _BASE if draw(_mostly(st.just(True), st.just(False)))]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from(sorted(_VALUES)))
        value = draw(_VALUES[name])
        spelled = draw(st.sampled_from([name, name.lower(), name.upper()]))
        headers.insert(draw(st.integers(0, len(headers))), (spelled, value))
    if not any(k.lower() == b"host" for k, _ in headers):
        # h11 refuses a request with no Host, or several, before any handler sees it.
        headers.append((b"Host", draw(st.sampled_from([b"h", b"127.0.0.1", b"example.com"]))))
    extra = draw(st.lists(st.tuples(st.sampled_from([b"Set-Cookie", b"x-a", b"Cache-Control"]),
                                    _FIELD), max_size=2))
    return method, headers, draw(st.booleans()), extra


def test_the_generated_handshakes_reach_every_answer() -> None:
    def agreed(h: tuple[bytes, Headers, bool, Headers]) -> bool:
        ours = _ours(*h)
        return not isinstance(ours, str) and bool(ours[1])

    quick = settings(max_examples=2000, phases=[Phase.generate], database=None)
    assert find(handshakes(), lambda h: _ours(*h) == REFUSED, settings=quick)
    assert find(handshakes(), lambda h: not isinstance(_ours(*h), str) and h[3] != [],
                settings=quick)
    assert find(handshakes(), agreed, settings=quick)


@settings(max_examples=1000)
@given(handshakes())
def test_the_same_handshakes_accepted_and_refused_with_the_same_101(
        case: tuple[bytes, Headers, bool, Headers]) -> None:
    _same(*case)


def test_the_rfc_example_key() -> None:
    # RFC 6455 §1.3: this key's accept value.
    ours = _ours(b"GET", _BASE, False, [])
    assert not isinstance(ours, str)
    assert b"\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" in ours[0]
    _same(b"GET", _BASE, False)


def test_a_deflate_parameter_that_is_not_a_number_declines_the_extension() -> None:
    # wsproto raised ValueError from its accept (a traceback and a 500 before).
    headers = [*_BASE, (b"Sec-WebSocket-Extensions",
                        b"permessage-deflate; client_max_window_bits=x")]
    ours = _ours(b"GET", headers, True, [])
    assert not isinstance(ours, str)
    assert ours[1] == [] and b"Extensions" not in ours[0]


def test_a_host_wsproto_could_not_decode_is_accepted() -> None:
    # wsproto decoded the Host as IDNA (a UnicodeError, a traceback, before); nothing needs it.
    headers = [(b"Host", b"xn--a.example"), *_BASE[1:]]
    with pytest.raises(UnicodeError):
        _wsproto(b"GET", headers, False, [])
    assert not isinstance(_ours(b"GET", headers, False, []), str)


@pytest.mark.parametrize("extra", [[(b"Bad Name", b"x")], [(b"x", b"a\x00b")],
                                   [(b"Content-Length", b"0")]])
def test_an_extra_header_h11_would_refuse_raises(extra: Headers) -> None:
    with pytest.raises(ValueError):
        server_handshake("GET", [(k.lower(), v) for k, v in _BASE], per_message_deflate=False,
                         extra_headers=extra)


def test_a_subprotocol_must_have_been_offered() -> None:
    headers = [(k.lower(), v) for k, v in _BASE] + [(b"sec-websocket-protocol", b"a, chat")]
    response, _ = server_handshake("GET", headers, per_message_deflate=False,
                                   subprotocol="chat")
    assert b"\r\nSec-WebSocket-Protocol: chat\r\n" in response
    with pytest.raises(ValueError):
        server_handshake("GET", headers, per_message_deflate=False, subprotocol="other")
