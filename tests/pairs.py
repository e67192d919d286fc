"""Cores wired together with no sockets: bytes move between them the way the runtimes would
move them, with synthetic time. Shared by the Engine.IO pair tests and the full-stack pair."""

from __future__ import annotations

from engineio_core.protocol import (
    ClientSession,
    Event,
    MessageReceived,
    ServerConfig,
    ServerSession,
    SessionClosed,
)
from socketio_core.protocol import ClientConnection, ServerConnection
from socketio_core.protocol import Event as SioEvent

CONFIG = ServerConfig(ping_interval=25.0, ping_timeout=20.0, max_payload=1000)


class Pair:
    """Moves bytes between the two cores the way the runtimes would, with synthetic time."""

    def __init__(self, transport: str = "polling", *, upgrade: bool = False) -> None:
        self.now = 0.0
        self.upgrade = upgrade
        self.client = ClientSession(transport=transport, now=0.0)
        self.server = ServerSession("sid", CONFIG, transport=transport, now=0.0)
        self.client_events: list[Event] = []
        self.server_events: list[Event] = []
        self.get_in_flight = False
        self.ws_link = transport == "websocket"
        self.pump()

    def pump(self) -> None:
        c, s, now = self.client, self.server, self.now
        for _ in range(100):
            progress = False
            if c.should_poll() and not s.closed:
                c.start_poll(now=now)
                self.server_events += s.start_poll(now=now)
                self.get_in_flight = progress = True
            if self.get_in_flight and s.poll_ready():
                body = s.take_poll_payload()
                self.get_in_flight = False
                self.client_events += c.receive_poll_response(body, now=now)
                progress = True
            if c.post_ready():
                body = c.take_post_body()
                if not s.closed:
                    self.server_events += s.receive_poll_body(body, now=now)
                self.client_events += c.post_done(now=now)
                progress = True
            if self.upgrade and c.should_upgrade():
                self.server_events += s.begin_upgrade(now=now)
                self.client_events += c.begin_upgrade(now=now)
                self.ws_link = progress = True
            if self.ws_link:
                for frame in c.take_probe_frames() + c.take_ws_frames():
                    progress = True
                    if s.transport == "websocket":
                        self.server_events += s.receive_ws_message(frame, now=now)
                    else:
                        self.server_events += s.receive_probe_message(frame, now=now)
                for frame in s.take_probe_frames() + s.take_ws_frames():
                    progress = True
                    if c.transport == "websocket":
                        self.client_events += c.receive_ws_message(frame, now=now)
                    else:
                        self.client_events += c.receive_probe_message(frame, now=now)
            if not progress:
                return
        raise AssertionError("the pair does not settle")

    def advance(self, until: float) -> None:
        while True:
            deadlines = [d for d in (self.client.next_deadline(), self.server.next_deadline())
                         if d is not None and d <= until]
            if not deadlines:
                break
            self.now = max(self.now, min(deadlines))
            self.server_events += self.server.handle_timeout(now=self.now)
            self.client_events += self.client.handle_timeout(now=self.now)
            self.pump()
        self.now = until
        self.pump()

    def take(self) -> tuple[list[Event], list[Event]]:
        out = (self.client_events, self.server_events)
        self.client_events, self.server_events = [], []
        return out


class StackPair:
    """Socket.IO cores riding on an Engine.IO ``Pair``: what each side's runtime does, minus I/O.

    Socket.IO events from each side collect in ``client_events`` / ``server_events``; the
    Engine.IO events that are not messages (open, upgrade, close) in ``engine_events``.
    """

    def __init__(self, transport: str = "polling", *, upgrade: bool = False,
                 connect_timeout: float = 45.0, max_attachments: int = 10) -> None:
        self.engine = Pair(transport, upgrade=upgrade)
        self.client = ClientConnection(max_attachments=max_attachments)
        self.server = ServerConnection(now=0.0, connect_timeout=connect_timeout,
                                       max_attachments=max_attachments)
        self.client_events: list[SioEvent] = []
        self.server_events: list[SioEvent] = []
        self.engine_events: list[tuple[str, Event]] = []
        self._route()

    @property
    def now(self) -> float:
        return self.engine.now

    def pump(self) -> None:
        for _ in range(100):
            moved = False
            for message in self.client.take_messages():
                if not self.engine.client.closed:
                    self.engine.client.send_message(message)
                moved = True
            for message in self.server.take_messages():
                if not self.engine.server.closed:
                    self.engine.server.send_message(message)
                moved = True
            self.engine.pump()
            if not self._route() and not moved:
                return
        raise AssertionError("the stack does not settle")

    def _route(self) -> bool:
        client_events, server_events = self.engine.take()
        now = self.engine.now
        for side, events, core, out in (
            ("client", client_events, self.client, self.client_events),
            ("server", server_events, self.server, self.server_events),
        ):
            for event in events:
                if isinstance(event, MessageReceived):
                    out += core.receive_message(event.data, now=now)
                    continue
                self.engine_events.append((side, event))
                if isinstance(event, SessionClosed):
                    out += core.close(event.reason)
        return bool(client_events or server_events)

    def advance(self, until: float) -> None:
        """Move time to ``until``, firing every deadline of the four cores in order on the way."""
        cores = (self.engine.client, self.engine.server, self.client, self.server)
        while True:
            due = [d for core in cores if (d := core.next_deadline()) is not None and d <= until]
            if not due:
                break
            self.engine.now = now = max(self.engine.now, min(due))
            self.engine.server_events += self.engine.server.handle_timeout(now=now)
            self.engine.client_events += self.engine.client.handle_timeout(now=now)
            self.server_events += self.server.handle_timeout(now=now)
            self.client_events += self.client.handle_timeout(now=now)
            self.pump()
        self.engine.now = until
        self.pump()

    def take(self) -> tuple[list[SioEvent], list[SioEvent]]:
        out = (self.client_events, self.server_events)
        self.client_events, self.server_events = [], []
        return out
