"""Whole sessions through all four cores (Socket.IO over Engine.IO, client and server) with no
sockets and synthetic time: what the runtimes do, minus the I/O."""

from __future__ import annotations

from engineio_core.protocol import Opened, SessionClosed, Upgraded
from socketio_core.protocol import (
    AckReceived,
    AckTimedOut,
    Connected,
    ConnectRefused,
    ConnectRequested,
    ConnectTimedOut,
    Disconnected,
    EventReceived,
)
from tests.pairs import StackPair


def _join(p: StackPair, *namespaces: str) -> None:
    for ns in namespaces:
        p.client.connect(ns, {"token": ns})
    p.pump()
    _, server_events = p.take()
    assert server_events == [ConnectRequested(ns, {"token": ns}) for ns in namespaces]
    for i, ns in enumerate(namespaces):
        p.server.accept(ns, f"S{i}")
    p.pump()
    client_events, _ = p.take()
    assert client_events == [Connected(ns, f"S{i}") for i, ns in enumerate(namespaces)]


def test_polling_session_namespaces_events_acks_binary_and_close() -> None:
    p = StackPair()
    assert p.engine_events == [("client", Opened("sid", ("websocket",), 25.0, 20.0, 1000))]
    _join(p, "/", "/admin")

    p.client.emit("/admin", "hello", ["world", {"n": [1, 2]}])
    blob = {"deep": [b"\x00\xff", {"more": b"bin"}], "text": "t"}
    ack_id = p.client.emit("/", "upload", [blob], ack=True)
    p.pump()
    assert p.take() == ([], [
        EventReceived("/admin", "hello", ("world", {"n": [1, 2]})),
        EventReceived("/", "upload", (blob,), ack_id),
    ])
    assert ack_id is not None
    p.server.ack("/", ack_id, [b"\x01", "ok"])
    server_ack = p.server.emit("/admin", "ask", [[b"x", b"y"]], ack=True, timeout=5.0,
                               now=p.now)
    p.pump()
    client_events, _ = p.take()
    assert client_events == [AckReceived("/", ack_id, (b"\x01", "ok")),
                             EventReceived("/admin", "ask", ([b"x", b"y"],), server_ack)]
    assert server_ack is not None
    p.client.ack("/admin", server_ack, [{"answer": b"42"}])
    p.pump()
    assert p.take() == ([], [AckReceived("/admin", server_ack, ({"answer": b"42"},))])

    # An ack that never comes times out at its deadline, on the synthetic clock.
    late = p.server.emit("/", "ask", [], ack=True, timeout=2.0, now=p.now)
    assert p.server.next_deadline() == p.now + 2.0
    p.advance(p.now + 1.999)
    assert p.take() == ([EventReceived("/", "ask", (), late)], [])
    p.advance(p.now + 0.001)
    assert late is not None
    assert p.take() == ([], [AckTimedOut("/", late)])

    p.client.disconnect("/admin")
    p.pump()
    assert p.take() == ([], [Disconnected("/admin", "client namespace disconnect")])
    p.server.disconnect("/")
    p.pump()
    assert p.take() == ([Disconnected("/", "io server disconnect")], [])
    p.engine.client.close(now=p.now)
    p.advance(p.now)
    assert ("server", SessionClosed("transport close")) in p.engine_events
    assert p.take() == ([], [])


def test_upgrade_with_socketio_traffic_in_flight_keeps_every_packet_in_order() -> None:
    p = StackPair()
    _join(p, "/")
    assert p.engine.client.transport == "polling"
    p.engine.upgrade = True  # the probe starts on the next pump, with these packets queued
    for i in range(20):
        p.client.emit("/", "up", [i, b"c" * (i % 3)])
        p.server.emit("/", "down", [i, {"bin": b"s" * (i % 4)}])
    p.pump()
    client_events, server_events = p.take()
    assert client_events == [EventReceived("/", "down", (i, {"bin": b"s" * (i % 4)}))
                             for i in range(20)]
    assert server_events == [EventReceived("/", "up", (i, b"c" * (i % 3))) for i in range(20)]
    assert ("client", Upgraded()) in p.engine_events and ("server", Upgraded()) in p.engine_events
    assert p.engine.client.transport == p.engine.server.transport == "websocket"
    p.client.emit("/", "after", [b"\x07"])
    p.pump()
    assert p.take() == ([], [EventReceived("/", "after", (b"\x07",))])


def test_heartbeat_keeps_an_idle_session_then_ping_timeout_ends_every_namespace() -> None:
    p = StackPair("websocket")
    _join(p, "/", "/chat")
    p.advance(3600.0)  # an hour of pings and pongs
    assert not p.engine.server.closed and not p.engine.client.closed
    assert p.take() == ([], [])
    p.engine.ws_link = False  # the network goes silent
    p.advance(3600.0 + 25.0 + 20.0)
    client_events, server_events = p.take()
    assert server_events == [Disconnected("/", "ping timeout"),
                             Disconnected("/chat", "ping timeout")]
    assert client_events == [Disconnected("/", "ping timeout"),
                             Disconnected("/chat", "ping timeout")]


def test_refused_namespace_and_connect_timeout() -> None:
    p = StackPair(connect_timeout=3.0)
    p.client.connect("/private", {})
    p.pump()
    assert p.take() == ([], [ConnectRequested("/private", {})])
    p.server.reject("/private", "not authorized", {"code": 401})
    p.pump()
    assert p.take() == ([ConnectRefused("/private", "not authorized", {"code": 401})], [])
    assert p.server.next_deadline() == 3.0
    p.advance(3.0)
    assert p.take() == ([], [ConnectTimedOut()])
    assert p.server.closed
