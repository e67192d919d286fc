"""ServerSession: exact bytes in and out, synthetic time, every transition."""

from __future__ import annotations

import pytest

from engineio_core.protocol import (
    LocalProtocolError,
    MessageReceived,
    RemoteProtocolError,
    ServerConfig,
    ServerSession,
    ServerState,
    SessionClosed,
    Upgraded,
    UpgradeFailed,
)

CONFIG = ServerConfig(ping_interval=25.0, ping_timeout=20.0, max_payload=100,
                      upgrade_timeout=10.0, close_timeout=30.0)
OPEN = (b'0{"sid":"s1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,'
        b'"maxPayload":100}')
WS_OPEN = ('0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,'
           '"maxPayload":100}')


def polling(now: float = 0.0, *, take_open: bool = True) -> ServerSession:
    s = ServerSession("s1", CONFIG, transport="polling", now=now)
    if take_open:
        assert s.start_poll(now=now) == []
        assert s.take_poll_payload() == OPEN
    return s


def websocket(now: float = 0.0) -> ServerSession:
    s = ServerSession("s1", CONFIG, transport="websocket", now=now)
    assert s.take_ws_frames() == [WS_OPEN]
    return s


def test_polling_handshake_then_messages_both_ways() -> None:
    s = ServerSession("s1", CONFIG, transport="polling", now=0.0)
    assert s.state is ServerState.POLLING and s.transport == "polling"
    assert not s.poll_ready()
    assert s.start_poll(now=0.0) == []
    assert s.poll_ready()
    assert s.take_poll_payload() == OPEN
    assert not s.poll_ready()
    assert s.next_deadline() == 25.0
    assert s.receive_poll_body(b"4hello\x1ebAQIDBA==\x1e4", now=1.0) == [
        MessageReceived("hello"), MessageReceived(b"\x01\x02\x03\x04"), MessageReceived("")]
    s.start_poll(now=1.0)
    assert not s.poll_ready()
    s.send_message("a€")
    s.send_message(b"\x00")
    assert s.buffered_bytes() == (1 + 4) + (1 + 1)
    assert s.poll_ready()
    assert s.take_poll_payload() == "4a€\x1ebAA==".encode()
    assert s.buffered_bytes() == 0
    assert s.take_ws_frames() == []


def test_websocket_handshake_then_messages() -> None:
    s = websocket()
    assert s.transport == "websocket"
    assert s.receive_ws_message("4hi", now=1.0) == [MessageReceived("hi")]
    assert s.receive_ws_message(b"\x01", now=1.0) == [MessageReceived(b"\x01")]
    s.send_message("x")
    s.send_message(b"\x02")
    assert s.take_ws_frames() == ["4x", b"\x02"]
    assert s.take_ws_frames() == []
    assert s.take_probe_frames() == []
    with pytest.raises(LocalProtocolError):
        s.take_poll_payload()


def test_heartbeat_deadlines_are_exact() -> None:
    s = polling()
    assert s.next_deadline() == 25.0
    assert s.handle_timeout(now=24.9) == []
    assert s.next_deadline() == 25.0
    assert s.handle_timeout(now=25.0) == []
    assert s.next_deadline() == 45.0
    s.start_poll(now=25.0)
    assert s.take_poll_payload() == b"2"
    assert s.receive_poll_body(b"3", now=30.0) == []
    assert s.next_deadline() == 55.0
    s.handle_timeout(now=55.0)
    assert s.next_deadline() == 75.0
    s.start_poll(now=55.0)
    assert s.take_poll_payload() == b"2"
    assert s.handle_timeout(now=74.99) == []
    events = s.handle_timeout(now=75.0)
    assert events == [SessionClosed("ping timeout")]
    assert s.closed and s.close_reason == "ping timeout"
    assert s.next_deadline() is None


def test_ping_timeout_answers_a_parked_poll_with_close() -> None:
    s = polling()
    s.handle_timeout(now=25.0)
    s.start_poll(now=25.0)
    assert s.take_poll_payload() == b"2"
    s.start_poll(now=26.0)
    assert s.handle_timeout(now=45.0) == [SessionClosed("ping timeout")]
    assert s.poll_ready()
    assert s.take_poll_payload() == b"1"


def test_pong_flood_never_multiplies_pings() -> None:
    s = websocket()
    for t in range(100):
        assert s.receive_ws_message("3", now=float(t) / 10) == []
    assert s.next_deadline() == pytest.approx(9.9 + 25.0)
    s.handle_timeout(now=40.0)
    assert s.take_ws_frames() == ["2"]
    for _ in range(5):
        s.receive_ws_message("3", now=41.0)
    assert s.next_deadline() == 66.0
    assert s.handle_timeout(now=66.0) == []
    assert s.take_ws_frames() == ["2"]
    assert s.next_deadline() == 86.0


def test_client_ping_is_a_transport_error() -> None:
    s = websocket()
    with pytest.raises(RemoteProtocolError) as info:
        s.receive_ws_message("2", now=1.0)
    assert info.value.reason == "transport error"
    assert s.events_after_error() == [SessionClosed("transport error",
                                                    "invalid heartbeat direction")]
    # On polling, as Node, the POST is taken (no error for the runtime to answer with).
    p = polling()
    p.start_poll(now=1.0)
    assert p.receive_poll_body(b"4a\x1e2\x1e4b", now=1.0) == [
        MessageReceived("a"), SessionClosed("transport error", "invalid heartbeat direction")]
    assert p.take_poll_payload() == b"1"


def test_ignored_client_packets() -> None:
    s = websocket()
    assert s.receive_ws_message("0", now=1.0) == []
    assert s.receive_ws_message("5", now=1.0) == []
    assert s.receive_ws_message("6", now=1.0) == []
    assert s.state is ServerState.WEBSOCKET


def test_parse_error_closes_and_answers_parked_poll_with_close() -> None:
    s = polling()
    s.start_poll(now=1.0)
    s.send_message("lost")
    # As Node: no error for the runtime (it answers 200 "ok"); the session closes.
    assert s.receive_poll_body(b"abc", now=1.0) == [
        SessionClosed("parse error", "unknown packet type 'a'")]
    assert s.poll_ready() and s.take_poll_payload() == b"1"
    with pytest.raises(RemoteProtocolError) as again:
        s.start_poll(now=2.0)
    assert again.value.code == 1
    with pytest.raises(RemoteProtocolError):
        s.receive_poll_body(b"4a", now=2.0)


def test_ws_parse_error_and_oversize() -> None:
    s = websocket()
    with pytest.raises(RemoteProtocolError):
        s.receive_ws_message("x", now=1.0)
    assert s.events_after_error() == [SessionClosed("parse error", "unknown packet type 'x'")]
    assert s.take_ws_frames() == []
    assert s.receive_ws_message("4late", now=2.0) == []
    big = websocket()
    assert big.receive_ws_message("4" + "é" * 49, now=1.0) == [MessageReceived("é" * 49)]
    with pytest.raises(RemoteProtocolError) as info:
        big.receive_ws_message("4" + "é" * 50, now=1.0)
    assert info.value.ws_close_code == 1009
    assert big.closed and big.close_reason == "transport error"
    raw = websocket()
    with pytest.raises(RemoteProtocolError):
        raw.receive_ws_message(b"x" * 101, now=1.0)


def test_polling_body_over_and_under_max_payload() -> None:
    s = polling()
    assert s.receive_poll_body(b"4" + b"x" * 99, now=1.0) == [MessageReceived("x" * 99)]
    with pytest.raises(RemoteProtocolError) as info:
        s.receive_poll_body(b"4" + b"x" * 100, now=1.0)
    assert info.value.http_status == 413
    assert s.close_reason == "transport error"


def test_duplicate_poll_closes_session_and_first_poll_gets_close() -> None:
    s = polling()
    s.start_poll(now=1.0)
    with pytest.raises(RemoteProtocolError) as info:
        s.start_poll(now=1.0)
    assert (info.value.code, info.value.http_status) == (3, 400)
    assert s.events_after_error() == [SessionClosed("transport error", "overlap from client")]
    assert s.take_poll_payload() == b"1"


def test_client_close_over_polling_releases_parked_poll_with_noop() -> None:
    s = polling()
    s.start_poll(now=1.0)
    assert s.receive_poll_body(b"4bye\x1e1\x1e4ignored", now=1.0) == [
        MessageReceived("bye"), SessionClosed("transport close")]
    assert s.poll_ready()
    assert s.take_poll_payload() == b"6"
    s.close()
    assert s.close_reason == "transport close"


def test_client_close_over_websocket() -> None:
    s = websocket()
    assert s.receive_ws_message("1", now=1.0) == [SessionClosed("transport close")]
    assert s.transport_closed(reason="transport close", now=2.0) == []


def test_server_close_on_polling_with_parked_poll() -> None:
    s = polling()
    s.start_poll(now=5.0)
    s.send_message("last")
    s.close()
    assert s.state is ServerState.CLOSING
    s.send_message("dropped")
    s.close()
    assert s.next_deadline() == 35.0
    assert s.take_poll_payload() == b"4last\x1e1"
    assert s.closed
    assert s.next_deadline() == 5.0
    assert s.handle_timeout(now=5.0) == [SessionClosed("forced close")]
    assert s.next_deadline() is None


def test_server_close_on_polling_waits_for_a_poll_then_times_out() -> None:
    s = polling()
    s.close(now=3.0)
    assert s.next_deadline() == 33.0
    assert s.receive_poll_body(b"4ignored\x1e3", now=4.0) == []
    assert s.handle_timeout(now=32.0) == []
    assert s.handle_timeout(now=33.0) == [SessionClosed("forced close")]
    assert s.take_ws_frames() == []


def test_client_close_while_closing() -> None:
    s = polling()
    s.close(now=3.0)
    assert s.receive_poll_body(b"1", now=4.0) == [SessionClosed("transport close")]
    assert s.closed


def test_server_close_on_websocket_flushes_frames() -> None:
    s = websocket()
    s.send_message("last")
    assert s.close(now=2.0) == [SessionClosed("forced close")]
    assert s.closed and s.transport == "websocket"
    assert s.take_ws_frames() == ["4last"]
    assert s.next_deadline() is None
    assert s.close(now=2.0) == []  # idempotent
    s.send_message("ignored")
    assert s.take_ws_frames() == []


def test_transport_closed_is_idempotent() -> None:
    s = polling()
    assert s.transport_closed(reason="transport error", now=1.0) == [
        SessionClosed("transport error")]
    assert s.transport_closed(reason="transport close", now=1.0) == []
    assert s.handle_timeout(now=100.0) == []


@pytest.mark.parametrize(("reason", "reply"), [("transport error", b"1"),
                                               ("transport close", b"6")])
def test_transport_closed_answers_a_parked_poll_as_node(reason: str, reply: bytes) -> None:
    # Node: an error closes the transport (doClose writes the close packet to a writable
    # poll); a transport close first releases the poll with a noop (Polling.onClose).
    s = polling()
    s.send_message("dropped")
    s.start_poll(now=1.0)
    assert s.transport_closed(reason=reason, now=1.0) == [SessionClosed(reason)]
    assert s.poll_ready() and s.take_poll_payload() == reply


def test_upgrade_with_parked_poll_and_traffic_in_flight() -> None:
    s = polling()
    s.send_message("m1")
    s.start_poll(now=1.0)
    assert s.take_poll_payload() == b"4m1"
    s.start_poll(now=1.0)
    assert s.begin_upgrade(now=2.0) == []
    assert s.upgrading and s.state is ServerState.PROBING
    assert s.next_deadline() == 12.0
    assert not s.poll_ready()
    assert s.receive_probe_message("2probe", now=3.0) == []
    assert s.take_probe_frames() == ["3probe"]
    assert s.state.name == "UPGRADING"
    assert s.poll_ready()
    assert s.take_poll_payload() == b"6"
    s.send_message("m2")
    s.send_message(b"\x03")
    assert s.receive_poll_body(b"4from-poll", now=3.5) == [MessageReceived("from-poll")]
    assert s.take_ws_frames() == []
    assert s.receive_probe_message("5", now=4.0) == [Upgraded()]
    assert s.transport == "websocket" and not s.upgrading
    assert s.next_deadline() == 25.0
    s.send_message("m3")
    assert s.take_ws_frames() == ["4m2", b"\x03", "4m3"]
    assert s.receive_ws_message("4from-ws", now=5.0) == [MessageReceived("from-ws")]


def test_messages_queued_during_upgrade_go_to_a_parked_poll_first() -> None:
    s = polling()
    s.begin_upgrade(now=1.0)
    s.receive_probe_message("2probe", now=1.0)
    s.send_message("m1")
    s.start_poll(now=1.5)
    assert s.take_poll_payload() == b"4m1"
    s.start_poll(now=1.6)
    assert s.take_poll_payload() == b"6"
    s.send_message("m2")
    s.receive_probe_message("5", now=2.0)
    assert s.take_ws_frames() == ["3probe", "4m2"]


def test_upgrade_without_probe_is_accepted_and_stale_poll_gets_noop() -> None:
    s = polling()
    s.start_poll(now=1.0)
    s.begin_upgrade(now=1.0)
    assert s.receive_probe_message("5", now=1.0) == [Upgraded()]
    assert s.poll_ready()
    s.send_message("x")
    assert s.take_poll_payload() == b"6"
    assert s.take_ws_frames() == ["4x"]
    with pytest.raises(RemoteProtocolError) as info:
        s.start_poll(now=2.0)
    assert info.value.code == 3
    with pytest.raises(RemoteProtocolError):
        s.receive_poll_body(b"4x", now=2.0)
    with pytest.raises(RemoteProtocolError):
        s.begin_upgrade(now=2.0)
    assert not s.closed


@pytest.mark.parametrize("frame", ["4hello", "2", "2other", "x", b"\x01", "3probe"])
def test_unexpected_probe_packet_aborts_upgrade_not_session(frame: str | bytes) -> None:
    s = polling()
    s.begin_upgrade(now=1.0)
    assert s.receive_probe_message(frame, now=2.0) == [UpgradeFailed("probe error")]
    assert s.state is ServerState.POLLING and not s.upgrading
    assert s.next_deadline() == 25.0
    assert s.receive_probe_message("5", now=2.0) == []
    s.begin_upgrade(now=3.0)
    assert s.upgrading


def test_upgrade_timeout_and_probe_closed() -> None:
    s = polling()
    s.begin_upgrade(now=1.0)
    s.receive_probe_message("2probe", now=1.0)
    assert s.next_deadline() == 11.0
    assert s.handle_timeout(now=10.9) == []
    assert s.handle_timeout(now=11.0) == [UpgradeFailed("timeout")]
    assert s.take_probe_frames() == []
    assert s.next_deadline() == 25.0
    s.begin_upgrade(now=12.0)
    assert s.probe_closed(now=13.0) == [UpgradeFailed("transport closed")]
    assert s.probe_closed(now=13.0) == []
    assert s.state is ServerState.POLLING


def upgrading(*, probed: bool = True) -> ServerSession:
    """A session whose client has paused polling for the upgrade: no GET parked, "m1" queued."""
    s = polling()
    s.begin_upgrade(now=1.0)
    if probed:
        s.receive_probe_message("2probe", now=1.0)
        assert s.take_probe_frames() == ["3probe"]
    s.send_message("m1")
    return s


@pytest.mark.parametrize("probed", [True, False])
def test_close_during_upgrade_waits_for_the_upgrade(probed: bool) -> None:
    s = upgrading(probed=probed)
    s.close(now=2.0)
    assert s.handle_timeout(now=2.0) == [] and s.upgrading
    s.send_message("dropped")
    assert s.receive_poll_body(b"4ignored", now=2.5) == []
    assert s.receive_probe_message("5", now=3.0) == [Upgraded(), SessionClosed("forced close")]
    assert s.closed and s.transport == "websocket"
    assert s.take_ws_frames() == ["4m1"]


def test_close_during_upgrade_then_a_poll_takes_the_close() -> None:
    s = upgrading()
    s.close(now=2.0)
    assert not s.poll_ready()
    s.start_poll(now=2.5)
    assert s.poll_ready()
    assert s.take_poll_payload() == b"4m1\x1e1"
    assert s.handle_timeout(now=2.5) == [UpgradeFailed("socket closed"),
                                         SessionClosed("forced close")]
    assert s.closed and s.receive_probe_message("5", now=3.0) == []


def test_close_with_a_parked_poll_during_upgrade_answers_it() -> None:
    s = polling()
    s.start_poll(now=1.0)
    s.begin_upgrade(now=1.0)
    s.close(now=2.0)
    assert s.poll_ready() and s.take_poll_payload() == b"1"
    assert s.handle_timeout(now=2.0) == [UpgradeFailed("socket closed"),
                                         SessionClosed("forced close")]


def test_close_during_upgrade_then_the_upgrade_fails() -> None:
    s = upgrading()
    s.close(now=2.0)
    assert s.next_deadline() == 11.0  # the upgrade timeout; no more pings
    assert s.handle_timeout(now=11.0) == [UpgradeFailed("timeout")]
    assert s.state is ServerState.CLOSING and s.next_deadline() == 41.0
    s.start_poll(now=12.0)
    assert s.take_poll_payload() == b"4m1\x1e1"
    assert s.handle_timeout(now=12.0) == [SessionClosed("forced close")]
    p = upgrading()
    p.close(now=2.0)
    assert p.probe_closed(now=3.0) == [UpgradeFailed("transport closed")]
    assert p.handle_timeout(now=33.0) == [SessionClosed("forced close")]
    q = upgrading()
    q.close(now=2.0)
    assert q.receive_poll_body(b"1", now=3.0) == [UpgradeFailed("socket closed"),
                                                  SessionClosed("transport close")]


def test_session_failure_during_upgrade() -> None:
    p = polling()
    p.begin_upgrade(now=1.0)
    assert p.transport_closed(reason="transport error", now=2.0) == [
        UpgradeFailed("socket closed"), SessionClosed("transport error")]


def test_upgrade_refused_when_disabled() -> None:
    s = ServerSession("s1", ServerConfig(allow_upgrades=False), transport="polling", now=0.0)
    with pytest.raises(RemoteProtocolError) as info:
        s.begin_upgrade(now=0.0)
    assert info.value.code == 3
    with pytest.raises(LocalProtocolError):
        ServerSession("s1", ServerConfig(transports=("polling",)), transport="websocket", now=0)


def test_misuse_is_local() -> None:
    s = polling()
    with pytest.raises(LocalProtocolError):
        s.receive_ws_message("4x", now=1.0)
    with pytest.raises(LocalProtocolError):
        s.take_poll_payload()
    with pytest.raises(LocalProtocolError):
        s.send_message("a\x1eb")
    with pytest.raises(LocalProtocolError):
        s.send_message(3)  # type: ignore[arg-type]
    s.send_message(bytearray(b"ab"))  # type: ignore[arg-type]
    s.start_poll(now=1.0)
    assert s.take_poll_payload() == b"bYWI="



def test_poll_parked_is_true_between_start_poll_and_its_answer() -> None:
    s = ServerSession("abc", ServerConfig(), transport="polling", now=0.0)
    assert not s.poll_parked
    s.start_poll(now=0.0)
    assert s.poll_parked and s.poll_ready()
    s.take_poll_payload()
    assert not s.poll_parked
    s.start_poll(now=0.0)
    assert s.poll_parked and not s.poll_ready()
