"""JSONP polling in the core: exact bytes in and out of the codec and of a JSONP ServerSession."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_core.protocol import (
    LocalProtocolError,
    MessageReceived,
    ProtocolError,
    RemoteProtocolError,
    ServerConfig,
    ServerSession,
    SessionClosed,
    decode_jsonp_body,
    encode_jsonp,
    jsonp_index,
)

CONFIG = ServerConfig(ping_interval=25.0, ping_timeout=20.0, max_payload=100,
                      upgrade_timeout=10.0, close_timeout=30.0)
OPEN = (b'___eio[3]("0{\\"sid\\":\\"s1\\",\\"upgrades\\":[\\"websocket\\"],\\"pingInterval\\":'
        b'25000,\\"pingTimeout\\":20000,\\"maxPayload\\":100}");')


def client_form(payload: str) -> bytes:
    """A POST body as engine.io-client 3 wrote it for JSONP: newlines escaped, then the form."""
    escaped = payload.replace("\\n", "\\\\n").replace("\n", "\\n")
    return b"d=" + quote(escaped, safe="-_.!~*'()").encode("ascii")


def jsonp_session() -> ServerSession:
    s = ServerSession("s1", CONFIG, transport="polling", now=0.0, jsonp="3")
    s.start_poll(now=0.0)
    assert s.take_poll_payload() == OPEN
    return s


@pytest.mark.parametrize(("j", "index"), [
    ("0", "0"), ("", ""), ("abc", ""), ("1x2", "12"), ("-7", "7"), ("١٢", ""), ("0042", "0042"),
])
def test_the_index_is_the_ascii_digits_of_j(j: str, index: str) -> None:
    assert jsonp_index(j) == index


@pytest.mark.parametrize(("payload", "body"), [
    (b"4hi", b'___eio[0]("4hi");'),
    (b"4a\x1e4b", b'___eio[0]("4a\\u001e4b");'),
    (b'4"\\/', b'___eio[0]("4\\"\\\\/");'),
    (b"4\n\r\t\x08\x0c\x00\x7f", b'___eio[0]("4\\n\\r\\t\\b\\f\\u0000\x7f");'),
    ("4\u2028\u2029€😀".encode(), '___eio[0]("4\\u2028\\u2029€😀");'.encode()),
])
def test_a_payload_is_wrapped_as_a_javascript_call(payload: bytes, body: bytes) -> None:
    assert encode_jsonp(payload, "0") == body


def test_wrapping_refuses_what_the_caller_got_wrong() -> None:
    with pytest.raises(LocalProtocolError):
        encode_jsonp(b"4hi", "1x")
    with pytest.raises(LocalProtocolError):
        encode_jsonp(b"4\xff", "1")


@pytest.mark.parametrize(("body", "payload"), [
    (b"d=4hi", "4hi"),
    (b"d=4hi%1E4ho", "4hi\x1e4ho"),
    (b"x=1&d=4a+b&y", "4a b"),
    (b"%64=4", "4"),  # the key is decoded too
    (b"d=4%2B", "4+"),
    (b"d=", ""),
    (b"d", ""),
    (b"d=4a\\nb", "4a\nb"),  # \n stands for a newline
    (b"d=4a\\\\nb", "4a\\nb"),  # \\n for the two characters \n
    (b"d=4a\\\\\\nb", "4a\\\\nb"),
    (b"d=4%E2%82%AC", "4€"),
    (b"d=4%E2%82", "4\ufffd"),  # not UTF-8: replaced, as querystring does
    (b"d=4%ZZ%41", "4%ZZA"),  # a malformed escape stays as sent
    (b"d=4\xff", "4\ufffd"),
    (b"d=4\xe2\x82\xac%FF", "4\ufffd\ufffd"),  # the fallback keeps each UTF-16 unit's low byte
    (b"&" * 999 + b"d=1", "1"),  # querystring reads 1000 pairs, empty ones included
])
def test_a_form_body_gives_the_payload_in_d(body: bytes, payload: str) -> None:
    assert decode_jsonp_body(body, max_payload=10_000) == payload


@pytest.mark.parametrize("body", [b"", b"x=4hi", b"d=1&d=2", b"&" * 1000 + b"d=1", b"D=4"])
def test_a_body_without_one_d_carries_nothing(body: bytes) -> None:
    assert decode_jsonp_body(body, max_payload=10_000) is None


def test_an_oversized_body_is_refused_before_decoding() -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_jsonp_body(b"d=" + b"4" * 99, max_payload=100)
    assert (info.value.http_status, info.value.reason) == (413, "transport error")


def test_a_jsonp_session_wraps_every_answer_and_reads_forms() -> None:
    s = jsonp_session()
    assert s.receive_poll_body(b"d=4hello%1E4", now=1.0) == [MessageReceived("hello"),
                                                             MessageReceived("")]
    assert s.receive_poll_body(b"nothing=here", now=1.5) == []
    s.start_poll(now=2.0)
    s.send_message("a\n")
    s.send_message(b"\x01")
    assert s.take_poll_payload() == b'___eio[3]("4a\\n\\u001ebAQ==");'


def test_a_jsonp_session_upgrades_and_its_last_poll_gets_a_wrapped_noop() -> None:
    s = jsonp_session()
    s.start_poll(now=1.0)
    s.begin_upgrade(now=1.0)
    s.receive_probe_message("2probe", now=1.0)
    assert s.take_probe_frames() == ["3probe"]
    assert s.poll_ready()
    assert s.take_poll_payload() == b'___eio[3]("6");'
    s.receive_probe_message("5", now=1.5)
    assert s.transport == "websocket"
    s.send_message("hi")
    assert s.take_ws_frames() == ["4hi"]


def test_a_bad_payload_in_d_is_a_parse_error_and_the_parked_poll_gets_the_close() -> None:
    s = jsonp_session()
    s.start_poll(now=1.0)
    assert s.receive_poll_body(b"d=4a%1E9", now=1.0) == [
        MessageReceived("a"), SessionClosed("parse error", "unknown packet type '9'")]
    assert s.take_poll_payload() == b'___eio[3]("1");'


def test_jsonp_is_for_polling_only() -> None:
    with pytest.raises(LocalProtocolError):
        ServerSession("s1", CONFIG, transport="websocket", now=0.0, jsonp="1")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_body_decodes_or_raises_protocol_error(body: bytes) -> None:
    try:
        payload = decode_jsonp_body(body, max_payload=64)
    except ProtocolError:
        assert len(body) > 64
        return
    assert payload is None or isinstance(payload, str)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_any_body_on_a_jsonp_session_gives_events_or_protocol_error(body: bytes) -> None:
    s = jsonp_session()
    try:
        events = s.receive_poll_body(body, now=1.0)
    except ProtocolError:
        events = s.events_after_error()
    assert all(isinstance(e, MessageReceived | SessionClosed) for e in events)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_the_wrapped_payload_is_a_json_string_of_it(text: str) -> None:
    body = encode_jsonp(text.encode(), "12").decode()
    assert body.startswith("___eio[12](") and body.endswith(");")
    inner = body[len("___eio[12]("):-2]
    assert "\u2028" not in inner and "\u2029" not in inner
    assert json.loads(inner) == text


# A newline right after a backslash cannot cross: the client writes it as the same bytes as an
# escaped "\n". Neither a JSON text nor an Engine.IO packet type produces one.
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40).filter(lambda t: "\\\n" not in t))
def test_a_payload_crosses_the_client_form_unchanged(text: str) -> None:
    assert decode_jsonp_body(client_form(text), max_payload=10_000) == text
