"""Prepared packets: a message's encodings made once, shared by every session that sends it,
and the same bytes as encoding it for each."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engineio_core.protocol import (
    SEPARATOR,
    LocalProtocolError,
    Packet,
    PacketType,
    PreparedPacket,
    ServerConfig,
    ServerSession,
    encode_payload,
    encode_text_packet,
    encode_ws_frame,
    prepare_message,
    prepare_packet,
)

texts = st.text().filter(lambda t: SEPARATOR not in t)
messages = st.one_of(texts, st.binary())


def _size(data: str | bytes) -> int:
    return 1 + len(data if isinstance(data, bytes) else data.encode("utf-8"))


@given(messages)
def test_encodings_are_those_of_the_packet(data: str | bytes) -> None:
    prepared = prepare_message(data)
    packet = Packet(PacketType.MESSAGE, data)
    assert prepared.packet == packet
    assert prepared.ws_frame() == encode_ws_frame(packet)
    assert prepared.poll_segment() == encode_text_packet(packet).encode("utf-8")
    assert prepared.size == _size(data)


@given(st.lists(messages, min_size=1, max_size=8))
def test_a_poll_payload_of_prepared_messages_is_encode_payload(batch: list[str | bytes]) -> None:
    session = ServerSession("s", ServerConfig(), transport="polling", now=0.0)
    session.start_poll(now=0.0)
    session.take_poll_payload()  # the open packet
    session.start_poll(now=0.0)
    for data in batch:
        session.send_message(prepare_message(data))
    assert session.take_poll_payload() == encode_payload(
        [Packet(PacketType.MESSAGE, data) for data in batch])


def test_each_encoding_is_made_once() -> None:
    prepared = prepare_message("hello")
    assert prepared.ws_frame() is prepared.ws_frame()
    assert prepared.poll_segment() is prepared.poll_segment()
    calls: list[str | bytes] = []

    def frame(message: str | bytes) -> bytes:
        calls.append(message)
        return b"framed"

    assert prepared.wire(frame) == b"framed"
    assert prepared.wire(frame) == b"framed"
    assert calls == ["4hello"]


def test_sessions_queue_the_same_prepared_message() -> None:
    sessions = [ServerSession(sid, ServerConfig(), transport="websocket", now=0.0)
                for sid in ("a", "b")]
    for session in sessions:
        session.take_ws_packets()  # the open packet
    shared = prepare_message(b"\x01\x02")
    for session in sessions:
        session.send_message(shared)
        assert session.buffered_bytes() == 3
    first, second = (session.take_ws_packets() for session in sessions)
    assert first == [shared]
    assert second[0] is shared


def test_take_ws_frames_and_take_ws_packets_agree() -> None:
    a = ServerSession("s", ServerConfig(), transport="websocket", now=0.0)
    b = ServerSession("s", ServerConfig(), transport="websocket", now=0.0)
    for session in (a, b):
        session.send_message("x")
        session.send_message(b"\x00")
    assert a.take_ws_frames() == [p.ws_frame() for p in b.take_ws_packets()]


def test_control_packets_prepare_too() -> None:
    ping = prepare_packet(Packet(PacketType.PING))
    assert (ping.ws_frame(), ping.poll_segment(), ping.size) == ("2", b"2", 1)
    probe = prepare_packet(Packet(PacketType.PONG, "probe"))
    assert (probe.ws_frame(), probe.size) == ("3probe", 6)
    assert repr(probe) == f"PreparedPacket({Packet(PacketType.PONG, 'probe')!r})"


def test_bytes_like_messages_become_bytes() -> None:
    for data in (bytearray(b"ab"), memoryview(b"ab")):
        prepared = prepare_message(data)
        assert type(prepared.packet.data) is bytes
        assert prepared.ws_frame() == b"ab"


@pytest.mark.parametrize("data", ["a\x1eb", 3, None, ["x"]])
def test_what_cannot_be_a_message_is_refused(data: object) -> None:
    with pytest.raises(LocalProtocolError):
        prepare_message(data)  # type: ignore[arg-type]
    session = ServerSession("s", ServerConfig(), transport="websocket", now=0.0)
    with pytest.raises(LocalProtocolError):
        session.send_message(data)  # type: ignore[arg-type]


def test_a_prepared_message_is_dropped_by_a_closed_session() -> None:
    session = ServerSession("s", ServerConfig(), transport="websocket", now=0.0)
    session.close()
    session.send_message(prepare_message("late"))
    assert session.buffered_bytes() == 0
    assert isinstance(prepare_message("x"), PreparedPacket)


def test_the_message_is_not_kept_once_framed_and_is_the_same_when_asked_again() -> None:
    prepared = prepare_message("x" * 1000)
    assert prepared.wire(lambda message: b"framed") == b"framed"
    assert prepared._ws is None  # held once, as its frame, while sessions queue it
    assert prepared.ws_frame() == "4" + "x" * 1000


def test_a_bounded_take_leaves_the_rest_queued_and_counted() -> None:
    session = ServerSession("s", ServerConfig(), transport="websocket", now=0.0)
    session.take_ws_packets()  # the open packet
    queued = [prepare_message("a" * 99) for _ in range(5)]  # 100 bytes each
    for prepared in queued:
        session.send_message(prepared)
    assert session.take_ws_packets(max_bytes=1000) == queued  # all fit: all of them
    for prepared in queued:
        session.send_message(prepared)
    assert session.take_ws_packets(max_bytes=150) == queued[:2]
    assert session.buffered_bytes() == 300
    assert session.take_ws_packets(max_bytes=1) == queued[2:3]  # at least one
    assert session.buffered_bytes() == 200
    assert session.take_ws_packets() == queued[3:]
    assert session.buffered_bytes() == 0


def _sends_just(session: ServerSession, prepared: PreparedPacket) -> bool:
    """Whether queueing ``prepared`` then taking the WebSocket's packets hands back just it."""
    session.send_message(prepared)
    return session.take_ws_packets() == [prepared]


def test_sends_at_once_when_queue_then_take_would_hand_back_just_the_message() -> None:
    message = prepare_message("m")
    fresh = ServerSession("s", ServerConfig(), transport="websocket", now=0.0)
    assert not fresh.sends_at_once()  # the open packet waits
    fresh.take_ws_packets()
    assert fresh.sends_at_once()
    assert _sends_just(fresh, message) and fresh.sends_at_once()
    fresh.send_message(prepare_message("queued"))
    assert not fresh.sends_at_once()  # it would go behind what is queued
    fresh.take_ws_packets()
    assert fresh.sends_at_once()
    fresh.close()
    assert not fresh.sends_at_once()  # the close is queued; a late message is dropped

    polling = ServerSession("s", ServerConfig(), transport="polling", now=0.0)
    polling.start_poll(now=0.0)
    polling.take_poll_payload()
    assert not polling.sends_at_once()  # the WebSocket is not the transport
