"""Hypothesis properties: the codec round-trips, and hostile input ends in success or a
ProtocolError, for the decoder and for both connection cores."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from socketio_core.protocol import (
    ClientConnection,
    Decoder,
    Packet,
    PacketType,
    ProtocolError,
    ServerConnection,
    encode,
    jsjson,
)
from socketio_core.protocol.reasons import RESERVED_EVENTS

T = PacketType

keys = st.text(max_size=8).filter(lambda key: key != "_placeholder")
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
with_binary = st.recursive(
    scalars | st.binary(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
namespaces = st.just("/") | st.from_regex(r"/[a-z0-9_/-]{1,8}", fullmatch=True)
event_names = st.text(min_size=0, max_size=10).filter(lambda name: name not in RESERVED_EVENTS)
ack_ids = st.none() | st.integers(min_value=0, max_value=2**53 - 1)


def same(a: Any, b: Any) -> bool:
    """Equal as JavaScript sees it: every number is a double."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool):
        if isinstance(a, float) or isinstance(b, float):
            return not isinstance(b, bool) and float(a) == float(b)
    return type(a) is type(b) and a == b


def same_packet(a: Packet | None, b: Packet) -> bool:
    assert a is not None
    return (a.type, a.namespace, a.id) == (b.type, b.namespace, b.id) and same(a.data, b.data)


def roundtrip(packet: Packet) -> Packet | None:
    decoder = Decoder(max_attachments=1000)
    result = None
    for part in encode(packet):
        result = decoder.receive(part)
    return result


@given(namespaces, event_names, st.lists(with_binary, max_size=4), ack_ids)
def test_event_roundtrip(namespace: str, event: str, args: list[Any], ack_id: int | None) -> None:
    packet = Packet(T.EVENT, namespace, [event, *args], ack_id)
    assert same_packet(roundtrip(packet), packet)


@given(namespaces, st.lists(with_binary, max_size=4), st.integers(0, 2**53 - 1))
def test_ack_roundtrip(namespace: str, args: list[Any], ack_id: int) -> None:
    packet = Packet(T.ACK, namespace, args, ack_id)
    assert same_packet(roundtrip(packet), packet)


@given(namespaces, st.none() | st.dictionaries(keys, json_data, max_size=4))
def test_connect_roundtrip(namespace: str, data: dict[str, Any] | None) -> None:
    packet = Packet(T.CONNECT, namespace, data)
    assert same_packet(roundtrip(packet), packet)


@given(namespaces, st.text(max_size=10) | st.dictionaries(keys, json_data, max_size=4))
def test_connect_error_and_disconnect_roundtrip(namespace: str, data: Any) -> None:
    assert same_packet(
        roundtrip(Packet(T.CONNECT_ERROR, namespace, data)),
        Packet(T.CONNECT_ERROR, namespace, data),
    )
    assert roundtrip(Packet(T.DISCONNECT, namespace)) == Packet(T.DISCONNECT, namespace)


@given(st.lists(json_data, max_size=4))
def test_plain_json_matches_json_dumps_modulo_numbers(args: list[Any]) -> None:
    text = encode(Packet(T.EVENT, "/", ["e", *args]))[0]
    assert isinstance(text, str)
    assert same(json.loads(text[1:]), ["e", *args])


@given(json_data | st.text())
def test_the_encoder_made_once_writes_what_the_public_encoder_writes(value: Any) -> None:
    """jsjson keeps CPython's C encoder made once (undocumented, and 2x faster than the public
    API that makes it per call): the two write the same text, surrogates and all."""
    assert jsjson._encode_plain(value) == jsjson._public_encode(value)


messages = st.lists(
    st.one_of(
        st.text(max_size=30),
        st.binary(max_size=8),
        st.sampled_from(
            [
                "0",
                "0/a,",
                '0{"x":1}',
                '40{"sid":"s"}',
                '0{"sid":"s"}',
                '0/a,{"sid":"s"}',
                "1",
                "1/a,",
                '2["e",1]',
                '21["e"]',
                '2/a,3["e"]',
                "30[]",
                "31[1]",
                '3/a,0["r"]',
                '4{"message":"m"}',
                '4/a,{"message":"m","data":1}',
                '4"x"',
                "40",
                '51-["e",{"_placeholder":true,"num":0}]',
                '61-0[{"_placeholder":true,"num":0}]',
                '51-/a,["e",{"_placeholder":true,"num":0}]',
                "0{}",
            ]
        ),
    ),
    max_size=12,
)


@settings(max_examples=200)
@given(messages)
def test_decoder_accepts_or_raises_protocol_error(sequence: list[str | bytes]) -> None:
    decoder = Decoder()
    for message in sequence:
        try:
            decoder.receive(message)
        except ProtocolError:
            decoder = Decoder()


@settings(max_examples=200)
@given(messages, st.lists(st.sampled_from(["accept", "reject", "emit", "ack", "bye", "tick"])))
def test_server_accepts_or_raises_protocol_error(
    sequence: list[str | bytes], actions: list[str]
) -> None:
    server = ServerConnection(now=0.0, connect_timeout=5.0)
    now = 0.0
    for index, message in enumerate(sequence):
        now += 1.0
        try:
            events = server.receive_message(message, now=now)
        except ProtocolError:
            assert server.closed
            return
        for event in events:
            namespace = getattr(event, "namespace", None)
            if namespace is None:
                continue
            action = actions[index % len(actions)] if actions else "accept"
            try:
                if action == "accept":
                    server.accept(namespace, "sid")
                elif action == "reject":
                    server.reject(namespace, "no")
                elif action == "emit":
                    server.emit(namespace, "e", [b"x"], ack=True, timeout=1.0, now=now)
                elif action == "ack":
                    server.ack(namespace, 0, [1])
                elif action == "bye":
                    server.disconnect(namespace)
                else:
                    server.handle_timeout(now=now + 2)
            except ProtocolError:
                pass
        server.take_messages()
        if server.closed:
            return


@settings(max_examples=200)
@given(messages, st.sampled_from(["/", "/a"]))
def test_client_accepts_or_raises_protocol_error(
    sequence: list[str | bytes], namespace: str
) -> None:
    client = ClientConnection()
    client.connect(namespace)
    now = 0.0
    for message in sequence:
        now += 1.0
        try:
            client.receive_message(message, now=now)
        except ProtocolError:
            assert client.closed
            return
        if namespace in client.namespaces:
            client.emit(namespace, "e", [1], ack=True, timeout=0.5, now=now)
