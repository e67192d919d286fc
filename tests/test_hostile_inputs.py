"""The hostile inputs of the reference implementation's security history, each fed to the core
that faces it. Every one ends in our ``ProtocolError`` with the reason Node gives, the core
closed, and nothing kept (no half-assembled packet, no timer)."""

from __future__ import annotations

import pytest

from engineio_core.protocol import (
    MessageReceived,
    Packet,
    PacketType,
    ServerConfig,
    ServerSession,
    SessionClosed,
    decode_payload,
)
from socketio_core.protocol import (
    ConnectRequested,
    EventReceived,
    ProtocolError,
    RemoteProtocolError,
    ServerConnection,
)


def _joined(*namespaces: str) -> ServerConnection:
    conn = ServerConnection(now=0.0)
    for i, ns in enumerate(namespaces):
        prefix = "" if ns == "/" else f"{ns},"
        assert conn.receive_message(f"0{prefix}", now=0.0) == [ConnectRequested(ns, {})]
        conn.accept(ns, f"S{i}")
    conn.take_messages()
    return conn


def _refused(conn: ServerConnection, *messages: str | bytes,
             reason: str = "parse error") -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        for message in messages:
            conn.receive_message(message, now=0.0)
    assert info.value.reason == reason
    assert conn.closed
    assert conn.namespaces == frozenset()
    assert conn.next_deadline() is None
    return info.value


# Socket.IO packets (the Engine.IO message's payload: the issue's `451-[…]` is `4` + `51-[…]`),
# each refused by a connection joined on "/".
SOCKETIO_HOSTILE = {
    "placeholder num is a method name": ['51-["hello",{"_placeholder":true,"num":"splice"}]'],
    "placeholder num is toString": ['51-["hello",{"_placeholder":true,"num":"toString"}]'],
    "placeholder num out of range": ['51-["hello",{"_placeholder":true,"num":1}]', b"x"],
    "placeholder num negative": ['51-["hello",{"_placeholder":true,"num":-1}]', b"x"],
    "placeholder num a float": ['51-["hello",{"_placeholder":true,"num":0.5}]', b"x"],
    "placeholder num a numeric string": ['51-["hello",{"_placeholder":true,"num":"0"}]', b"x"],
    "attachment count huge": ['5999999999-["hello",{"_placeholder":true,"num":0}]'],
    "attachment count over max_attachments": ['511-["hello"]'],
    "attachment count negative": ['5-1-["hello"]'],
    "event name an object with toString": ['2[{"toString":"x"}]'],
    "event with no name": ["2[]"],
    "event name a number": ["2[1]"],
    "event name null": ["2[null]"],
    "event payload an object": ['2{"a":1}'],
    "peer-sent connect event": ['2["connect"]'],
    "peer-sent connect_error event": ['2["connect_error"]'],
    "peer-sent disconnect event": ['2["disconnect"]'],
    "peer-sent disconnecting event": ['2["disconnecting"]'],
    "peer-sent newListener event": ['2["newListener"]'],
    "peer-sent removeListener event": ['2["removeListener"]'],
    "ack without id": ["3[]"],
    "garbage after valid packet": ['2["a"]xyz'],
    "garbage after ack id": ["31x[]"],
    "unknown packet type": ['7["a"]'],
    "empty packet": [""],
    "unterminated namespace": ["2/admin"],
    "binary header with text attachment": ['51-["a",{"_placeholder":true,"num":0}]', "x"],
    "attachment with no header": [b"\x00\x01"],
    "ack id over 2**53": ['29007199254740993["a"]'],
    "JSON with NaN": ['2["a",NaN]'],
}


@pytest.mark.parametrize("messages", list(SOCKETIO_HOSTILE.values()),
                         ids=list(SOCKETIO_HOSTILE))
def test_hostile_socketio_packet_closes_with_parse_error(messages: list[str | bytes]) -> None:
    _refused(_joined("/"), *messages)


def test_binary_packet_for_an_unjoined_namespace_is_refused_at_its_header() -> None:
    # Node closes the whole connection on a packet for a namespace it never joined.
    conn = _joined("/")
    _refused(conn, '51-/admin,["x",{"_placeholder":true,"num":0}]',
             reason="forced server close")


def test_binary_attachments_are_not_kept_after_a_refusal() -> None:
    conn = _joined("/")
    conn.receive_message('52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
                         now=0.0)
    conn.receive_message(b"first", now=0.0)
    _refused(conn, '2["interleaved text while attachments are pending"]')


def test_pending_attachment_bytes_are_capped() -> None:
    conn = ServerConnection(now=0.0, max_attachment_bytes=8)
    conn.receive_message("0", now=0.0)
    conn.accept("/", "S")
    conn.receive_message('52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]',
                         now=0.0)
    conn.receive_message(b"12345", now=0.0)
    with pytest.raises(ProtocolError):
        conn.receive_message(b"6789", now=0.0)
    assert conn.closed


def test_valid_neighbours_of_the_hostile_inputs_pass() -> None:
    # The same shapes, well formed: proof the refusals above are about the hostile detail.
    conn = _joined("/")
    assert conn.receive_message('51-["hello",{"_placeholder":true,"num":0}]', now=0.0) == []
    assert conn.receive_message(b"x", now=0.0) == [EventReceived("/", "hello", (b"x",))]
    assert conn.receive_message('2["hello",{"toString":"x"}]', now=0.0) == [
        EventReceived("/", "hello", ({"toString": "x"},))]
    assert conn.receive_message('2["connected"]', now=0.0) == [EventReceived("/", "connected", ())]
    # JSON.parse takes a lone surrogate, and JSON.stringify escapes it; so do we.
    assert conn.receive_message('2["a","\\ud800"]', now=0.0) == [
        EventReceived("/", "a", ("\ud800",))]
    conn.emit("/", "echo", ["\ud800"])
    assert conn.take_messages() == ['2["echo","\\ud800"]']


# Engine.IO polling bodies: each with the messages acted on before the malformed packet.
MAX = 100
ENGINEIO_HOSTILE: dict[str, tuple[bytes, list[MessageReceived]]] = {
    "bad base64": (b"bAAA*", []),
    "base64 with bad padding": (b"bAAAAA", []),
    "double separator": (b"4a\x1e\x1e4b", [MessageReceived("a")]),
    "leading separator": (b"\x1e4a", []),
    "trailing separator": (b"4a\x1e", [MessageReceived("a")]),
    "empty body": (b"", []),
    "unknown packet type": (b"9", []),
    "non-digit packet type": (b"x", []),
    "invalid UTF-8 as the type": (b"4a\x1e\xff\xfe", [MessageReceived("a")]),
}


@pytest.mark.parametrize(("body", "before"), list(ENGINEIO_HOSTILE.values()),
                         ids=list(ENGINEIO_HOSTILE))
def test_hostile_polling_body_closes_the_session_with_parse_error(
        body: bytes, before: list[MessageReceived]) -> None:
    # As Node: the body is taken (the runtime answers 200 "ok"), what came before the bad packet
    # is acted on, then the session closes.
    session = ServerSession("sid", ServerConfig(max_payload=MAX), transport="polling", now=0.0)
    events = session.receive_poll_body(body, now=1.0)
    assert events[:-1] == before
    assert isinstance(events[-1], SessionClosed) and events[-1].reason == "parse error"
    assert session.closed and session.next_deadline() is None


def test_invalid_utf8_in_a_polling_body_is_replaced_as_in_node() -> None:
    # Node reads the body with req.setEncoding("utf8"): each bad sequence becomes U+FFFD.
    session = ServerSession("sid", ServerConfig(max_payload=MAX), transport="polling", now=0.0)
    assert session.receive_poll_body(b"4\xff\xfe\x1e4\xe2\x82", now=1.0) == [
        MessageReceived("\ufffd\ufffd"), MessageReceived("\ufffd")]


def test_empty_base64_binary_is_an_empty_message_as_in_node() -> None:
    assert decode_payload(b"b", max_payload=MAX) == [Packet(PacketType.MESSAGE, b"")]


def test_polling_body_just_under_and_at_max_payload_is_accepted() -> None:
    for size in (MAX - 1, MAX):
        session = ServerSession("sid", ServerConfig(max_payload=MAX), transport="polling",
                                now=0.0)
        body = b"4" + b"a" * (size - 1)
        assert session.receive_poll_body(body, now=1.0) == [MessageReceived("a" * (size - 1))]


def test_polling_body_just_over_max_payload_is_refused_with_413_before_decoding() -> None:
    session = ServerSession("sid", ServerConfig(max_payload=MAX), transport="polling", now=0.0)
    with pytest.raises(RemoteProtocolError) as info:
        session.receive_poll_body(b"4" + b"\xff" * MAX, now=1.0)  # bad UTF-8, but too big first
    assert info.value.http_status == 413
    assert session.closed
    with pytest.raises(RemoteProtocolError):
        decode_payload(b"4" + b"a" * MAX, max_payload=MAX)


def test_websocket_message_over_max_payload_closes_with_1009() -> None:
    session = ServerSession("sid", ServerConfig(max_payload=MAX), transport="websocket",
                            now=0.0)
    session.take_ws_frames()
    assert session.receive_ws_message("4" + "a" * (MAX - 1), now=1.0) == [
        MessageReceived("a" * (MAX - 1))]
    with pytest.raises(RemoteProtocolError) as info:
        session.receive_ws_message("4" + "a" * MAX, now=1.0)
    assert info.value.ws_close_code == 1009
    assert session.closed


def test_pong_flood_never_multiplies_timers() -> None:
    config = ServerConfig(ping_interval=25.0, ping_timeout=20.0)
    session = ServerSession("sid", config, transport="websocket", now=0.0)
    session.take_ws_frames()
    assert session.next_deadline() == 25.0
    for i in range(10_000):
        session.receive_ws_message("3", now=float(i // 1000))  # 1000 pongs a second
    # One ping timer, re-armed by the last pong; no pong deadline, nothing queued to send.
    assert session.next_deadline() == 9.0 + 25.0
    assert session.take_ws_frames() == []
    assert session.handle_timeout(now=33.5) == []
    session.handle_timeout(now=34.0)
    assert session.take_ws_frames() == ["2"]
    assert session.next_deadline() == 34.0 + 20.0  # the pong deadline only


def test_client_sent_ping_is_refused() -> None:
    session = ServerSession("sid", ServerConfig(), transport="websocket", now=0.0)
    with pytest.raises(RemoteProtocolError) as info:
        session.receive_ws_message("2", now=0.0)
    assert info.value.reason == "transport error"
    assert session.closed


def test_packet_codec_refuses_what_the_session_refuses() -> None:
    assert Packet(PacketType.MESSAGE, "a") == decode_payload(b"4a", max_payload=MAX)[0]
