"""ClientConnection: exact messages in and out, synthetic time, exact deadlines."""

from __future__ import annotations

import pytest

from socketio_core.protocol import (
    V2_SERVER_MESSAGE,
    AckReceived,
    AckTimedOut,
    ClientConnection,
    Connected,
    ConnectRefused,
    Disconnected,
    EventReceived,
    LocalProtocolError,
    NamespaceState,
    RemoteProtocolError,
)


def connected(*namespaces: str) -> ClientConnection:
    client = ClientConnection()
    for namespace in namespaces:
        client.connect(namespace)
        prefix = "" if namespace == "/" else namespace + ","
        events = client.receive_message(f'0{prefix}{{"sid":"s{namespace}"}}', now=0.0)
        assert events == [Connected(namespace, f"s{namespace}")]
    client.take_messages()
    return client


def test_connect_packets_exact() -> None:
    client = ClientConnection()
    client.connect()
    client.connect("/admin", {"token": "123"})
    client.connect("/x", {})
    assert client.take_messages() == ["0", '0/admin,{"token":"123"}', "0/x,{}"]
    assert client.state("/admin") is NamespaceState.CONNECTING
    assert client.next_deadline() is None


def test_connected_with_pid() -> None:
    client = ClientConnection()
    client.connect("/admin")
    assert client.receive_message('0/admin,{"sid":"a","pid":"p"}', now=0.0) == [
        Connected("/admin", "a", "p")
    ]
    assert client.namespaces == frozenset({"/admin"})


def test_connect_error_object_and_string() -> None:
    client = ClientConnection()
    client.connect("/admin")
    client.connect("/")
    assert client.receive_message('4/admin,{"message":"Invalid namespace"}', now=0.0) == [
        ConnectRefused("/admin", "Invalid namespace", None)
    ]
    assert client.receive_message('4{"message":"no","data":{"code":1}}', now=0.0) == [
        ConnectRefused("/", "no", {"code": 1})
    ]
    assert client.state("/") is NamespaceState.IDLE
    client.connect("/")
    assert client.receive_message('4"legacy"', now=0.0) == [ConnectRefused("/", "legacy")]
    client.connect("/")
    assert client.receive_message('4{"data":1}', now=0.0) == [ConnectRefused("/", "", 1)]


def test_connect_answer_without_sid_is_a_v2_server() -> None:
    client = ClientConnection()
    client.connect()
    assert client.receive_message("0", now=0.0) == [ConnectRefused("/", V2_SERVER_MESSAGE)]
    client.connect()
    assert client.receive_message('0{"sid":1}', now=0.0) == [ConnectRefused("/", V2_SERVER_MESSAGE)]


def test_packets_for_other_namespaces_ignored() -> None:
    client = connected("/")
    for message in ['2/x,["e"]', "3/x,1[]", "1/x,", '0/x,{"sid":"a"}', '4/x,{"message":"m"}']:
        assert client.receive_message(message, now=0.0) == []
    assert client.receive_message('51-/x,["e",{"_placeholder":true,"num":0}]', now=0.0) == []
    assert client.receive_message(b"dropped", now=0.0) == []
    assert client.receive_message('2["e"]', now=0.0) == [EventReceived("/", "e", ())]


def test_event_while_connecting_delivered() -> None:
    client = ClientConnection()
    client.connect()
    assert client.receive_message('21["early"]', now=0.0) == [EventReceived("/", "early", (), 1)]
    assert client.receive_message("30[]", now=0.0) == []


def test_events_acks_and_binary() -> None:
    client = connected("/", "/admin")
    assert client.emit("/admin", "hi", [1, b"\x02"], ack=True) == 0
    assert client.emit("/", "plain", []) is None
    assert client.take_messages() == [
        '51-/admin,0["hi",1,{"_placeholder":true,"num":0}]',
        b"\x02",
        '2["plain"]',
    ]
    assert client.receive_message('61-/admin,0[{"_placeholder":true,"num":0}]', now=0.0) == []
    assert client.receive_message(b"r", now=0.0) == [AckReceived("/admin", 0, (b"r",))]
    assert client.receive_message('2/admin,5["q"]', now=0.0) == [
        EventReceived("/admin", "q", (), 5)
    ]
    client.ack("/admin", 5, ["a"])
    assert client.take_messages() == ['3/admin,5["a"]']


def test_ack_timeout_exact() -> None:
    client = connected("/")
    assert client.emit("/", "slow", [], ack=True, timeout=1.5, now=10.0) == 0
    assert client.next_deadline() == 11.5
    assert client.handle_timeout(now=11.4) == []
    assert client.handle_timeout(now=11.5) == [AckTimedOut("/", 0)]
    assert client.receive_message("30[]", now=12.0) == []
    assert client.next_deadline() is None


def test_server_disconnect() -> None:
    client = connected("/", "/admin")
    client.emit("/admin", "x", [], ack=True, timeout=1.0, now=0.0)
    assert client.receive_message("1/admin,", now=0.5) == [
        Disconnected("/admin", "io server disconnect", (0,))
    ]
    assert client.next_deadline() is None
    assert client.namespaces == frozenset({"/"})


def test_client_disconnect() -> None:
    client = connected("/admin")
    client.emit("/admin", "x", [], ack=True)
    assert client.disconnect("/admin") == (0,)
    assert client.take_messages() == ['2/admin,0["x"]', "1/admin,"]
    client.connect("/b")
    assert client.disconnect("/b") == ()
    assert client.take_messages() == ["0/b,"]
    with pytest.raises(LocalProtocolError):
        client.disconnect("/b")


def test_local_misuse() -> None:
    client = ClientConnection()
    with pytest.raises(LocalProtocolError):
        client.emit("/", "x", [])
    client.connect()
    with pytest.raises(LocalProtocolError):
        client.connect()
    with pytest.raises(LocalProtocolError):
        client.emit("/", "x", [])
    with pytest.raises(LocalProtocolError):
        client.connect("nope")
    with pytest.raises(TypeError, match=r"^Object of type set is not JSON serializable$"):
        client.connect("/auth", {"a": {1, 2}})
    assert client.state("/auth") is NamespaceState.IDLE


def test_remote_errors_close_with_parse_error() -> None:
    for message in ["0", '4{"message":"m"}', "2[]", "garbage"]:
        client = connected("/")
        with pytest.raises(RemoteProtocolError) as info:
            client.receive_message(message, now=0.0)
        assert info.value.reason == "parse error"
        assert client.closed


def test_close() -> None:
    client = connected("/", "/a")
    client.connect("/b")
    assert client.close("transport close") == [
        Disconnected("/", "transport close"),
        Disconnected("/a", "transport close"),
    ]
    with pytest.raises(LocalProtocolError):
        client.connect("/c")
