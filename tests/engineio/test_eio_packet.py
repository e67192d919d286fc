"""Engine.IO packet and payload codecs: exact bytes, round trips, hostile input."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_core.protocol import (
    LocalProtocolError,
    Packet,
    PacketType,
    ProtocolError,
    RemoteProtocolError,
    decode_payload,
    decode_text_packet,
    decode_ws_frame,
    encode_payload,
    encode_text_packet,
    encode_ws_frame,
    only_messages_and_pongs,
)

T = PacketType


@pytest.mark.parametrize(
    ("packet", "wire"),
    [
        (Packet(T.OPEN, '{"sid":"x"}'), '0{"sid":"x"}'),
        (Packet(T.CLOSE), "1"),
        (Packet(T.PING), "2"),
        (Packet(T.PING, "probe"), "2probe"),
        (Packet(T.PONG), "3"),
        (Packet(T.PONG, "probe"), "3probe"),
        (Packet(T.MESSAGE, "hello"), "4hello"),
        (Packet(T.MESSAGE, ""), "4"),
        (Packet(T.MESSAGE, "€"), "4€"),
        (Packet(T.UPGRADE), "5"),
        (Packet(T.NOOP), "6"),
    ],
)
def test_every_packet_type_encodes_and_decodes_exactly(packet: Packet, wire: str) -> None:
    assert encode_ws_frame(packet) == wire
    assert encode_text_packet(packet) == wire
    assert decode_ws_frame(wire) == packet
    assert decode_text_packet(wire) == packet


def test_binary_message_is_a_raw_frame_on_websocket_and_base64_on_polling() -> None:
    packet = Packet(T.MESSAGE, b"\x01\x02\x03\x04")
    assert encode_ws_frame(packet) == b"\x01\x02\x03\x04"
    assert encode_text_packet(packet) == "bAQIDBA=="
    assert decode_ws_frame(b"\x01\x02\x03\x04") == packet
    frame = bytearray(b"\x01\x02\x03\x04")
    assert decode_ws_frame(frame) == packet  # type: ignore[arg-type]
    assert decode_ws_frame("bAQIDBA==") == packet
    assert decode_ws_frame(b"") == Packet(T.MESSAGE, b"")
    assert decode_text_packet("b") == Packet(T.MESSAGE, b"")


def test_canonical_form() -> None:
    assert Packet(T.MESSAGE).data == ""
    assert Packet(T.PING, "").data is None
    assert Packet(T.MESSAGE, bytearray(b"ab")).data == b"ab"  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        Packet(T.PING, b"binary ping")


@pytest.mark.parametrize("wire", ["", "7", "9x", "x", "a", " 4", "bAQ", "b!!!!", "b€", "bAQIDBA=x"])
def test_malformed_text_packets_are_parse_errors(wire: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_text_packet(wire)
    assert info.value.reason == "parse error"
    assert info.value.http_status == 400


def test_payload_exact_bytes() -> None:
    packets = [Packet(T.MESSAGE, "hello"), Packet(T.PING), Packet(T.MESSAGE, "world")]
    assert encode_payload(packets) == b"4hello\x1e2\x1e4world"
    mixed = [Packet(T.MESSAGE, "hello"), Packet(T.MESSAGE, b"\x01\x02\x03\x04")]
    assert encode_payload(mixed) == b"4hello\x1ebAQIDBA=="
    assert decode_payload(b"4hello\x1ebAQIDBA==", max_payload=100) == mixed
    assert decode_payload("4€".encode(), max_payload=100) == [Packet(T.MESSAGE, "€")]
    assert encode_payload([Packet(T.NOOP)]) == b"6"


def test_payload_refuses_what_it_cannot_frame() -> None:
    with pytest.raises(LocalProtocolError):
        encode_payload([])
    with pytest.raises(LocalProtocolError):
        encode_payload([Packet(T.MESSAGE, "a\x1eb")])


@pytest.mark.parametrize(
    "body",
    [b"", b"\x1e", b"4a\x1e", b"\x1e4a", b"4a\x1e\x1e4b", b"4a\x1e9", b"4\xff", b"bAQ=\x1e4",
     b"b====", b"\xc3"],
)
def test_malformed_payloads_are_parse_errors(body: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_payload(body, max_payload=1000)
    assert info.value.reason == "parse error"


def test_max_payload_is_enforced_at_the_byte() -> None:
    body = b"4" + b"x" * 99
    assert decode_payload(body, max_payload=100) == [Packet(T.MESSAGE, "x" * 99)]
    with pytest.raises(RemoteProtocolError) as info:
        decode_payload(body + b"x", max_payload=100)
    assert (info.value.http_status, info.value.reason, info.value.ws_close_code) == (
        413, "transport error", 1009)


texts = st.text(alphabet=st.characters(blacklist_characters="\x1e", blacklist_categories=["Cs"]))
message_packets = st.one_of(
    st.builds(Packet, st.just(T.MESSAGE), texts),
    st.builds(Packet, st.just(T.MESSAGE), st.binary()),
)
control_packets = st.builds(
    Packet,
    st.sampled_from([t for t in T if t is not T.MESSAGE]),
    st.one_of(st.none(), texts.filter(bool)),
)
packets = st.one_of(message_packets, control_packets)


@settings(max_examples=200, deadline=None)
@given(packets)
def test_ws_round_trip(packet: Packet) -> None:
    assert decode_ws_frame(encode_ws_frame(packet)) == packet
    assert decode_text_packet(encode_text_packet(packet)) == packet


@settings(max_examples=200, deadline=None)
@given(st.lists(packets, min_size=1, max_size=8))
def test_payload_round_trip(items: list[Packet]) -> None:
    body = encode_payload(items)
    assert decode_payload(body, max_payload=len(body)) == items
    with pytest.raises(RemoteProtocolError):
        decode_payload(body, max_payload=len(body) - 1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_or_raise_protocol_error(body: bytes) -> None:
    try:
        decode_payload(body, max_payload=32)
    except ProtocolError:
        pass
    decode_ws_frame(body)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=64))
def test_arbitrary_text_decodes_or_raises_protocol_error(text: str) -> None:
    try:
        decode_ws_frame(text)
    except ProtocolError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=48))
def test_any_base64_of_binary_decodes(raw: bytes) -> None:
    wire = "b" + base64.b64encode(raw).decode()
    assert decode_text_packet(wire) == Packet(T.MESSAGE, raw)


@pytest.mark.parametrize("body, only", [
    (b'42["echo","hi"]', True), (b"3", True), (b"bAQID", True), (b'4a\x1e3\x1e4b', True),
    (b"1", False), (b'4a\x1e1', False), (b"", False), (b"4a\x1e", False), (b"d=4a", False),
])
def test_only_messages_and_pongs_exact_bytes(body: bytes, only: bool) -> None:
    # What a server may act on before a GET sent with it is parked (engineio_core/_polling.py's
    # POST): its effect is the same either way; anything else (a close, bad input) waits.
    assert only_messages_and_pongs(body) is only


@settings(max_examples=200, deadline=None)
@given(st.lists(packets, min_size=1, max_size=8))
def test_only_messages_and_pongs_agrees_with_the_decoded_payload(items: list[Packet]) -> None:
    body = encode_payload(items)
    assert only_messages_and_pongs(body) is all(p.type in (T.MESSAGE, T.PONG) for p in items)

