"""ServerConnection: exact messages in and out, synthetic time, exact deadlines."""

from __future__ import annotations

import pytest

from socketio_core.protocol import (
    AckReceived,
    AckTimedOut,
    ConnectRequested,
    ConnectTimedOut,
    Disconnected,
    EventReceived,
    LocalProtocolError,
    NamespaceState,
    RemoteProtocolError,
    ServerConnection,
)


def connected(*namespaces: str, now: float = 0.0) -> ServerConnection:
    server = ServerConnection(now=now, connect_timeout=45.0)
    for namespace in namespaces:
        wire = "0" if namespace == "/" else f"0{namespace},"
        assert server.receive_message(wire, now=now) == [ConnectRequested(namespace, {})]
        server.accept(namespace, "sid-" + namespace.strip("/"))
    server.take_messages()
    return server


def test_connect_deadline_and_accept_root() -> None:
    server = ServerConnection(now=10.0, connect_timeout=45.0)
    assert server.next_deadline() == 55.0
    assert server.receive_message("0", now=11.0) == [ConnectRequested("/", {})]
    assert server.state("/") is NamespaceState.CONNECTING
    assert server.next_deadline() == 55.0
    server.accept("/", "abc")
    assert server.take_messages() == ['0{"sid":"abc"}']
    assert server.take_messages() == []
    assert server.next_deadline() is None
    assert server.namespaces == frozenset({"/"})
    assert server.handle_timeout(now=100.0) == []


def test_accept_namespace_with_auth() -> None:
    server = ServerConnection(now=0.0)
    assert server.next_deadline() == 45.0
    events = server.receive_message('0/admin,{"token":"123"}', now=1.0)
    assert events == [ConnectRequested("/admin", {"token": "123"})]
    server.accept("/admin", "s1")
    assert server.take_messages() == ['0/admin,{"sid":"s1"}']


def test_reject_exact_bytes() -> None:
    server = ServerConnection(now=0.0)
    server.receive_message("0/admin,", now=0.0)
    server.reject("/admin", "Invalid namespace")
    assert server.take_messages() == ['4/admin,{"message":"Invalid namespace"}']
    assert server.state("/admin") is NamespaceState.IDLE
    server.receive_message("0", now=0.0)
    server.reject("/", "Not authorized", {"code": 401})
    assert server.take_messages() == ['4{"message":"Not authorized","data":{"code":401}}']
    assert server.next_deadline() == 45.0


def test_connect_timeout_fires_exactly_at_deadline() -> None:
    server = ServerConnection(now=0.0, connect_timeout=45.0)
    assert server.handle_timeout(now=44.999) == []
    assert not server.closed
    assert server.handle_timeout(now=45.0) == [ConnectTimedOut()]
    assert server.closed
    assert server.next_deadline() is None
    assert server.handle_timeout(now=50.0) == []
    with pytest.raises(LocalProtocolError):
        server.receive_message("0", now=50.0)


def test_connect_timeout_counts_pending_connect_as_not_joined() -> None:
    server = ServerConnection(now=0.0, connect_timeout=5.0)
    server.receive_message("0", now=1.0)
    assert server.handle_timeout(now=5.0) == [ConnectTimedOut()]
    with pytest.raises(LocalProtocolError):
        server.accept("/", "x")


def test_late_connect_is_dropped_after_timeout() -> None:
    server = ServerConnection(now=0.0, connect_timeout=5.0)
    assert server.receive_message("0", now=6.0) == [ConnectTimedOut()]
    assert server.closed


def test_event_received_with_and_without_ack() -> None:
    server = connected("/", "/admin")
    assert server.receive_message('2["hello",1]', now=1.0) == [EventReceived("/", "hello", (1,))]
    assert server.receive_message('2/admin,7["x",{"a":[1]}]', now=1.0) == [
        EventReceived("/admin", "x", ({"a": [1]},), 7)
    ]
    server.ack("/admin", 7, ["ok", 2])
    assert server.take_messages() == ['3/admin,7["ok",2]']
    server.ack("/", 1, [b"\x01"])
    assert server.take_messages() == ['61-1[{"_placeholder":true,"num":0}]', b"\x01"]


def test_binary_event_reassembled() -> None:
    server = connected("/admin")
    assert server.receive_message('51-/admin,["up",{"_placeholder":true,"num":0}]', now=0.0) == []
    assert server.receive_message(b"\xff\x00", now=0.0) == [
        EventReceived("/admin", "up", (b"\xff\x00",))
    ]


def test_emit_allocates_ack_ids_per_namespace_from_zero() -> None:
    server = connected("/", "/admin")
    assert server.emit("/", "a", [1]) is None
    assert server.emit("/", "b", [], ack=True) == 0
    assert server.emit("/", "c", ["x"], ack=True) == 1
    assert server.emit("/admin", "d", [], ack=True) == 0
    assert server.take_messages() == ['2["a",1]', '20["b"]', '21["c","x"]', '2/admin,0["d"]']
    assert server.next_deadline() is None
    assert server.receive_message("31[2]", now=0.0) == [AckReceived("/", 1, (2,))]
    assert server.receive_message("31[2]", now=0.0) == []
    assert server.receive_message("399[]", now=0.0) == []
    assert server.receive_message("3/admin,0[]", now=0.0) == [AckReceived("/admin", 0, ())]


def test_emit_binary() -> None:
    server = connected("/")
    assert server.emit("/", "file", [{"data": b"abc"}], ack=True) == 0
    assert server.take_messages() == [
        '51-0["file",{"data":{"_placeholder":true,"num":0}}]',
        b"abc",
    ]


def test_ack_deadlines_exact_and_timeout_event() -> None:
    server = connected("/")
    assert server.emit("/", "a", [], ack=True, timeout=5.0, now=100.0) == 0
    assert server.emit("/", "b", [], ack=True, timeout=2.0, now=101.0) == 1
    assert server.emit("/", "c", [], ack=True, timeout=10.0, now=101.0) == 2
    assert server.next_deadline() == 103.0
    assert len(server._acks) == 3
    assert server.handle_timeout(now=102.9) == []
    assert server.handle_timeout(now=103.0) == [AckTimedOut("/", 1)]
    assert server.next_deadline() == 105.0
    assert server.receive_message("30[]", now=104.0) == [AckReceived("/", 0, ())]
    assert server.next_deadline() == 111.0
    assert server.receive_message("31[]", now=104.0) == []
    assert server.receive_message("32[]", now=111.0) == [AckTimedOut("/", 2)]
    assert server.next_deadline() is None


def test_emit_timeout_needs_ack_and_now() -> None:
    server = connected("/")
    with pytest.raises(LocalProtocolError):
        server.emit("/", "a", [], timeout=1.0, now=0.0)
    with pytest.raises(LocalProtocolError):
        server.emit("/", "a", [], ack=True, timeout=1.0)


def test_emit_reserved_or_bad_data_refused_without_side_effect() -> None:
    server = connected("/")
    with pytest.raises(LocalProtocolError):
        server.emit("/", "disconnect", [], ack=True)
    with pytest.raises(TypeError, match=r"^Object of type set is not JSON serializable$"):
        server.emit("/", "x", [{1, 2}], ack=True)
    assert server.emit("/", "x", [], ack=True) == 0
    assert server.take_messages() == ['20["x"]']


def test_emit_on_namespace_not_joined() -> None:
    server = connected("/")
    with pytest.raises(LocalProtocolError):
        server.emit("/admin", "x", [])
    with pytest.raises(LocalProtocolError):
        server.ack("/admin", 1, [])
    assert not server.closed


def test_client_disconnect() -> None:
    server = connected("/", "/admin")
    server.emit("/admin", "q", [], ack=True, timeout=1.0, now=0.0)
    server.emit("/admin", "r", [], ack=True)
    assert server.receive_message("1/admin,", now=0.5) == [
        Disconnected("/admin", "client namespace disconnect", (0, 1))
    ]
    assert server.next_deadline() is None
    assert server.namespaces == frozenset({"/"})
    assert server.receive_message("1", now=0.5) == [
        Disconnected("/", "client namespace disconnect", ())
    ]


def test_server_disconnect() -> None:
    server = connected("/", "/admin")
    server.emit("/admin", "q", [], ack=True)
    assert server.disconnect("/admin") == (0,)
    assert server.disconnect("/") == ()
    assert server.take_messages() == ['2/admin,0["q"]', "1/admin,", "1"]
    with pytest.raises(LocalProtocolError):
        server.disconnect("/")


def test_reconnect_after_disconnect_keeps_counting_ack_ids() -> None:
    server = connected("/")
    server.emit("/", "a", [], ack=True)
    server.receive_message("1", now=0.0)
    server.receive_message("0", now=0.0)
    server.accept("/", "again")
    assert server.emit("/", "a", [], ack=True) == 1


def test_close_reports_connected_namespaces() -> None:
    server = connected("/", "/admin")
    server.receive_message("0/other,", now=0.0)
    server.emit("/", "a", [], ack=True, timeout=3.0, now=0.0)
    assert server.close("transport close") == [
        Disconnected("/", "transport close", (0,)),
        Disconnected("/admin", "transport close", ()),
    ]
    assert server.closed
    assert server.next_deadline() is None
    assert server.close("again") == []
    with pytest.raises(LocalProtocolError):
        server.emit("/", "a", [])


def invalid(server: ServerConnection, *messages: str | bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        for message in messages:
            server.receive_message(message, now=0.0)
    assert server.closed
    assert server.next_deadline() is None
    return info.value


def test_event_for_namespace_never_joined_closes() -> None:
    error = invalid(connected("/"), '2/admin,["x"]')
    assert error.reason == "forced server close"


def test_binary_event_for_namespace_never_joined_refused_at_header() -> None:
    server = connected("/")
    error = invalid(server, '51-/admin,["x",{"_placeholder":true,"num":0}]')
    assert error.reason == "forced server close"
    assert server._decoder.pending is None


def test_event_while_connecting_closes() -> None:
    server = ServerConnection(now=0.0)
    server.receive_message("0", now=0.0)
    invalid(server, '2["x"]')


def test_second_connect_closes() -> None:
    invalid(connected("/"), "0")


def test_connect_error_from_client_closes() -> None:
    invalid(connected("/"), '4{"message":"x"}')


def test_parse_error_closes_with_parse_error_reason() -> None:
    server = connected("/")
    assert invalid(server, "2[]").reason == "parse error"


def test_unexpected_binary_closes() -> None:
    assert invalid(connected("/"), b"\x00").reason == "parse error"


def test_ack_and_disconnect_for_namespace_never_joined_close() -> None:
    invalid(connected("/"), "3/admin,1[]")
    invalid(connected("/"), "1/admin,")


def test_local_disconnect_while_attachments_arrive_drops_them() -> None:
    server = connected("/admin")
    server.receive_message('52-/admin,["x",{"_placeholder":true,"num":0}]', now=0.0)
    server.receive_message(b"1", now=0.0)
    server.disconnect("/admin")
    assert server.receive_message(b"2", now=0.0) == []
    assert not server.closed


def test_accept_and_reject_need_a_pending_connect() -> None:
    server = connected("/")
    with pytest.raises(LocalProtocolError):
        server.accept("/", "again")
    with pytest.raises(LocalProtocolError):
        server.reject("/admin", "no")
    with pytest.raises(LocalProtocolError):
        server.reject("/", "no", {"a": 1})
