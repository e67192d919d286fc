"""A ClientSession wired to a ServerSession with no sockets, and fuzzing of both sessions."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_core.protocol import (
    ClientSession,
    Event,
    MessageReceived,
    Opened,
    ProtocolError,
    ServerSession,
    SessionClosed,
    Upgraded,
)
from tests.pairs import CONFIG, Pair


def test_polling_pair_handshake_messages_heartbeat_and_close() -> None:
    p = Pair()
    client_events, server_events = p.take()
    assert client_events == [Opened("sid", ("websocket",), 25.0, 20.0, 1000)]
    assert server_events == []
    p.client.send_message("hello")
    p.client.send_message(b"\x01")
    p.server.send_message("world")
    p.pump()
    assert p.take() == ([MessageReceived("world")],
                        [MessageReceived("hello"), MessageReceived(b"\x01")])
    p.advance(1000.0)
    assert not p.client.closed and not p.server.closed
    assert p.take() == ([], [])
    p.client_events += p.client.close(now=p.now)
    p.pump()
    p.advance(p.now)
    assert p.take() == ([SessionClosed("forced close")], [SessionClosed("transport close")])


def test_upgrade_with_traffic_in_flight() -> None:
    p = Pair(upgrade=True)
    for i in range(3):
        p.server.send_message(f"s{i}")
        p.client.send_message(f"c{i}")
    p.pump()
    client_events, server_events = p.take()
    assert [e for e in client_events if isinstance(e, MessageReceived)] == [
        MessageReceived(f"s{i}") for i in range(3)]
    assert [e for e in server_events if isinstance(e, MessageReceived)] == [
        MessageReceived(f"c{i}") for i in range(3)]
    assert Upgraded() in client_events and Upgraded() in server_events
    assert p.client.transport == p.server.transport == "websocket"
    p.server.send_message(b"\x09")
    p.client.send_message("after")
    p.pump()
    assert p.take() == ([MessageReceived(b"\x09")], [MessageReceived("after")])
    p.advance(500.0)
    assert not p.server.closed
    p.server_events += p.server.close(now=p.now)
    p.pump()
    p.advance(p.now)
    _, server_events = p.take()
    assert server_events == [SessionClosed("forced close")]


def test_upgrade_racing_queued_messages_keeps_order() -> None:
    p = Pair(upgrade=False)
    p.take()
    p.upgrade = True
    for i in range(10):
        p.server.send_message(str(i))
    p.pump()
    client_events, _ = p.take()
    assert [e.data for e in client_events if isinstance(e, MessageReceived)] == [
        str(i) for i in range(10)]


def test_websocket_pair_and_ping_timeout() -> None:
    p = Pair("websocket")
    assert p.take()[0] == [Opened("sid", (), 25.0, 20.0, 1000)]
    p.advance(100.0)
    assert p.take() == ([], [])
    p.ws_link = False  # the network dies silently
    p.advance(200.0)
    client_events, server_events = p.take()
    assert server_events == [SessionClosed("ping timeout")]
    assert client_events == [SessionClosed("ping timeout")]
    assert p.server.close_reason == "ping timeout"


def test_polling_ping_timeout_when_client_stops_answering() -> None:
    p = Pair()
    p.take()
    p.advance(24.0)
    p.client_events += p.client.transport_closed(reason="transport error", now=p.now)
    p.advance(100.0)
    client_events, server_events = p.take()
    assert client_events == [SessionClosed("transport error")]
    assert server_events == [SessionClosed("ping timeout")]


operations = st.lists(
    st.tuples(
        st.sampled_from(["poll", "post", "ws", "probe", "begin", "timeout", "close",
                         "tclose", "pclose", "send", "take"]),
        st.one_of(st.binary(max_size=24), st.text(max_size=24),
                  st.sampled_from(["2probe", "3probe", "5", "3", "2", "1", "4x", "6", b"\x00",
                                   b"4a\x1e3", b"1", b"3"])),
        st.floats(min_value=0, max_value=100, allow_nan=False),
    ),
    max_size=25,
)


def _as_bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def _check_closed_once(events: list[Event], closed: bool) -> None:
    closes = [e for e in events if isinstance(e, SessionClosed)]
    assert len(closes) == (1 if closed else 0)


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(["polling", "websocket"]), operations)
def test_server_session_survives_anything(transport: str,
                                          ops: list[tuple[str, str | bytes, float]]) -> None:
    s = ServerSession("sid", CONFIG, transport=transport, now=0.0)
    now = 0.0
    events: list[Event] = []
    for name, data, step in ops:
        now += step
        try:
            if name == "poll":
                events += s.start_poll(now=now)
            elif name == "post":
                events += s.receive_poll_body(_as_bytes(data), now=now)
            elif name == "ws":
                events += s.receive_ws_message(data, now=now)
            elif name == "probe":
                events += s.receive_probe_message(data, now=now)
            elif name == "begin":
                events += s.begin_upgrade(now=now)
            elif name == "timeout":
                deadline = s.next_deadline()
                events += s.handle_timeout(now=now)
                after = s.next_deadline()
                if deadline is not None and deadline <= now:
                    assert after is None or after > now
            elif name == "close":
                events += s.close(now=now)
            elif name == "tclose":
                events += s.transport_closed(reason="transport error", now=now)
            elif name == "pclose":
                events += s.probe_closed(now=now)
            elif name == "send":
                s.send_message(data if isinstance(data, bytes) else "m")
            else:
                if s.poll_ready():
                    s.take_poll_payload()
                s.take_ws_frames()
                s.take_probe_frames()
        except ProtocolError:
            events += s.events_after_error()
    events += s.handle_timeout(now=now)
    _check_closed_once(events, s.closed)


@settings(max_examples=250, deadline=None)
@given(st.sampled_from(["polling", "websocket"]), operations)
def test_client_session_survives_anything(transport: str,
                                          ops: list[tuple[str, str | bytes, float]]) -> None:
    c = ClientSession(transport=transport, now=0.0)
    now = 0.0
    opened = False
    events: list[Event] = []
    for name, data, step in ops:
        now += step
        try:
            if not opened and name in ("poll", "ws"):
                opened = True
                if transport == "polling":
                    c.start_poll(now=now)
                    events += c.receive_poll_response(
                        b'0{"sid":"s","upgrades":["websocket"],"pingInterval":10,'
                        b'"pingTimeout":10,"maxPayload":30}', now=now)
                else:
                    events += c.receive_ws_message(
                        '0{"sid":"s","pingInterval":10,"pingTimeout":10}', now=now)
                continue
            if name == "poll":
                if c.should_poll():
                    c.start_poll(now=now)
                events += c.receive_poll_response(_as_bytes(data), now=now)
            elif name == "post":
                if c.post_ready():
                    c.take_post_body()
                events += c.post_done(now=now)
            elif name == "ws":
                events += c.receive_ws_message(data, now=now)
            elif name == "probe":
                events += c.receive_probe_message(data, now=now)
            elif name == "begin":
                events += c.begin_upgrade(now=now)
            elif name == "timeout":
                events += c.handle_timeout(now=now)
            elif name == "close":
                events += c.close(now=now)
            elif name == "tclose":
                events += c.transport_closed(reason="transport close", now=now)
            elif name == "pclose":
                events += c.probe_closed(now=now)
            elif name == "send":
                c.send_message(data if isinstance(data, bytes) else "m")
            else:
                c.take_ws_frames()
                c.take_probe_frames()
        except ProtocolError:
            events += c.events_after_error()
    events += c.handle_timeout(now=now)
    _check_closed_once(events, c.closed)
