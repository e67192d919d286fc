"""Hypothesis properties: each fast path of the Socket.IO codec and connection core gives what
the general path gives, on arbitrary input, including input it must hand to the general path."""

from __future__ import annotations

import enum
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socketio_core.protocol import (
    ClientConnection,
    Decoder,
    LocalProtocolError,
    Packet,
    PacketType,
    ProtocolError,
    ServerConnection,
    encode,
    jsjson,
)
from socketio_core.protocol.connection import Connection
from socketio_core.protocol.events import Event
from socketio_core.protocol.packet import decode_plain, encode_event
from socketio_core.protocol.reasons import RESERVED_EVENTS
from socketio_core.protocol.states import (
    CLIENT_TRANSITIONS,
    SERVER_TRANSITIONS,
    Input,
    NamespaceState,
)

T = PacketType


class Colour(enum.IntEnum):
    RED = 1


# Lone surrogates included: they take the escaping path.
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | any_text
    | st.binary(max_size=4)
    | st.just(Colour.RED)
)
data = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3)
    | st.tuples(inner)
    | st.dictionaries(any_text | st.integers(), inner, max_size=3),
    max_leaves=8,
)
# Mostly flat lists, the fast path's shape, and some that must fall back.
arg_lists = st.lists(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | any_text, max_size=4
) | st.lists(data, max_size=4)
namespaces = st.sampled_from(["/", "/a", "/a/b", "a", "/a,b", ""])
ack_ids = st.sampled_from([None, 0, 7, 2**53 - 1, 2**53, -1, True, 1.0])


def outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except (ValueError, RecursionError, ProtocolError) as error:
        return ("error", type(error), getattr(error, "reason", None))


@settings(max_examples=400)
@given(st.lists(data, max_size=5))
def test_dumps_flat_matches_deconstruct_and_dumps(items: list[Any]) -> None:
    fast = jsjson.dumps_flat(items)
    if fast is not None:
        ready, attachments, plain = jsjson.deconstruct(items)
        assert attachments == []
        assert fast == jsjson.dumps(ready, plain=plain)


@settings(max_examples=400)
@given(st.lists(st.floats() | st.integers(-(2**60), 2**60) | st.floats(-1e-3, 1e-3)
                | st.floats(1e15, 1e17) | st.sampled_from([1e-4, -1e-4, 0.5, -0.0]), max_size=4))
def test_dumps_flat_writes_floats_as_javascript(items: list[Any]) -> None:
    fast = jsjson.dumps_flat(items)
    floats = [item for item in items if type(item) is float]
    if all(not f.is_integer() and 1e-4 <= abs(f) < 1e16 for f in floats):
        assert fast is not None
    if fast is not None:
        ready, _, plain = jsjson.deconstruct(items)
        assert fast == jsjson.dumps(ready, plain=plain)
        assert fast == "[" + ",".join(
            jsjson.js_number(item) if type(item) is float else json.dumps(item)
            for item in items) + "]"


@pytest.mark.parametrize("items", [["a", 1, None, True], ["\ud800", "é"], [], [0.1, -2.5],
                                   [1717171717.125, 0.0001]])
def test_dumps_flat_takes_flat_lists(items: list[Any]) -> None:
    ready, _, plain = jsjson.deconstruct(items)
    assert jsjson.dumps_flat(items) == jsjson.dumps(ready, plain=plain)


@pytest.mark.parametrize("items", [[1.0], [-0.0], [0.00005], [1e300], [float("nan")],
                                   [float("inf")], [b"x"], [[]], [{}], [Colour.RED], [("a",)]])
def test_dumps_flat_refuses_what_needs_the_walk(items: list[Any]) -> None:
    assert jsjson.dumps_flat(items) is None


json_texts = st.one_of(
    st.builds(json.dumps, st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
        max_leaves=8,
    )),
    any_text,
)


@settings(max_examples=400)
@given(any_text, json_texts, st.sampled_from(["", " ", "\n\t", " x", "]", "NaN"]))
def test_loads_at_matches_loads_of_the_slice(prefix: str, body: str, suffix: str) -> None:
    text = prefix + body + suffix
    start = len(prefix)
    if not text[start:start + 1] or text[start] not in '[{"':
        return
    assert outcome(jsjson.loads_at, text, start) == outcome(jsjson.loads, text[start:])


def general_decode(text: str) -> Any:
    return Decoder()._receive_general(text)


plain_texts = st.one_of(
    st.builds(
        lambda kind, ns, name, items, ack_id: encode(
            Packet(kind, ns, [name, *items], ack_id if kind is T.EVENT else ack_id or 0))[0],
        st.sampled_from([T.EVENT, T.ACK]),
        st.sampled_from(["/", "/a"]),
        any_text.filter(lambda name: name not in RESERVED_EVENTS),
        st.lists(st.none() | st.integers() | any_text, max_size=3),
        st.none() | st.integers(0, 2**53 - 1),
    ),
    st.builds(
        lambda head, body: head + body,
        st.sampled_from(["2", "3", "20", "31", "2" + "9" * 16, "3" + "9" * 17, "29007199254740992",
                         "4", "5", "2/", ""]),
        st.sampled_from(['["e"]', '["connect"]', "[1]", "[]", '["e",1] ', '["e"]x', "{}", '"x"',
                         '["e",NaN]', "[" * 3000, '["e",{"_placeholder":true,"num":0}]'])
        | any_text,
    ),
)


@settings(max_examples=600)
@given(plain_texts)
def test_decode_plain_matches_the_general_decoder(text: str) -> None:
    fast = decode_plain(text)
    general = outcome(general_decode, text)
    if fast is not None:
        kind, items, ack_id = fast
        assert general == ("ok", Packet(kind, "/", items, ack_id))


@pytest.mark.parametrize("text", ['2["e",1]', '21["e"]', "30[]", '3123["a",{"b":[1]}]'])
def test_decode_plain_takes_the_usual_packets(text: str) -> None:
    fast = decode_plain(text)
    assert fast is not None
    assert Packet(fast[0], "/", fast[1], fast[2]) == general_decode(text)


@settings(max_examples=400)
@given(st.sampled_from([T.EVENT, T.ACK, T.CONNECT, T.BINARY_EVENT]), namespaces,
       st.one_of(arg_lists, st.builds(lambda a: ["e", *a], arg_lists),
                 st.builds(lambda a: ["connect", *a], arg_lists)),
       ack_ids)
def test_encode_event_matches_encode(
    kind: PacketType, namespace: str, items: list[Any], ack_id: Any
) -> None:
    def general() -> Any:
        return encode(Packet(kind, namespace, items, ack_id))

    def fast() -> Any:
        return encode_event(kind, namespace, items, ack_id)

    def run(fn: Any) -> Any:
        try:
            return ("ok", fn())
        except LocalProtocolError as error:
            return ("error", str(error))

    assert run(fast) == run(general)


def test_connected_stays_connected() -> None:
    # What the connection's fast paths skip the table for.
    connected = NamespaceState.CONNECTED
    for table in (SERVER_TRANSITIONS, CLIENT_TRANSITIONS):
        for event in (Input.EMIT, Input.ACK, Input.RECEIVE_EVENT, Input.RECEIVE_ACK):
            assert table[connected, event] is connected


def general_receive(connection: Connection, message: str, now: float) -> list[Event]:
    """``receive_message`` through the general decoder and the state table only."""
    connection._check_open()
    events = connection.handle_timeout(now=now)
    if connection.closed:
        return events
    try:
        packet = connection._decoder.receive(message) if connection._decoder.pending else (
            connection._decoder._receive_general(message))
        header = connection._decoder.pending
        if header is not None:
            connection._check_binary_header(header)
        if packet is not None:
            connection._on_packet(packet, events)
    except ProtocolError:
        connection._shut()
        raise
    return events


def connected_pair() -> tuple[Connection, Connection]:
    pair: list[Connection] = []
    for _ in range(2):
        server = ServerConnection(now=0.0)
        server.receive_message("0", now=0.0)
        server.accept("/", "sid")
        server.emit("/", "e", [], ack=True, timeout=5.0, now=0.0)
        server.emit("/", "e", [], ack=True)
        pair.append(server)
    return pair[0], pair[1]


def connected_clients() -> tuple[Connection, Connection]:
    pair: list[Connection] = []
    for _ in range(2):
        client = ClientConnection()
        client.connect("/")
        client.receive_message('0{"sid":"s"}', now=0.0)
        client.emit("/", "e", [], ack=True)
        pair.append(client)
    return pair[0], pair[1]


@settings(max_examples=300)
@given(st.lists(plain_texts, max_size=6), st.booleans())
def test_receive_message_matches_the_general_path(texts: list[str], client: bool) -> None:
    fast, general = connected_clients() if client else connected_pair()
    for now, text in enumerate(texts, start=1):
        try:
            got = ("ok", fast.receive_message(text, now=float(now)))
        except ProtocolError as error:
            got = ("error", error.reason)
        try:
            want = ("ok", general_receive(general, text, float(now)))
        except ProtocolError as error:
            want = ("error", error.reason)
        assert got == want
        assert fast.closed == general.closed
        if fast.closed:
            return
        assert fast.namespaces == general.namespaces
        assert fast.take_messages() == general.take_messages()
