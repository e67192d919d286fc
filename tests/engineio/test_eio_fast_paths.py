"""Hypothesis properties: the Engine.IO server core's fast paths give what the general path
gives, on arbitrary input, including input they must hand to the general path."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engineio_core.protocol import (
    Packet,
    PacketType,
    ProtocolError,
    RemoteProtocolError,
    ServerConfig,
    ServerSession,
)
from engineio_core.protocol.packet import decode_ws_frame, message_packet
from engineio_core.protocol.states import ServerInput, ServerState

LIMIT = 24


def general_receive(session: ServerSession, data: str | bytes, now: float) -> list[Any]:
    """``receive_ws_message`` without its fast path: the state table, the UTF-8 size, the
    packet decoder."""
    session._now = now
    if session._state is ServerState.CLOSED:
        return session._events()
    session._move(ServerInput.WS_MESSAGE)
    size = len(data) if isinstance(data, bytes | bytearray) else len(data.encode("utf-8"))
    try:
        if size > session.config.max_payload:
            raise RemoteProtocolError(
                f"message of {size} bytes exceeds max_payload={session.config.max_payload}",
                reason="transport error", http_status=None, ws_close_code=1009)
        packet = decode_ws_frame(data)
    except RemoteProtocolError as error:
        session._fail(error)
        raise
    session._on_packet(packet, now)
    return session._events()


def session() -> ServerSession:
    made = ServerSession("sid", ServerConfig(max_payload=LIMIT), transport="websocket", now=0.0)
    made.take_ws_frames()
    return made


# Non-ASCII of every UTF-8 width; no lone surrogates (a WebSocket text frame is valid UTF-8).
text = st.text(st.sampled_from("a4 é€😀\x1e"), max_size=LIMIT + 2)
inputs = st.lists(
    st.one_of(
        st.builds(lambda body: "4" + body, text),
        st.sampled_from(["4", "1", "2", "3", "5", "6", "", "x", "bAAA=", "b!!"]),
        text,
        st.binary(max_size=LIMIT + 2),
        st.just("tick"),
        st.just("close"),
    ),
    max_size=10,
)


def step(target: ServerSession, item: Any, now: float, receive: Any) -> Any:
    if item == "tick":
        return ("ok", target.handle_timeout(now=now + 100.0))
    if item == "close":
        target.close(now=now)
        return ("ok", [])
    try:
        return ("ok", receive(target, item, now))
    except ProtocolError as error:
        return ("error", type(error), error.reason, error.ws_close_code)


@settings(max_examples=400)
@given(inputs)
def test_receive_ws_message_matches_the_general_path(items: list[Any]) -> None:
    fast, general = session(), session()
    for now, item in enumerate(items, start=1):
        got = step(fast, item, float(now),
                   lambda target, data, at: target.receive_ws_message(data, now=at))
        want = step(general, item, float(now), general_receive)
        assert got == want
        assert fast.state is general.state
        assert fast.take_ws_frames() == general.take_ws_frames()
        assert fast.next_deadline() == general.next_deadline()


@given(st.text(max_size=8) | st.binary(max_size=8))
def test_message_packet_is_the_packet(data: str | bytes) -> None:
    made = message_packet(data)
    assert made == Packet(PacketType.MESSAGE, data)
    assert type(made.data) is type(data)
