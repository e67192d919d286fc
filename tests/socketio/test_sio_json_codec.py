"""The application's own JSON (``json=``): a module or an ``(encode, decode)`` pair writes and
reads every payload; binary values still travel as attachments; without it nothing changes."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socketio_core.protocol import (
    ClientConnection,
    Connected,
    Decoder,
    EventReceived,
    JSONCodec,
    NamespaceState,
    Packet,
    PacketType,
    RemoteProtocolError,
    ServerConnection,
    as_codec,
    encode,
)
from tests.json_dates import DateEncoder, DateJSON, date_hook

T = PacketType


PAIR = (DateEncoder(separators=(",", ":")).encode, json.JSONDecoder(object_hook=date_hook).decode)
WHEN = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)


@pytest.mark.parametrize("option", [DateJSON, PAIR], ids=["module", "pair"])
def test_a_custom_codec_writes_and_reads_every_payload(option: Any) -> None:
    codec = as_codec(option)
    packet = Packet(T.EVENT, "/chat", ["at", {"when": WHEN}], 3)
    assert encode(packet, json=codec) == [
        '2/chat,3["at",{"when":{"$date":"2024-05-06T07:08:09+00:00"}}]']
    decoder = Decoder(json=codec)
    assert decoder.receive(encode(packet, json=codec)[0]) == packet


def test_a_module_is_called_as_python_socketio_calls_it() -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []

    class Spy:
        @staticmethod
        def dumps(obj: Any, **kwargs: Any) -> str:
            calls.append((obj, kwargs))
            return json.dumps(obj, **kwargs)

        loads = staticmethod(json.loads)

    assert encode(Packet(T.EVENT, "/", ["e", 1.0]), json=as_codec(Spy)) == ['2["e",1.0]']
    assert calls == [(["e", 1.0], {"separators": (",", ":")})]


def test_binary_values_still_travel_as_attachments() -> None:
    codec = as_codec(DateJSON)
    packet = Packet(T.EVENT, "/", ["file", {"at": WHEN, "body": b"\x00\x01"}, bytearray(b"z")])
    parts = encode(packet, json=codec)
    assert parts == [
        '52-["file",{"at":{"$date":"2024-05-06T07:08:09+00:00"},'
        '"body":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]',
        b"\x00\x01", b"z",
    ]
    decoder = Decoder(json=codec)
    assert [decoder.receive(part) for part in parts] == [
        None, None, Packet(T.EVENT, "/", ["file", {"at": WHEN, "body": b"\x00\x01"}, b"z"])]


def test_bytes_from_dumps_are_read_as_utf8() -> None:
    codec = JSONCodec(lambda obj: json.dumps(obj, ensure_ascii=False).encode(), json.loads)
    assert encode(Packet(T.EVENT, "/", ["é"]), json=codec) == ['2["é"]']


@pytest.mark.parametrize("text", ['2["e",NaN', '2["e",{"$date":"not a date"}]', "2{}", '2[1]'])
def test_what_the_codec_cannot_read_is_a_parse_error(text: str) -> None:
    decoder = Decoder(json=as_codec(DateJSON))
    with pytest.raises(RemoteProtocolError) as info:
        decoder.receive(text)
    assert info.value.reason == "parse error"


def test_what_the_codec_cannot_write_raises_its_error() -> None:
    with pytest.raises(TypeError, match="Object of type set is not JSON serializable"):
        encode(Packet(T.EVENT, "/", ["e", {1}]), json=as_codec(DateJSON))


@pytest.mark.parametrize("option", [object(), (json.dumps,), (json.dumps, 1), "json"])
def test_as_codec_refuses_what_is_neither_a_module_nor_a_pair(option: Any) -> None:
    with pytest.raises(TypeError, match="json= takes a module with dumps and loads"):
        as_codec(option)


def test_both_cores_use_the_codec_end_to_end() -> None:
    codec = as_codec(DateJSON)
    server = ServerConnection(now=0.0, json=codec)
    client = ClientConnection(json=codec)
    client.connect("/", {"since": WHEN})
    [request] = [e for m in client.take_messages() for e in server.receive_message(m, now=0.0)]
    assert request.auth == {"since": WHEN}  # type: ignore[union-attr]
    server.accept("/", "sid1")
    [connected] = [e for m in server.take_messages() for e in client.receive_message(m, now=0.0)]
    assert connected == Connected("/", "sid1")
    server.emit("/", "tick", [WHEN, b"raw"])
    events = [e for m in server.take_messages() for e in client.receive_message(m, now=0.0)]
    assert events == [EventReceived("/", "tick", (WHEN, b"raw"), None)]
    client.emit("/", "tock", [{"at": WHEN}])
    events = [e for m in client.take_messages() for e in server.receive_message(m, now=0.0)]
    assert events == [EventReceived("/", "tock", ({"at": WHEN},), None)]


def test_without_a_codec_a_date_is_refused_without_side_effect() -> None:
    server = ServerConnection(now=0.0)
    server.receive_message('0{"token":"x"}', now=0.0)
    with pytest.raises(TypeError, match=r"^Object of type datetime is not JSON serializable$"):
        server.reject("/", "no", {"at": WHEN})
    assert server.state("/") is NamespaceState.CONNECTING
    assert server.take_messages() == []
    server.accept("/", "sid1")
    with pytest.raises(TypeError, match=r"^Object of type datetime is not JSON serializable$"):
        server.emit("/", "e", [WHEN], ack=True)
    assert server.emit("/", "e", [], ack=True) == 0  # the refused emit took no ack id
    assert server.take_messages() == ['0{"sid":"sid1"}', '20["e"]']


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(json_values, max_size=4))
def test_the_standard_json_module_reads_and_writes_as_the_builtin_codec(args: list[Any]) -> None:
    """Plain JSON data (no floats, whose spelling differs between Python and JavaScript):
    ``json=json`` writes the same values as the built-in codec, and each reads the other's."""
    codec = as_codec(json)
    packet = Packet(T.EVENT, "/", ["e", *args], 1)
    ours = encode(packet)
    theirs = encode(packet, json=codec)
    assert json.loads(ours[0][2:]) == json.loads(theirs[0][2:])
    assert Decoder(json=codec).receive(ours[0]) == packet
    assert Decoder().receive(theirs[0]) == packet
