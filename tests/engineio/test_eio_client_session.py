"""ClientSession: exact bytes in and out, synthetic time, every transition."""

from __future__ import annotations

import pytest

from engineio_core.protocol import (
    ClientSession,
    ClientState,
    LocalProtocolError,
    MessageReceived,
    Opened,
    RemoteProtocolError,
    SessionClosed,
    Upgraded,
    UpgradeFailed,
)

OPEN = ('0{"sid":"s1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,'
        '"maxPayload":100}')
OPENED = Opened("s1", ("websocket",), 25.0, 20.0, 100)


def polling(now: float = 0.0, **kwargs: object) -> ClientSession:
    c = ClientSession(transport="polling", now=now, **kwargs)  # type: ignore[arg-type]
    assert c.should_poll()
    assert c.query() == {"EIO": "4", "transport": "polling"}
    c.start_poll(now=now)
    assert not c.should_poll()
    assert c.receive_poll_response(OPEN.encode(), now=now) == [OPENED]
    assert c.sid == "s1" and c.state is ClientState.OPEN
    return c


def websocket(now: float = 0.0) -> ClientSession:
    c = ClientSession(transport="websocket", now=now)
    assert not c.should_poll()
    c.send_message("early")
    assert c.take_ws_frames() == []
    assert c.receive_ws_message(OPEN.replace('["websocket"]', "[]"), now=now) == [
        Opened("s1", (), 25.0, 20.0, 100)]
    return c


def test_polling_open_messages_and_post_body() -> None:
    c = polling()
    assert c.query() == {"EIO": "4", "transport": "polling", "sid": "s1"}
    assert c.probe_query() == {"EIO": "4", "transport": "websocket", "sid": "s1"}
    assert c.should_poll()
    assert not c.post_ready()
    c.send_message("hello")
    c.send_message(b"\x01\x02\x03\x04")
    assert c.post_ready()
    assert c.take_post_body() == b"4hello\x1ebAQIDBA=="
    assert not c.post_ready()
    c.send_message("next")
    assert not c.post_ready()
    assert c.post_done(now=1.0) == []
    assert c.take_post_body() == b"4next"
    c.post_done(now=1.0)
    c.start_poll(now=1.0)
    assert c.receive_poll_response(b"4a\x1ebAA==", now=2.0) == [
        MessageReceived("a"), MessageReceived(b"\x00")]
    assert c.take_ws_frames() == []


def test_post_respects_max_payload_like_the_js_client() -> None:
    c = polling()
    for _ in range(5):
        c.send_message("x" * 40)
    assert c.take_post_body() == b"4" + b"x" * 40 + b"\x1e4" + b"x" * 40
    c.post_done(now=1.0)
    c.send_message(b"\x00" * 90)
    assert c.take_post_body() == b"4" + b"x" * 40 + b"\x1e4" + b"x" * 40
    c.post_done(now=1.0)
    assert c.take_post_body() == b"4" + b"x" * 40
    c.post_done(now=1.0)
    assert c.take_post_body() == b"b" + b"A" * 120
    c.post_done(now=1.0)
    c.send_message("y" * 500)
    assert c.take_post_body() == b"4" + b"y" * 500


def test_heartbeat_answers_pings_and_times_out() -> None:
    c = polling()
    assert c.next_deadline() == 45.0
    c.start_poll(now=0.0)
    assert c.receive_poll_response(b"2", now=25.0) == []
    assert c.next_deadline() == 70.0
    assert c.take_post_body() == b"3"
    c.post_done(now=25.1)
    assert c.handle_timeout(now=69.9) == []
    assert c.handle_timeout(now=70.0) == [SessionClosed("ping timeout")]
    assert c.closed and c.next_deadline() is None
    assert not c.should_poll() and not c.post_ready()


def test_websocket_session() -> None:
    c = websocket()
    assert c.take_ws_frames() == ["4early"]
    assert c.receive_ws_message("2", now=25.0) == []
    c.send_message(b"\x01")
    assert c.take_ws_frames() == ["3", b"\x01"]
    assert c.receive_ws_message(b"\x02", now=26.0) == [MessageReceived(b"\x02")]
    assert c.receive_ws_message("6", now=26.0) == []
    assert c.receive_ws_message("3", now=26.0) == []
    assert c.receive_ws_message("0{}", now=26.0) == []
    assert c.receive_ws_message("1", now=27.0) == [
        SessionClosed("transport close", "transport closed by the server")]
    assert c.receive_ws_message("4late", now=28.0) == []


def test_server_close_over_polling() -> None:
    c = polling()
    c.start_poll(now=0.0)
    assert c.receive_poll_response(b"4a\x1e1\x1e4b", now=1.0) == [
        MessageReceived("a"), SessionClosed("transport close", "transport closed by the server")]
    assert c.receive_poll_response(b"4late", now=2.0) == []


def test_client_close_over_polling_posts_close_packet_once_drained() -> None:
    """As engine.io-client's close waits for ``drain``: the queued messages' POST completes
    first, and ``"1"`` goes alone in the next (a DISCONNECT then reaches the server before
    the close)."""
    c = polling()
    c.send_message("bye")
    c.close(now=1.0)
    assert c.state is ClientState.DRAINING
    c.send_message("dropped")
    c.close()
    assert c.take_post_body() == b"4bye"
    assert not c.post_ready() and c.state is ClientState.DRAINING
    assert c.post_done(now=1.1) == []
    assert c.state is ClientState.CLOSING
    assert c.take_post_body() == b"1"
    assert c.closed
    assert c.next_deadline() == 1.1
    assert c.handle_timeout(now=1.1) == [SessionClosed("forced close")]
    assert c.post_done(now=1.2) == []


def test_client_close_over_polling_waits_for_the_post_in_flight() -> None:
    c = polling()
    c.send_message("a")
    assert c.take_post_body() == b"4a"
    c.start_poll(now=0.0)
    c.close(now=1.0)
    assert c.state is ClientState.DRAINING and not c.post_ready()
    # The poll started before the close still delivers what it gets:
    assert c.receive_poll_response(b"4late\x1e2", now=1.0) == [MessageReceived("late")]
    assert not c.should_poll()
    assert c.post_done(now=1.1) == []
    assert c.take_post_body() == b"1"  # the ping got no pong: the session is closing
    assert c.closed


def test_client_close_over_polling_with_nothing_queued_posts_close_at_once() -> None:
    c = polling()
    c.close(now=1.0)
    assert c.state is ClientState.CLOSING
    assert c.take_post_body() == b"1"
    assert c.closed


def test_client_close_over_websocket_and_while_opening() -> None:
    c = websocket()
    assert c.close(now=1.0) == [SessionClosed("forced close")]
    assert c.take_ws_frames() == ["4early"]
    assert c.handle_timeout(now=1.0) == []
    assert c.close(now=1.0) == []  # idempotent
    o = ClientSession(now=0.0)
    o.send_message("x")
    assert o.close(now=0.5) == [SessionClosed("forced close")]
    assert o.closed and o.handle_timeout(now=0.5) == []


def test_upgrade_with_traffic_in_flight() -> None:
    c = polling()
    assert c.should_upgrade()
    c.start_poll(now=0.0)
    c.send_message("m1")
    assert c.take_post_body() == b"4m1"
    assert c.begin_upgrade(now=1.0) == []
    assert c.take_probe_frames() == ["2probe"]
    assert not c.should_upgrade() and c.upgrading
    c.send_message("m2")
    assert c.receive_probe_message("3probe", now=2.0) == []
    assert c.state is ClientState.PAUSING
    assert not c.post_ready() and not c.should_poll()
    assert c.post_done(now=2.1) == []
    assert c.receive_poll_response(b"6", now=2.2) == [Upgraded()]
    assert c.transport == "websocket" and c.state.name == "OPEN"
    c.send_message("m3")
    assert c.take_ws_frames() == ["5", "4m2", "4m3"]
    assert c.receive_ws_message("4s", now=3.0) == [MessageReceived("s")]


def test_upgrade_completes_at_once_when_nothing_is_in_flight() -> None:
    c = polling()
    c.begin_upgrade(now=1.0)
    assert c.receive_probe_message("3probe", now=1.0) == [Upgraded()]
    assert c.take_probe_frames() == ["2probe", "5"]
    assert c.take_ws_frames() == []


@pytest.mark.parametrize("frame", ["3", "3other", "4x", "x", b"\x00"])
def test_probe_failure_keeps_polling(frame: str | bytes) -> None:
    c = polling()
    c.begin_upgrade(now=1.0)
    assert c.receive_probe_message(frame, now=1.0) == [UpgradeFailed("probe error")]
    assert c.state is ClientState.OPEN and c.transport == "polling"
    assert c.take_probe_frames() == []
    assert not c.should_upgrade()
    assert c.receive_probe_message("3probe", now=1.0) == []


def test_probe_closed_and_close_during_upgrade() -> None:
    c = polling()
    c.start_poll(now=0.0)
    c.begin_upgrade(now=1.0)
    c.receive_probe_message("3probe", now=1.0)
    assert c.probe_closed(now=2.0) == [UpgradeFailed("transport closed")]
    assert c.probe_closed(now=2.0) == []
    assert c.receive_poll_response(b"6", now=2.0) == []
    assert c.should_poll()
    d = polling()
    d.begin_upgrade(now=1.0)
    assert d.close(now=1.0) == [UpgradeFailed("socket closed")]
    assert d.handle_timeout(now=1.0) == []
    assert d.take_post_body() == b"1"
    e = polling()
    e.begin_upgrade(now=1.0)
    assert e.transport_closed(reason="transport error", now=2.0) == [
        UpgradeFailed("socket closed"), SessionClosed("transport error")]


def test_no_upgrade_when_not_offered_or_disabled() -> None:
    assert not polling(upgrade=False).should_upgrade()
    assert not polling(transports=("polling",)).should_upgrade()
    c = ClientSession(now=0.0)
    c.start_poll(now=0.0)
    c.receive_poll_response(OPEN.replace('["websocket"]', "[]").encode(), now=0.0)
    assert not c.should_upgrade()
    with pytest.raises(LocalProtocolError):
        c.begin_upgrade(now=0.0)


@pytest.mark.parametrize(
    "body",
    [b"4hello", b"0", b"0null", b"0[]", b'0{"sid":""}', b"0{bad",
     b'0{"sid":"s","pingInterval":1}',
     b'0{"sid":"s","pingInterval":true,"pingTimeout":1}',
     b'0{"sid":"s","pingInterval":1,"pingTimeout":1,"upgrades":[1]}',
     b'0{"sid":"s","pingInterval":1,"pingTimeout":1,"maxPayload":-1}',
     b"xyz", b"\xff"],
)
def test_bad_open_is_a_transport_error(body: bytes) -> None:
    c = ClientSession(now=0.0)
    c.start_poll(now=0.0)
    with pytest.raises(RemoteProtocolError) as info:
        c.receive_poll_response(body, now=0.0)
    assert info.value.reason == "transport error"
    events = c.events_after_error()
    assert len(events) == 1 and isinstance(events[0], SessionClosed)
    assert events[0].reason == "transport error"


def test_open_defaults() -> None:
    c = ClientSession(now=0.0)
    c.start_poll(now=0.0)
    assert c.receive_poll_response(b'0{"sid":"s","pingInterval":300,"pingTimeout":200}',
                                   now=0.0) == [Opened("s", (), 0.3, 0.2, 0)]
    for _ in range(3):
        c.send_message("z" * 10)
    assert c.take_post_body() == b"4" + b"\x1e4".join([b"z" * 10] * 3)


def test_ws_parse_error() -> None:
    c = websocket()
    with pytest.raises(RemoteProtocolError):
        c.receive_ws_message("9", now=1.0)
    assert c.events_after_error() == [SessionClosed("transport error", "unknown packet type '9'")]


def test_misuse_is_local() -> None:
    with pytest.raises(LocalProtocolError):
        ClientSession(transport="webtransport", now=0.0)
    c = polling()
    with pytest.raises(LocalProtocolError):
        c.receive_ws_message("4x", now=0.0)
    with pytest.raises(LocalProtocolError):
        c.receive_poll_response(b"4x", now=0.0)
    with pytest.raises(LocalProtocolError):
        c.take_post_body()
    with pytest.raises(LocalProtocolError):
        c.post_done(now=0.0)
    with pytest.raises(LocalProtocolError):
        c.send_message("a\x1e")
    with pytest.raises(LocalProtocolError):
        c.send_message(None)  # type: ignore[arg-type]
    c.start_poll(now=0.0)
    with pytest.raises(LocalProtocolError):
        c.start_poll(now=0.0)
    c.send_message(memoryview(b"m"))  # type: ignore[arg-type]
    assert c.take_post_body() == b"bbQ=="

