"""A Socket.IO echo server on plain blocking sockets and threads, driving the Sans-IO cores.

No trio and no runtime of ours: the standard library's ``socket`` and ``threading``, ``wsproto``
for the WebSocket framing, ``time.monotonic()`` as the clock. It serves WebSocket-only clients
(``io(url, {transports: ["websocket"]})``): ``echo`` events are answered through their ack, or
emitted back when no ack was asked. docs/sans-io.md walks through it.

Run: ``python3 examples/sans_io_echo.py [PORT]``; prints ``listening PORT`` once ready. Ctrl-C
closes every session (its client sees the WebSocket close, code 1000) and exits.
"""

from __future__ import annotations

import secrets
import socket
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from engineio_core import protocol as eio
from socketio_core import protocol as sio

CONFIG = eio.ServerConfig(transports=("websocket",))
PATH = "/socket.io/"


class Connection:
    """One client: a socket, its WebSocket state, and the two cores stacked on it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.ws = WSConnection(ConnectionType.SERVER)
        self.engine: eio.ServerSession | None = None
        self.sio = sio.ServerConnection(now=time.monotonic())
        self.parts: list[str | bytes] = []  # fragments of the WebSocket message being read
        self.stopping = False

    def run(self) -> None:
        try:
            while self.step():
                pass
        finally:
            self.sock.close()

    def stop(self) -> None:
        """From another thread (Ctrl-C): wake the loop, which then closes the session."""
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RD)  # the recv under way returns at once
        except OSError:
            pass  # the socket is closed already: the loop has ended

    def close(self, now: float) -> None:
        """Close the session; ``flush`` then closes the WebSocket (code 1000), as Node closes a
        session on WebSocket (the close packet ``1`` is long-polling's)."""
        if self.engine is not None and not self.engine.closed:
            self.on_engine_events(self.engine.close(now=now), now)
        self.flush()

    def step(self) -> bool:
        """Wait for bytes or the next deadline, feed the cores, write what they queued."""
        deadline = self.next_deadline()
        timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        self.sock.settimeout(timeout)
        try:
            data: bytes | None = self.sock.recv(65536)
        except TimeoutError:
            data = None
        now = time.monotonic()
        if self.stopping:  # the server is stopping (stop() woke the recv)
            self.close(now)
            return False
        if data is None:
            self.on_engine_events(self.engine.handle_timeout(now=now) if self.engine else [], now)
            self.on_sio_events(self.sio.handle_timeout(now=now), now)
        else:
            self.ws.receive_data(data or None)  # b"" means the peer closed: tell wsproto
            for event in self.ws.events():
                self.on_ws_event(event, now)
        self.flush()
        return data != b"" and not (self.engine is not None and self.engine.closed)

    def next_deadline(self) -> float | None:
        """The earliest deadline of either core: the heartbeat, the connect timeout, acks."""
        deadlines = [self.sio.next_deadline()]
        if self.engine is not None:
            deadlines.append(self.engine.next_deadline())
        return min((d for d in deadlines if d is not None), default=None)

    def on_ws_event(self, event: Any, now: float) -> None:
        if isinstance(event, Request):
            self.handshake(event, now)
        elif isinstance(event, Message) and self.engine is not None:
            self.parts.append(event.data)
            if event.message_finished:
                text = isinstance(event, TextMessage)
                data = "".join(map(str, self.parts)) if text else b"".join(
                    p for p in self.parts if isinstance(p, bytes))
                self.parts = []
                try:
                    events = self.engine.receive_ws_message(data, now=now)
                except eio.ProtocolError:
                    events = self.engine.events_after_error()
                self.on_engine_events(events, now)
        elif isinstance(event, Ping):
            self.sock.sendall(self.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            if self.ws.state is ConnectionState.REMOTE_CLOSING:  # else the peer just vanished
                self.sock.sendall(self.ws.send(event.response()))
            if self.engine is not None:
                self.on_engine_events(self.engine.transport_closed(now=now), now)

    def handshake(self, request: Request, now: float) -> None:
        """The HTTP upgrade: the Engine.IO request check, then a new session."""
        target = urlsplit(request.target)
        try:
            if target.path != PATH:
                raise eio.ProtocolError("Not Found", http_status=404)
            kind = eio.check_request(method="GET", query=dict(parse_qsl(target.query)),
                                     websocket=True, config=CONFIG, origin=None, session=None)
            if kind is not eio.RequestKind.HANDSHAKE:
                raise eio.ProtocolError("Session ID unknown", http_status=400)
        except eio.ProtocolError as error:
            body = error.message.encode()
            self.sock.sendall(self.ws.send(RejectConnection(
                status_code=error.http_status or 400, has_body=True,
                headers=[(b"content-length", str(len(body)).encode())])))
            self.sock.sendall(self.ws.send(RejectData(data=body, body_finished=True)))
            return
        self.sock.sendall(self.ws.send(AcceptConnection()))
        self.engine = eio.ServerSession(secrets.token_urlsafe(15), CONFIG,
                                        transport="websocket", now=now)

    def on_engine_events(self, events: list[eio.Event], now: float) -> None:
        for event in events:
            if isinstance(event, eio.MessageReceived):
                try:
                    self.on_sio_events(self.sio.receive_message(event.data, now=now), now)
                except sio.ProtocolError:
                    if self.engine is not None:
                        self.on_engine_events(self.engine.close(now=now), now)

    def on_sio_events(self, events: list[sio.ServerEvent], now: float) -> None:
        for event in events:
            if isinstance(event, sio.ConnectRequested):
                self.sio.accept(event.namespace, secrets.token_urlsafe(15))
            elif isinstance(event, sio.EventReceived) and event.event == "echo":
                if event.ack_id is not None:
                    self.sio.ack(event.namespace, event.ack_id, event.args)
                else:
                    self.sio.emit(event.namespace, "echo", event.args)
            elif isinstance(event, sio.ConnectTimedOut) and self.engine is not None:
                self.on_engine_events(self.engine.close(now=now), now)

    def flush(self) -> None:
        """Socket.IO messages → the Engine.IO session → WebSocket frames → the socket."""
        if self.engine is None:
            return
        for message in self.sio.take_messages():
            self.engine.send_message(message)
        out = b""
        for frame in self.engine.take_ws_frames():
            wire = TextMessage(data=frame) if isinstance(frame, str) else BytesMessage(data=frame)
            out += self.ws.send(wire)
        if self.engine.closed and self.ws.state is ConnectionState.OPEN:
            out += self.ws.send(CloseConnection(code=1000))
        if out:
            self.sock.sendall(out)


def serve(port: int) -> None:
    """Accept clients, a thread each, until Ctrl-C; then close every session and return."""
    listener = socket.create_server(("127.0.0.1", port))
    print(f"listening {listener.getsockname()[1]}", flush=True)
    running: list[tuple[Connection, threading.Thread]] = []
    try:
        while True:
            client, _ = listener.accept()
            connection = Connection(client)
            thread = threading.Thread(target=connection.run, daemon=True)
            thread.start()
            running = [(c, t) for c, t in running if t.is_alive()] + [(connection, thread)]
    except KeyboardInterrupt:
        listener.close()
        for connection, _ in running:
            connection.stop()
        for _, thread in running:
            thread.join(timeout=2)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8001)
