"""A ClientConnection wired to a ServerConnection with no sockets: messages go across as the
Engine.IO layer would carry them."""

from __future__ import annotations

from dataclasses import dataclass, field

from socketio_core.protocol import (
    AckReceived,
    AckTimedOut,
    ClientConnection,
    Connected,
    ConnectRefused,
    ConnectRequested,
    ConnectTimedOut,
    Disconnected,
    Event,
    EventReceived,
    ServerConnection,
)


@dataclass
class Pair:
    now: float = 0.0
    server: ServerConnection = field(init=False)
    client: ClientConnection = field(default_factory=ClientConnection)

    def __post_init__(self) -> None:
        self.server = ServerConnection(now=self.now, connect_timeout=10.0)

    def to_server(self) -> list[Event]:
        events: list[Event] = []
        for message in self.client.take_messages():
            events += self.server.receive_message(message, now=self.now)
        return events

    def to_client(self) -> list[Event]:
        events: list[Event] = []
        for message in self.server.take_messages():
            events += self.client.receive_message(message, now=self.now)
        return events


def test_namespaces_events_acks_binary_and_disconnects() -> None:
    pair = Pair()
    pair.client.connect("/", {"token": "t"})
    pair.client.connect("/admin")
    pair.client.connect("/nope")
    assert pair.to_server() == [
        ConnectRequested("/", {"token": "t"}),
        ConnectRequested("/admin", {}),
        ConnectRequested("/nope", {}),
    ]
    pair.server.accept("/", "S1")
    pair.server.accept("/admin", "S2")
    pair.server.reject("/nope", "Invalid namespace")
    assert pair.to_client() == [
        Connected("/", "S1"),
        Connected("/admin", "S2"),
        ConnectRefused("/nope", "Invalid namespace"),
    ]

    ack = pair.client.emit("/admin", "upload", [{"file": b"\x00\x01"}], ack=True, timeout=5, now=0)
    assert pair.to_server() == [EventReceived("/admin", "upload", ({"file": b"\x00\x01"},), ack)]
    assert ack is not None
    pair.server.ack("/admin", ack, [b"done"])
    assert pair.to_client() == [AckReceived("/admin", ack, (b"done",))]

    sent = pair.server.emit("/", "ping", [1], ack=True, timeout=2.0, now=1.0)
    assert sent == 0 and pair.server.next_deadline() == 3.0
    assert pair.to_client() == [EventReceived("/", "ping", (1,), 0)]
    pair.now = 3.0
    assert pair.server.handle_timeout(now=pair.now) == [AckTimedOut("/", 0)]
    pair.client.ack("/", 0, ["late"])
    assert pair.to_server() == []

    assert pair.client.disconnect("/admin") == ()
    assert pair.to_server() == [Disconnected("/admin", "client namespace disconnect")]
    pair.server.disconnect("/")
    assert pair.to_client() == [Disconnected("/", "io server disconnect")]
    assert pair.server.namespaces == pair.client.namespaces == frozenset()


def test_connect_timeout_when_client_never_joins() -> None:
    pair = Pair()
    assert pair.server.next_deadline() == 10.0
    assert pair.server.handle_timeout(now=10.0) == [ConnectTimedOut()]
