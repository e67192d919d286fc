"""The Redis adapters' codecs, bytes in and bytes out: every message type against the frames
captured from the official Node packages (shared/cluster-wire.md §7), the value encodings
against notepack.io, @msgpack/msgpack and JSON.stringify run in Node on the same values, and
hypothesis properties (round trips; arbitrary bytes raise ``CodecError`` and nothing else)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socketio_core.protocol import BroadcastTarget, Session
from socketio_core.redis import cluster_wire as cw
from socketio_core.redis import pubsub_wire as pw
from socketio_core.redis.codec import (
    CodecError,
    decode_auto,
    json_dumps,
    json_loads,
    pack,
    unpack,
)
from socketio_core.redis.wire import decode_details, decode_opts, encode_details, encode_opts

ROOT = Path(__file__).resolve().parents[2]
SID = "CVQoTWXseElioOe4AAAA"


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def s(text: str) -> bytes:
    return text.encode()


def test_pubsub_broadcast_to_all_is_the_captured_frame() -> None:
    frame = h("93 a6 5a6a436a6866 83 a4 74797065 02 a4 64617461 92 a6 7761726d7570 a2 7731"
              " a3 6e7370 a1 2f 83 a5 726f6f6d73 90 a6 657863657074 90 a5 666c616773 80")
    assert len(frame) == 60
    assert pw.encode_broadcast("ZjCjhf", "/", ["warmup", "w1"], BroadcastTarget()) == frame
    decoded = pw.decode_broadcast(frame)
    assert (decoded.uid, decoded.nsp, decoded.data) == ("ZjCjhf", "/", ["warmup", "w1"])
    assert decoded.target == BroadcastTarget()


def test_pubsub_broadcast_to_one_room_with_binary_goes_to_the_room_channel() -> None:
    big = bytes([7]) * 70_000
    data = ["bin", "t21", b"\x00\x01\x02\xff", {"nested": [big, "x"]}]
    target = BroadcastTarget(rooms=frozenset({"room-b"}))
    frame = pw.encode_broadcast("ZjCjhf", "/", data, target)
    assert frame.startswith(h("93 a6 5a6a436a6866 83 a4") + b"type" + h("02 a4") + b"data"
                            + h("94 a3") + b"bin" + h("a3") + b"t21" + h("c4 04 000102ff 81 a6")
                            + b"nested" + h("92 c6 00011170") + big[:10])
    assert pw.Channels("socket.io", "/").broadcast_to(target) == "socket.io#/#room-b#"
    assert pw.Channels("socket.io", "/").broadcast_to(BroadcastTarget()) == "socket.io#/#"
    assert pw.decode_broadcast(frame).data == data


def test_pubsub_broadcast_with_ack_request_is_the_captured_frame() -> None:
    frame = (b"\x85\xa3uid\xa6ZjCjhf\xa9requestId\xa6UXlCH0\xa4type\x07\xa6packet\x83\xa4type"
             b"\x02\xa4data\x92\xa6ack-me\xa3rs0\xa3nsp\xa1/\xa4opts\x83\xa5rooms\x91\xb4" + s(SID)
             + b"\xa6except\x90\xa5flags\x82\xb4expectSingleResponse\xc3\xa7timeout\xcd\x0b\xb8")
    target = BroadcastTarget(rooms=frozenset({SID}), timeout=3.0, expect_single_response=True)
    built = {"uid": "ZjCjhf", "requestId": "UXlCH0", "type": 7,
             "packet": {"type": 2, "data": ["ack-me", "rs0"], "nsp": "/"},
             "opts": encode_opts(target)}
    assert pw.encode_msgpack(built) == frame
    request = pw.decode_request(frame)
    assert (request.type, request.uid, request.request_id) == (7, "ZjCjhf", "UXlCH0")
    assert request.data == ["ack-me", "rs0"]
    assert request.target == target
    # the answers: JSON client count, then a msgpack ack
    count = s('{"type":8,"requestId":"UXlCH0","clientCount":1}')
    assert pw.encode_json({"type": 8, "requestId": "UXlCH0", "clientCount": 1}) == count
    assert pw.decode_response(count) == pw.Response(8, "UXlCH0", (1,))
    ack = pw.encode_msgpack({"type": 9, "requestId": "UXlCH0", "packet": {"sid": SID, "x": "rs0"}})
    assert ack[:1] == b"\x83"
    assert pw.decode_response(ack) == pw.Response(9, "UXlCH0", ({"sid": SID, "x": "rs0"},))


@pytest.mark.parametrize("text", [
    '{"uid":"ZjCjhf","requestId":"tLE6oc","type":1}',
    '{"uid":"ZjCjhf","requestId":"9a9wlb","type":6,"data":["cluster-ask","ssa31"]}',
    '{"uid":"ZjCjhf","requestId":"Czc_Xl","type":5,"opts":{"rooms":["room-b"],"except":["room-a"]}}',
    '{"uid":"ZjCjhf","type":2,"opts":{"rooms":["room-b"],"except":[]},"rooms":["room-d0"]}',
    '{"uid":"ZjCjhf","type":4,"opts":{"rooms":["doomed-close-0"],"except":[]},"close":true}',
    '{"uid":"emitter","type":6,"data":["cluster-note","e44"]}',
    '{"type":2,"opts":{"rooms":["room-b"],"except":[]},"rooms":["room-e"]}',
])
def test_pubsub_requests_are_the_captured_frames(text: str) -> None:
    frame = s(text)
    request = pw.decode_request(frame)
    message = json.loads(text)
    built: dict[str, Any] = {}
    if request.uid is not None:
        built["uid"] = request.uid
    if request.request_id is not None:
        built["requestId"] = request.request_id
    built["type"] = request.type
    if request.target is not None:
        built["opts"] = encode_opts(request.target, flags=False)
    if request.type in (2, 3):
        built["rooms"] = list(request.rooms)
    if request.type == 4:
        built["close"] = request.close
    if request.data is not None:
        built["data"] = request.data
    assert built == message
    assert pw.encode_json(built) == frame


def test_pubsub_responses_are_the_captured_frames() -> None:
    rooms = s('{"requestId":"tLE6oc","rooms":["CVQoTWXseElioOe4AAAA","qKUOhux5Qe_rWbV1AAAB",'
              '"room-a","room-b","solo-1"]}')
    assert pw.decode_response(rooms).values[2:] == ("room-a", "room-b", "solo-1")
    answer = s('{"type":6,"requestId":"9a9wlb","data":{"name":"node-1","args":["ssa31"]}}')
    assert pw.encode_json({"type": 6, "requestId": "9a9wlb",
                           "data": {"name": "node-1", "args": ["ssa31"]}}) == answer
    assert pw.decode_response(answer).values == ({"name": "node-1", "args": ["ssa31"]},)
    # a server-side ack called without a value leaves ``data`` out
    assert pw.decode_response(s('{"type":6,"requestId":"9a9wlb"}')).values == ()
    empty = s('{"requestId":"Czc_Xl","sockets":[]}')
    assert pw.encode_json({"requestId": "Czc_Xl", "sockets": []}) == empty
    assert pw.decode_response(empty) == pw.Response(None, "Czc_Xl", ())


def test_fetch_answer_details_round_trip_with_node_handshake() -> None:
    text = ('{"id":"CVQoTWXseElioOe4AAAA","handshake":{"headers":{"host":"127.0.0.1:45231"},'
            '"time":"Fri Dec 04 2026 02:08:43 GMT+0000 (Coordinated Universal Time)",'
            '"address":"127.0.0.1","xdomain":false,"secure":false,"issued":1796350123440,'
            '"url":"/socket.io/?cq=q-a1&EIO=4&transport=websocket",'
            '"query":{"cq":"q-a1","EIO":"4","transport":"websocket"},"auth":{"token":"tok-a1"}},'
            '"rooms":["CVQoTWXseElioOe4AAAA"],"data":{"label":"a1","node":1,'
            '"nested":{"list":[1,"two",null],"ok":true}}}')
    details = decode_details(json_loads(text))
    assert details.id == SID and details.rooms == {SID}
    assert details.handshake["auth"] == {"token": "tok-a1"}
    assert details.handshake["query"]["cq"] == "q-a1"
    assert details.handshake["issued"] == 1796350123440
    assert details.data["nested"] == {"list": [1, "two", None], "ok": True}

    class Shake:
        headers = {"host": "h"}
        query = {"cq": "q"}
        auth = {"token": "t"}
        address = "127.0.0.1"
        url = "/socket.io/?cq=q"
        secure = False
        xdomain = False
        issued = 1
        time = "Thu, 01 Jan 1970 00:00:00 GMT"

    class Sock:
        id = SID
        handshake = Shake()
        rooms = frozenset({SID, "r"})
        data = {"x": b"\x01"}

    encoded = encode_details(Sock())
    assert list(encoded) == ["id", "handshake", "rooms", "data"]
    assert list(encoded["handshake"]) == ["headers", "time", "address", "xdomain", "secure",
                                          "issued", "url", "query", "auth"]
    # JSON carries the bytes as Node's Buffer object, as Node's own answer would
    assert b'"data":{"x":{"type":"Buffer","data":[1]}}' in json_dumps(encoded)


def test_emitter_frames() -> None:
    target = BroadcastTarget(rooms=frozenset({"room-a"}), except_rooms=frozenset({"room-b"}))
    frame = pw.encode_broadcast("emitter", "/", ["emitter", "e41"], target, emitter=True)
    assert unpack(frame) == ["emitter", {"type": 2, "data": ["emitter", "e41"], "nsp": "/"},
                             {"rooms": ["room-a"], "flags": {}, "except": ["room-b"]}]
    assert list(unpack(frame)[2]) == ["rooms", "flags", "except"]


SHARDED = [
    '{"type":3,"data":{"packet":{"type":2,"data":["to-room","t5"]},"opts":{"rooms":["room-a"],'
    '"except":[],"flags":{}}},"uid":"c1da1469556c64e1","nsp":"/"}',
    '{"type":7,"data":{"opts":{"rooms":["room-a"],"except":[],"flags":{}},'
    '"requestId":"7d57c25966212ab9"},"uid":"c1da1469556c64e1","nsp":"/"}',
    '{"type":3,"data":{"packet":{"type":2,"data":["ack-me","ack37"]},"requestId":'
    '"d1d7805511e06b91","opts":{"rooms":["room-a"],"except":[],"flags":{"timeout":4000}}},'
    '"uid":"c1da1469556c64e1","nsp":"/"}',
    '{"type":11,"data":{"requestId":"d1d7805511e06b91","clientCount":1},'
    '"uid":"c722ff14e3197851","nsp":"/"}',
    '{"type":12,"data":{"requestId":"d1d7805511e06b91","packet":{"sid":"-pWmB2xI7MfI0M0yAAAB",'
    '"x":"ack37"}},"uid":"c722ff14e3197851","nsp":"/"}',
    '{"type":4,"data":{"opts":{"rooms":["room-b"],"except":[],"flags":{}},"rooms":["room-d0"]},'
    '"uid":"c1da1469556c64e1","nsp":"/"}',
    '{"type":6,"data":{"opts":{"rooms":["r"],"except":[],"flags":{}},"close":true},'
    '"uid":"c1da1469556c64e1","nsp":"/chat"}',
    '{"type":9,"data":{"requestId":"0123456789abcdef","packet":["cluster-ask",1]},'
    '"uid":"c1da1469556c64e1","nsp":"/"}',
    '{"type":10,"data":{"requestId":"0123456789abcdef","packet":{"name":"node-1"}},'
    '"uid":"c1da1469556c64e1","nsp":"/"}',
    '{"type":8,"data":{"requestId":"7d57c25966212ab9","sockets":[]},'
    '"uid":"c722ff14e3197851","nsp":"/"}',
]


def _rebuild(message: cw.ClusterMessage) -> dict[str, Any]:
    """The message again, as our adapters build each type."""
    data: dict[str, Any] | None
    kind = message.type
    if kind == 3:
        assert message.target is not None
        data = {"packet": {"type": 2, "data": message.packet}}
        if message.request_id is not None:
            data["requestId"] = message.request_id
        data["opts"] = encode_opts(message.target)
    elif kind in (4, 5):
        assert message.target is not None
        data = {"opts": encode_opts(message.target), "rooms": list(message.rooms)}
    elif kind == 6:
        assert message.target is not None
        data = {"opts": encode_opts(message.target), "close": message.close}
    elif kind == 7:
        assert message.target is not None
        data = {"opts": encode_opts(message.target), "requestId": message.request_id}
    elif kind == 8:
        data = {"requestId": message.request_id, "sockets": list(message.values)}
    elif kind == 9:
        data = {"requestId": message.request_id, "packet": message.packet}
    elif kind == 11:
        data = {"requestId": message.request_id, "clientCount": message.values[0]}
    else:
        data = {"requestId": message.request_id, "packet": message.values[0]}
    return cw.message(cw.MessageType(kind), data, message.uid, message.nsp)


@pytest.mark.parametrize("text", SHARDED)
def test_sharded_messages_are_the_captured_frames(text: str) -> None:
    frame = s(text)
    message = cw.decode_sharded(frame)
    assert cw.encode_sharded(_rebuild(message)) == frame
    # the streams adapter publishes the same message whole as msgpack
    assert cw.decode_streams(cw.encode_streams(_rebuild(message))) == message


def test_sharded_binary_broadcast_is_notepack() -> None:
    target = BroadcastTarget(rooms=frozenset({"room-b"}))
    built = cw.message(cw.MessageType.BROADCAST,
                       {"packet": {"type": 2, "data": ["bin", "t21", b"\x00\x01\x02\xff",
                                                       {"nested": ["x"]}]},
                        "opts": encode_opts(target)}, "c1da1469556c64e1", "/")
    frame = cw.encode_sharded(built)
    assert frame.startswith(b"\x84\xa4type\x03\xa4data\x82\xa6packet\x82\xa4type\x02\xa4data"
                            b"\x94\xa3bin\xa3t21\xc4\x04\x00\x01\x02\xff")
    assert cw.decode_sharded(frame).packet == ["bin", "t21", b"\x00\x01\x02\xff",
                                               {"nested": ["x"]}]


def test_streams_entries_are_the_captured_frames() -> None:
    fields = {"uid": b"83124ccb2d76e1ce", "nsp": b"/", "type": b"3",
              "data": s('{"packet":{"type":2,"data":["to-room","t5"]},"opts":{"rooms":'
                         '["room-a"],"except":[],"flags":{}}}')}
    message = cw.decode_entry(fields)
    assert message.packet == ["to-room", "t5"] and message.target is not None
    assert cw.encode_entry(_rebuild(message)) == fields
    assert list(cw.encode_entry(_rebuild(message))) == ["uid", "nsp", "type", "data"]
    join = {"uid": b"83124ccb2d76e1ce", "nsp": b"/", "type": b"4",
            "data": s('{"opts":{"rooms":["room-b"],"except":[],"flags":{}},"rooms":["room-d0"]}')}
    assert cw.encode_entry(_rebuild(cw.decode_entry(join))) == join
    # binary: base64 of msgpack of the data, which starts with map(2) "packet"
    binary = cw.message(cw.MessageType.BROADCAST,
                        {"packet": {"type": 2, "data": ["bin", "t21", b"\x00\x01\x02\xff",
                                                        {"nested": [bytes([7]) * 70000, "x"]}]},
                         "opts": encode_opts(BroadcastTarget())}, "83124ccb2d76e1ce", "/")
    entry = cw.encode_entry(binary)
    assert entry["data"].startswith(b"gqZwYWNrZXSCpHR5cGUCpGRhdGGUo2JpbqN0MjHEBAABAv+Bpm5lc3Rl"
                                     b"ZJLGAAERcAcH")
    assert cw.decode_entry(entry).packet == binary["data"]["packet"]["data"]


def test_streams_pubsub_payload_is_the_captured_frame() -> None:
    built = cw.message(cw.MessageType.SERVER_SIDE_EMIT,
                       {"packet": ["cluster-note", "sse29", {"n": 0}]}, "83124ccb2d76e1ce", "/")
    frame = cw.encode_streams(built)
    assert frame == (b"\x84\xa4type\x09\xa4data\x81\xa6packet\x93\xaccluster-note\xa5sse29\x81"
                     b"\xa1n\x00\xa3uid\xb083124ccb2d76e1ce\xa3nsp\xa1/")
    assert cw.decode_streams(frame).packet == ["cluster-note", "sse29", {"n": 0}]


def test_session_value_of_the_streams_adapter() -> None:
    session = Session("KrJwaoF6NC8AnUZvAAAM", "hA-bWoQvwTgqvzPYAAAN",
                      ("KrJwaoF6NC8AnUZvAAAM", "csr-0"), {"csr": 0})
    raw = cw.encode_session(session)
    # the captured value's start (cluster-wire.md §4), and what @msgpack/msgpack writes
    assert raw.startswith(b"hKNzaWS0S3JKd2FvRjZOQzhBblVadkFBQU2jcGlk")
    [node] = _node_encodings([{"sid": session.sid, "pid": session.pid,
                               "rooms": list(session.rooms), "data": {"csr": 0}}])
    assert base64.b64decode(raw).hex() == node["msgpack"]
    assert cw.decode_session(raw) == session
    assert cw.decode_session(base64.b64encode(bytes.fromhex(node["msgpack"]))) == session
    nothing = Session("s", "p", (), None)
    assert cw.decode_session(cw.encode_session(nothing)) == nothing


@pytest.mark.parametrize("raw", [
    b"not base64!", base64.b64encode(b"\xc1"), base64.b64encode(pack([1, 2])),
    base64.b64encode(pack({"sid": "s", "pid": "p"})),
    base64.b64encode(pack({"sid": "s", "pid": "p", "rooms": ["a", 1]})),
    base64.b64encode(pack({"sid": 1, "pid": "p", "rooms": []})),
])
def test_a_stored_value_that_is_not_a_session_is_a_codec_error(raw: bytes) -> None:
    with pytest.raises(CodecError):
        cw.decode_session(raw)


def test_stream_offsets() -> None:
    assert cw.stream_offset("1796350243813-0") == (1796350243813, 0)
    for bad in ("", "1-", "-1", "1-2-3", "a-1", "1796350243813", "T.3", "1 -2"):
        assert cw.stream_offset(bad) is None, bad
    assert cw.next_entry_id("1796350184574-0") == "1796350184574-1"
    assert cw.next_entry_id("5-9") == "5-10"
    assert cw.entry_after("5-10", "5-9") and cw.entry_after("6-0", "5-99")
    assert not cw.entry_after("5-9", "5-9") and not cw.entry_after("5-9", "x")


def test_missing_keys_are_left_out_never_null() -> None:
    # A Node node tests ``requestId !== undefined``: a null would ask for an ack.
    built = cw.message(cw.MessageType.SERVER_SIDE_EMIT, {"packet": ["e"]}, "u" * 16, "/")
    assert b"requestId" not in cw.encode_sharded(built)
    assert b"\xc0" not in cw.encode_streams(built)
    assert "data" not in cw.message(cw.MessageType.HEARTBEAT, None, "u", "/")
    with pytest.raises(CodecError):  # a null requestId is refused rather than taken as present
        cw.decode_sharded(s('{"type":9,"data":{"packet":["e"],"requestId":null},"uid":"u",'
                            '"nsp":"/"}'))


def test_options_flags_travel_as_node_sets_them() -> None:
    target = BroadcastTarget(rooms=frozenset({"a"}), volatile=True, compress=False, local=True,
                             timeout=1.5)
    assert encode_opts(target) == {"rooms": ["a"], "except": [],
                                   "flags": {"volatile": True, "compress": False,
                                             "timeout": 1500}}
    assert decode_opts(encode_opts(target)) == BroadcastTarget(
        rooms=frozenset({"a"}), volatile=True, compress=False, timeout=1.5)
    # numeric rooms (allowed by Node) arrive as their text
    assert decode_opts({"rooms": [1, 2.5], "except": []}).rooms == {"1", "2.5"}
    assert decode_opts({}) == BroadcastTarget()


def test_notepack_legacy_and_timestamp_extensions() -> None:
    assert unpack(h("92 d4 00 00 c7 02 00 0102")) == [None, b"\x01\x02"]
    # a Date (timestamp ext -1, 2021-01-01T00:00:00.5Z) reads as toISOString() text
    assert unpack(h("d7 ff 77359400 5fee6600")) == "2021-01-01T00:00:00.500Z"
    with pytest.raises(CodecError):
        unpack(h("d4 05 00"))


VALUES: list[Any] = [
    0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, -1, -32, -33, -128, -129,
    -32768, -32769, -(2**31), -(2**31) - 1, 1.5, -0.25, 1e-7, 1e15 + 0.5, "", "é", "x" * 31,
    "x" * 32, "x" * 255, "x" * 256, "x" * 65536, "😀", None, True, False, [], {},
    b"", b"\x00" * 255, b"\x00" * 256, b"\x01" * 65536, list(range(16)),
    {str(i): i for i in range(16)},
    {"nested": [{"a": [None, 1, "two", b"\xff"]}]},
]


def _node_encodings(values: list[Any]) -> list[dict[str, str]]:
    def wire(value: Any) -> Any:
        if isinstance(value, bytes):
            return {"$bin": base64.b64encode(value).decode()}
        if isinstance(value, list):
            return [wire(item) for item in value]
        if isinstance(value, dict):
            return {key: wire(item) for key, item in value.items()}
        return value

    completed = subprocess.run(
        ["node", str(ROOT / "conformance" / "js" / "encode_values.mjs")],
        input=json.dumps([wire(value) for value in values]), capture_output=True, text=True,
        timeout=30, check=True, cwd=ROOT / "conformance")
    result: list[dict[str, str]] = json.loads(completed.stdout)
    return result


def test_values_encode_as_notepack_msgpack_and_json_stringify_do() -> None:
    for value, node in zip(VALUES, _node_encodings(VALUES), strict=True):
        assert pack(value).hex() == node["notepack"] == node["msgpack"], value
        assert json_dumps(value).decode() == node["json"], value
        assert unpack(bytes.fromhex(node["notepack"])) == value


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text() | st.binary()
    | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(values)
def test_msgpack_round_trips(value: Any) -> None:
    assert unpack(pack(value)) == value


@given(json_values)
def test_json_round_trips(value: Any) -> None:
    # JavaScript has one number type: an integral float may come back as an int, the same text
    assert json_dumps(json_loads(json_dumps(value))) == json_dumps(value)
    assert json_dumps(decode_auto(json_dumps({"k": value}))) == json_dumps({"k": value})


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_codec_errors(raw: bytes) -> None:
    decoders = [unpack, decode_auto, pw.decode_broadcast, pw.decode_request,
                pw.decode_response, cw.decode_sharded, cw.decode_streams]
    for decode in decoders:
        try:
            decode(raw)
        except CodecError:
            pass
    try:
        cw.decode_entry({b"uid": b"u", b"nsp": b"/", b"type": raw[:2], b"data": raw})
    except CodecError:
        pass


@settings(max_examples=300)
@given(values)
def test_arbitrary_msgpack_values_raise_only_codec_errors(value: Any) -> None:
    raw = pack(value)
    for decode in (pw.decode_broadcast, pw.decode_request, pw.decode_response,
                   cw.decode_sharded, cw.decode_streams):
        try:
            decode(raw)
        except CodecError:
            pass


@settings(max_examples=200)
@given(st.sampled_from(SHARDED), st.data())
def test_truncated_and_mutated_frames_raise_only_codec_errors(text: str, data: Any) -> None:
    frame = cw.encode_streams(json.loads(text))
    cut = data.draw(st.integers(0, len(frame)))
    for raw in (frame[:cut], s(text)[:cut]):
        try:
            cw.decode_streams(raw)
            cw.decode_sharded(raw)
        except CodecError:
            pass


def test_importing_the_core_loads_neither_coredis_nor_msgpack() -> None:
    code = ("import sys, socketio_core, socketio_core.protocol, engineio_core, "
            "engineio_core.protocol; from socketio_core import Server, Namespace; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('coredis', 'msgpack', 'anyio')))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               timeout=30, check=True, cwd=ROOT)
    assert completed.stdout.strip() == "[]"


def test_a_broadcast_packet_with_an_ack_id_is_marked() -> None:
    """A Node node with connection state recovery sends ``socket.emit(..., ack)`` through the
    stream with the packet's id: a receiver must not give it an offset."""
    plain = cw.message(cw.MessageType.BROADCAST, {"packet": {"type": 2, "data": ["e"]},
                                                  "opts": {"rooms": [SID], "except": []}},
                       "u" * 16, "/")
    assert cw.decode_message(plain).packet_id is False
    plain["data"]["packet"]["id"] = 3
    assert cw.decode_message(plain).packet_id is True
