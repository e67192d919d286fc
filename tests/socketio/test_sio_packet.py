"""The Socket.IO packet codec, bytes in and bytes out (socket.io-protocol README examples)."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from socketio_core.protocol import (
    Decoder,
    LocalProtocolError,
    Packet,
    PacketType,
    RemoteProtocolError,
    encode,
)
from socketio_core.protocol.jsjson import js_number

T = PacketType


def decode_all(*messages: str | bytes, **options: int) -> list[Packet]:
    decoder = Decoder(**options)
    out = []
    for message in messages:
        packet = decoder.receive(message)
        if packet is not None:
            out.append(packet)
    return out


ENCODED: list[tuple[Packet, list[str | bytes]]] = [
    (Packet(T.CONNECT), ["0"]),
    (Packet(T.CONNECT, "/admin"), ["0/admin,"]),
    (Packet(T.CONNECT, "/", {"token": "123"}), ['0{"token":"123"}']),
    (
        Packet(T.CONNECT, "/admin", {"sid": "oSO0OpakMV_3jnilAAAA"}),
        ['0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}'],
    ),
    (Packet(T.DISCONNECT), ["1"]),
    (Packet(T.DISCONNECT, "/admin"), ["1/admin,"]),
    (Packet(T.EVENT, "/", ["hello", 1]), ['2["hello",1]']),
    (Packet(T.EVENT, "/admin", ["x"]), ['2/admin,["x"]']),
    (Packet(T.EVENT, "/", ["a"], 1), ['21["a"]']),
    (
        Packet(T.EVENT, "/admin", ["project:delete", 123], 456),
        ['2/admin,456["project:delete",123]'],
    ),
    (Packet(T.ACK, "/admin", [], 456), ["3/admin,456[]"]),
    (Packet(T.ACK, "/", ["ok", {"a": None}], 1), ['31["ok",{"a":null}]']),
    (
        Packet(T.CONNECT_ERROR, "/", {"message": "Not authorized"}),
        ['4{"message":"Not authorized"}'],
    ),
    (
        Packet(T.CONNECT_ERROR, "/admin", {"message": "Invalid namespace"}),
        ['4/admin,{"message":"Invalid namespace"}'],
    ),
    (Packet(T.CONNECT_ERROR, "/", "bare"), ['4"bare"']),
    (
        Packet(T.EVENT, "/", ["hello", b"\x01\x02\x03"]),
        ['51-["hello",{"_placeholder":true,"num":0}]', b"\x01\x02\x03"],
    ),
    (
        Packet(T.EVENT, "/admin", ["x", {"a": [b"A", {"b": b"B"}]}], 7),
        [
            '52-/admin,7["x",{"a":[{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]}]',
            b"A",
            b"B",
        ],
    ),
    (
        Packet(T.ACK, "/admin", [b"\x00"], 456),
        ['61-/admin,456[{"_placeholder":true,"num":0}]', b"\x00"],
    ),
    (
        Packet(T.EVENT, "/", ["é", "\u2028", "\x7f", "\n\t\x01"]),
        ['2["é","\u2028","\x7f","\\n\\t\\u0001"]'],
    ),
]


@pytest.mark.parametrize(("packet", "wire"), ENCODED)
def test_encode_exact(packet: Packet, wire: list[str | bytes]) -> None:
    assert encode(packet) == wire


@pytest.mark.parametrize(("packet", "wire"), ENCODED)
def test_decode_exact(packet: Packet, wire: list[str | bytes]) -> None:
    assert decode_all(*wire) == [packet]


def test_binary_types_are_normalised_on_encode() -> None:
    assert encode(Packet(T.BINARY_EVENT, "/", ["a", b"x"])) == [
        '51-["a",{"_placeholder":true,"num":0}]',
        b"x",
    ]
    assert encode(Packet(T.BINARY_EVENT, "/", ["a"])) == ['2["a"]']
    assert encode(Packet(T.BINARY_ACK, "/", [b"x"], 3))[0] == '61-3[{"_placeholder":true,"num":0}]'


def test_bytearray_and_memoryview_become_bytes() -> None:
    wire = encode(Packet(T.EVENT, "/", ["a", bytearray(b"ab"), memoryview(b"cd"), (1, 2)]))
    assert wire[1:] == [b"ab", b"cd"]
    assert isinstance(wire[1], bytes) and isinstance(wire[2], bytes)
    assert isinstance(wire[0], str) and wire[0].endswith(",[1,2]]")


def test_decoder_accepts_bytearray_attachments() -> None:
    decoder = Decoder()
    assert decoder.receive('51-["a",{"_placeholder":true,"num":0}]') is None
    assert decoder.pending == Packet(T.EVENT, "/", ["a", {"_placeholder": True, "num": 0}])
    assert decoder.receive(bytearray(b"z")) == Packet(T.EVENT, "/", ["a", b"z"])
    assert decoder.pending is None


def test_decoder_type_error_for_other_objects() -> None:
    with pytest.raises(TypeError):
        Decoder().receive(123)  # type: ignore[arg-type]


def test_decode_namespace_without_comma_and_explicit_root() -> None:
    assert decode_all("0/admin") == [Packet(T.CONNECT, "/admin")]
    assert decode_all('2/,["x"]') == [Packet(T.EVENT, "/", ["x"])]
    assert decode_all('2012["x"]') == [Packet(T.EVENT, "/", ["x"], 12)]
    assert decode_all('2["x"] ') == [Packet(T.EVENT, "/", ["x"])]


def test_js_number_formatting() -> None:
    cases = {
        1.0: "1",
        1.5: "1.5",
        -0.0: "0",
        0.1: "0.1",
        100.0: "100",
        1e16: "10000000000000000",
        1e21: "1e+21",
        1.5e22: "1.5e+22",
        1e-6: "0.000001",
        1e-7: "1e-7",
        2.5e-7: "2.5e-7",
        1.2345e-5: "0.000012345",
        -1.25e-10: "-1.25e-10",
        5e-324: "5e-324",
        float("nan"): "null",
        float("inf"): "null",
        123456789012345680000.0: "123456789012345680000",
    }
    for value, text in cases.items():
        assert js_number(value) == text, value


def test_encode_floats_as_javascript() -> None:
    assert encode(Packet(T.EVENT, "/", ["n", 1.0, 0.00001, 1e-7, float("nan"), 2.5, 10**30])) == [
        '2["n",1,0.00001,1e-7,null,2.5,1000000000000000000000000000000]'
    ]
    assert encode(Packet(T.EVENT, "/", ["n", {1: 1.5, 2.5: "a"}])) == ['2["n",{"1":1.5,"2.5":"a"}]']
    assert encode(Packet(T.EVENT, "/", ["n", {1e-7: 0, False: 0, None: 1}])) == [
        '2["n",{"1e-7":0,"false":0,"null":1}]'
    ]


def test_encode_escapes_lone_surrogates() -> None:
    assert encode(Packet(T.EVENT, "/", ["s", "a\ud800b"])) == ['2["s","a\\ud800b"]']
    assert encode(Packet(T.EVENT, "/", ["s", "a\ud800b", 1e-7])) == ['2["s","a\\ud800b",1e-7]']


@pytest.mark.parametrize(
    "packet",
    [
        Packet(T.EVENT, "/", []),
        Packet(T.EVENT, "/", [1]),
        Packet(T.EVENT, "/", ["disconnect"]),
        Packet(T.EVENT, "/", "x"),
        Packet(T.EVENT, "/", None),
        Packet(T.ACK, "/", []),
        Packet(T.ACK, "/", "x", 1),
        Packet(T.CONNECT, "/", ["x"]),
        Packet(T.CONNECT, "/", {"a": b"x"}),
        Packet(T.DISCONNECT, "/", {}),
        Packet(T.CONNECT_ERROR, "/", None),
        Packet(T.EVENT, "admin", ["x"]),
        Packet(T.EVENT, "/a,b", ["x"]),
        Packet(T.EVENT, "/", ["x"], -1),
        Packet(T.EVENT, "/", ["x"], 2**53),
        Packet(T.EVENT, "/", ["x"], True),
        Packet(T.CONNECT, "/", None, 1),
    ],
)
def test_encode_refuses_invalid_packets(packet: Packet) -> None:
    with pytest.raises(LocalProtocolError):
        encode(packet)


@pytest.mark.parametrize(
    ("packet", "message"),
    [
        (Packet(T.EVENT, "/", ["x", {1, 2}]), "Object of type set is not JSON serializable"),
        (Packet(T.EVENT, "/", ["x", {(1,): 2}]),
         "keys must be str, int, float, bool or None, not tuple"),
        (Packet(T.EVENT, "/", ["x", [object()]]),
         "Object of type object is not JSON serializable"),
        (Packet(T.CONNECT, "/", {"at": datetime.date(2024, 1, 2)}),
         "Object of type date is not JSON serializable"),
    ],
)
def test_data_json_cannot_hold_raises_type_error_naming_its_type(
    packet: Packet, message: str
) -> None:
    with pytest.raises(TypeError) as info:
        encode(packet)
    assert str(info.value) == message
    assert not isinstance(info.value, LocalProtocolError)


def test_encode_refuses_too_deep_data() -> None:
    data: Any = "x"
    for _ in range(5000):
        data = [data]
    with pytest.raises(LocalProtocolError):
        encode(Packet(T.EVENT, "/", ["x", data]))


def bad(*messages: str | bytes, **options: int) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode_all(*messages, **options)
    assert info.value.reason == "parse error"


def test_reject_empty_message() -> None:
    bad("")


def test_reject_unknown_type() -> None:
    bad("7")
    bad("a")


def test_reject_event_without_payload() -> None:
    bad("2")
    bad("2/admin,")


def test_reject_empty_event_array() -> None:
    bad("2[]")


def test_reject_numeric_event_name() -> None:
    bad("2[1]")


def test_reject_object_event_name() -> None:
    bad('2[{"toString":"x"}]')


def test_reject_event_payload_not_array() -> None:
    bad('2{"a":1}')
    bad('2"hello"')


@pytest.mark.parametrize(
    "name",
    ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"],
)
def test_reject_reserved_event_names(name: str) -> None:
    bad(f'2["{name}"]')


def test_reject_garbage_after_payload() -> None:
    bad('2["hello"]x')
    bad('2["hello"]["again"]')


def test_reject_invalid_json() -> None:
    bad('2["hello"')
    bad("2[NaN]")
    bad('2["a",Infinity]')
    bad('2["a",-Infinity]')


def test_reject_payload_not_starting_like_json() -> None:
    bad('2 ["hello"]')
    bad("2true")


def test_reject_deeply_nested_payload() -> None:
    bad('2["a",' + "[" * 100_000 + "]" * 100_000 + "]")


def test_reject_huge_integer_literal() -> None:
    bad('2["a",' + "9" * 5000 + "]")


def test_reject_ack_without_id() -> None:
    bad("3[]")


def test_reject_ack_payload_not_array() -> None:
    bad('31{"a":1}')
    bad("31")


def test_reject_ack_id_not_a_safe_integer() -> None:
    bad('29007199254740992["a"]')
    bad("2" + "1" * 17 + '["a"]')


def test_largest_safe_ack_id_accepted() -> None:
    assert decode_all('29007199254740991["a"]') == [Packet(T.EVENT, "/", ["a"], 2**53 - 1)]


def test_reject_id_on_connect_and_disconnect() -> None:
    bad("01")
    bad("11")
    bad('41{"message":"x"}')


def test_reject_connect_payload_not_object() -> None:
    bad('0["x"]')
    bad('0"x"')


def test_reject_disconnect_with_payload() -> None:
    bad('1{"a":1}')


def test_reject_connect_error_without_payload_or_with_array() -> None:
    bad("4")
    bad('4["x"]')


def test_reject_attachment_count_too_large() -> None:
    bad('5999999999-["hello",{"_placeholder":true,"num":0}]')


def test_reject_attachment_count_over_max() -> None:
    bad('511-["hello",{"_placeholder":true,"num":0}]')
    bad('53-["h",{"_placeholder":true,"num":0}]', max_attachments=2)


def test_reject_attachment_count_zero_or_missing() -> None:
    bad('50-["hello"]')
    bad('5-["hello"]')
    bad('5["hello"]')
    bad('5a-["hello"]')


def test_reject_placeholder_num_not_a_number() -> None:
    bad('51-["hello",{"_placeholder":true,"num":"splice"}]')


def test_reject_placeholder_num_negative() -> None:
    bad('51-["hello",{"_placeholder":true,"num":-1}]')


def test_reject_placeholder_num_out_of_range() -> None:
    bad('51-["hello",{"_placeholder":true,"num":1}]')


def test_reject_placeholder_num_float_or_bool_or_missing() -> None:
    bad('51-["hello",{"_placeholder":true,"num":0.5}]')
    bad('51-["hello",{"_placeholder":true,"num":true}]')
    bad('51-["hello",{"_placeholder":true}]')


def test_reject_placeholder_as_event_name() -> None:
    bad('51-[{"_placeholder":true,"num":0}]')


def test_reject_binary_frame_when_not_reassembling() -> None:
    bad(b"\x01")


def test_reject_text_while_reassembling() -> None:
    bad('51-["a",{"_placeholder":true,"num":0}]', '2["b"]')


def test_reject_attachments_over_byte_cap() -> None:
    bad('52-["a",{"_placeholder":true,"num":0}]', b"12345", b"678", max_attachment_bytes=7)


def test_non_placeholder_objects_left_alone() -> None:
    assert decode_all('2["a",{"_placeholder":false,"num":"x"},{"_placeholder":1}]') == [
        Packet(T.EVENT, "/", ["a", {"_placeholder": False, "num": "x"}, {"_placeholder": 1}])
    ]


def test_decoder_resets_after_error() -> None:
    decoder = Decoder(max_attachment_bytes=1)
    decoder.receive('51-["a",{"_placeholder":true,"num":0}]')
    with pytest.raises(RemoteProtocolError):
        decoder.receive(b"12")
    assert decoder.pending is None
    assert decoder.receive('2["a"]') == Packet(T.EVENT, "/", ["a"])


def test_discard_pending_skips_attachments() -> None:
    decoder = Decoder()
    decoder.receive('52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
    assert decoder.receive(b"x") is None
    decoder.discard_pending()
    assert decoder.receive(b"y") is None
    assert decoder.pending is None
    assert decoder.receive('2["b"]') == Packet(T.EVENT, "/", ["b"])
    decoder.discard_pending()


def test_shared_placeholder_reused() -> None:
    assert decode_all(
        '51-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]', b"q"
    ) == [Packet(T.EVENT, "/", ["a", b"q", b"q"])]


def test_bool_and_none_keys_as_json_dumps_writes_them() -> None:
    assert encode(Packet(T.EVENT, "/", ["k", {True: 1, None: 2}])) == ['2["k",{"true":1,"null":2}]']
