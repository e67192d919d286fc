"""Connection state recovery's pure bookkeeping (protocol/recovery.py): sessions, the bounded
packet history and what a restore gives back, with synthetic time; and the CONNECT answer that
carries the ``pid``."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socketio_core.protocol import (
    RECOVERABLE_REASONS,
    ConnectRequested,
    PacketHistory,
    ServerConnection,
    ServerDisconnectReason,
    Session,
    session_includes,
)

S1 = Session("sid-1", "pid-1", ("sid-1", "room-a"), {"n": 1})


def history(**bounds: int | float) -> PacketHistory[str]:
    return PacketHistory("T", **bounds)  # type: ignore[arg-type]


def test_connect_answer_carries_the_pid() -> None:
    server = ServerConnection(now=0.0)
    assert server.receive_message('0{"pid":"p","offset":"T.3","token":"x"}', now=0.0) == [
        ConnectRequested("/", {"pid": "p", "offset": "T.3", "token": "x"})]
    server.accept("/", "abc", "xyz")
    assert server.take_messages() == ['0{"sid":"abc","pid":"xyz"}']
    server.receive_message("0/admin,", now=0.0)
    server.accept("/admin", "s2")
    assert server.take_messages() == ['0/admin,{"sid":"s2"}']


def test_recoverable_reasons_are_nodes_list() -> None:
    assert RECOVERABLE_REASONS == {
        "transport error", "transport close", "forced close", "ping timeout",
        "server shutting down", "forced server close"}
    assert ServerDisconnectReason.CLIENT_NAMESPACE_DISCONNECT not in RECOVERABLE_REASONS
    assert ServerDisconnectReason.SERVER_NAMESPACE_DISCONNECT not in RECOVERABLE_REASONS
    assert ServerDisconnectReason.PARSE_ERROR not in RECOVERABLE_REASONS


@pytest.mark.parametrize(("rooms", "except_rooms", "included"), [
    ((), (), True),                       # everyone
    (("room-a",), (), True),              # a room of the session
    (("sid-1",), (), True),               # to(its id)
    (("room-b",), (), False),             # another room
    (("room-b", "room-a"), (), True),
    ((), ("room-a",), False),             # one of its rooms excepted
    (("room-a",), ("sid-1",), False),     # itself excepted (socket.broadcast)
    (("room-a",), ("room-z",), True),
])
def test_session_includes_as_should_include_packet(
        rooms: tuple[str, ...], except_rooms: tuple[str, ...], included: bool) -> None:
    assert session_includes(S1.rooms, rooms, except_rooms) is included


def test_offsets_and_a_restore_with_the_missed_packets_in_order() -> None:
    h = history()
    assert h.next_offset() == "T.1"
    assert h.record("p1", 10, (), ()) == "T.1"
    assert h.record("p2", 10, ("room-a",), ()) == "T.2"
    h.persist(S1, now=100.0)
    assert h.record("p3", 10, ("room-b",), ()) == "T.3"        # not for it
    assert h.record("p4", 10, ("room-a",), ()) == "T.4"
    assert h.record("p5", 10, ("sid-1",), ()) == "T.5"         # socket.emit while away
    assert h.record("p6", 10, (), ("room-a",)) == "T.6"        # excepted
    assert h.record("p7", 10, (), ()) == "T.7"
    assert (len(h), h.size, h.sessions) == (7, 70, 1)
    restored = h.restore("pid-1", "T.2", now=150.0)
    assert restored is not None
    assert restored.session == S1
    assert restored.missed == ("p4", "p5", "p7")
    # taken: a second client with the same pid gets nothing
    assert h.sessions == 0
    assert h.restore("pid-1", "T.2", now=150.0) is None


def test_nothing_missed_restores_with_nothing_to_replay() -> None:
    h = history()
    offset = h.record("p1", 1)
    h.persist(S1, now=0.0)
    restored = h.restore("pid-1", offset, now=1.0)
    assert restored is not None and restored.missed == ()


def test_expiry_exactly_at_max_disconnection_duration() -> None:
    for now, restored in ((70.0, True), (70.001, False)):  # Node: expired once past
        h = history(max_disconnection_duration=60.0)
        offset = h.record("p1", 1)
        h.persist(S1, now=10.0)
        assert (h.restore("pid-1", offset, now=now) is not None) is restored
        assert h.sessions == 0


def test_expired_sessions_are_dropped_oldest_first() -> None:
    h = history(max_disconnection_duration=10.0)
    for index in range(5):
        h.persist(Session(f"s{index}", f"p{index}", (), None), now=float(index))
    assert h.sessions == 5
    h.persist(Session("s9", "p9", (), None), now=12.5)   # p0 .. p2 have expired
    assert h.sessions == 3
    # a session persisted again moves to the back
    h.persist(Session("s3", "p3", (), None), now=13.0)
    h.persist(Session("sx", "px", (), None), now=14.5)   # p4 (at 4.0) expired, p3 renewed
    assert h.sessions == 3
    offset = h.record("x", 1)
    assert h.restore("p3", offset, now=20.0) is not None


@pytest.mark.parametrize("offset", [
    "", "T", "T.", "T.0", "T.99", "U.1", "T.-1", "T.1.1", "T.\u0661", "1796350243813-0", "T.01x"])
def test_foreign_or_unknown_offsets_fail_and_take_the_session(offset: str) -> None:
    h = history()
    h.record("p1", 1)
    h.persist(S1, now=0.0)
    assert h.restore("pid-1", offset, now=0.0) is None
    assert h.sessions == 0


def test_unknown_or_forged_pid() -> None:
    h = history()
    offset = h.record("p1", 1)
    h.persist(S1, now=0.0)
    assert h.restore("forged", offset, now=0.0) is None
    assert h.restore("sid-1", offset, now=0.0) is None  # the public id is not the pid
    assert h.sessions == 1


def test_count_bound_drops_the_oldest() -> None:
    h = history(max_packets=3)
    offsets = [h.record(f"p{i}", 1) for i in range(1, 6)]
    assert len(h) == 3
    # Packet 2 is gone and packets 3..5 are kept: a client that had 2 missed nothing gone.
    h.persist(S1, now=0.0)
    restored = h.restore("pid-1", offsets[1], now=0.0)
    assert restored is not None and restored.missed == ("p3", "p4", "p5")
    # A client that had only packet 1 may have missed packet 2, which is gone.
    h.persist(S1, now=0.0)
    assert h.restore("pid-1", offsets[0], now=0.0) is None


def test_byte_bound_drops_the_oldest_and_an_oversized_packet() -> None:
    h = history(max_bytes=100)
    first = h.record("a", 60)
    second = h.record("b", 30)
    assert (len(h), h.size) == (2, 90)
    h.record("c", 30)                      # 120 > 100: "a" goes
    assert (len(h), h.size) == (2, 60)
    h.persist(S1, now=0.0)
    assert h.restore("pid-1", first, now=0.0) is not None  # "a" itself gone, nothing after
    h.persist(S1, now=0.0)
    assert h.restore("pid-1", second, now=0.0) is not None
    h.record("huge", 101)                  # larger than the bound alone: everything goes
    assert (len(h), h.size) == (0, 0)
    h.persist(S1, now=0.0)
    assert h.restore("pid-1", second, now=0.0) is None


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="tag"):
        PacketHistory("a.b")
    with pytest.raises(ValueError, match="negative"):
        PacketHistory("t", max_packets=-1)


@st.composite
def _operations(draw: st.DrawFn) -> list[tuple[str, object]]:
    rooms = st.lists(st.sampled_from(["a", "b", "sid"]), max_size=2, unique=True)
    ops = st.one_of(
        st.tuples(st.just("record"), st.tuples(rooms, rooms, st.integers(0, 40))),
        st.tuples(st.just("restore"), st.integers(0, 30)),
    )
    return draw(st.lists(ops, max_size=60))


@settings(max_examples=200, deadline=None)
@given(_operations(), st.integers(0, 8), st.integers(0, 120))
def test_a_restore_gives_every_packet_after_the_offset_or_fails(
        operations: list[tuple[str, object]], max_packets: int, max_bytes: int) -> None:
    """Against a model that keeps everything: a restore succeeds exactly when every packet
    after the offset is still kept, and then gives the model's packets for the session."""
    h = history(max_packets=max_packets, max_bytes=max_bytes)
    everything: list[tuple[int, tuple[str, ...], tuple[str, ...], int]] = []
    session = Session("sid", "pid", ("sid", "a"), None)
    for kind, arg in operations:
        if kind == "record":
            rooms, excepted, size = arg  # type: ignore[misc]
            offset = h.record(f"p{len(everything) + 1}", size, rooms, excepted)
            everything.append((len(everything) + 1, tuple(rooms), tuple(excepted), size))
            assert offset == f"T.{len(everything)}"
            continue
        seq = arg
        h.persist(session, now=0.0)
        restored = h.restore("pid", f"T.{seq}", now=0.0)
        if not 1 <= seq <= len(everything):  # type: ignore[operator]
            assert restored is None
            continue
        kept = everything[len(everything) - len(h):]
        assert h.size == sum(size for *_, size in kept) <= max_bytes
        assert len(h) <= max_packets
        after = everything[seq:]  # type: ignore[misc]
        if len(after) > len(kept):
            assert restored is None
            continue
        assert restored is not None
        assert restored.missed == tuple(f"p{n}" for n, rooms, excepted, _ in after
                                        if session_includes(session.rooms, rooms, excepted))


def test_options() -> None:
    from socketio_core.protocol.recovery import ConnectionStateRecovery, recovery_options

    assert recovery_options(None) is None and recovery_options(False) is None
    assert recovery_options(True) == recovery_options({}) == ConnectionStateRecovery()
    assert ConnectionStateRecovery().max_disconnection_duration == 120.0
    options = recovery_options({"max_disconnection_duration": 5, "skip_middlewares": False})
    assert options == ConnectionStateRecovery(5, False)
    assert recovery_options(options) is options
    with pytest.raises(TypeError, match="maxDisconnectionDuration"):
        recovery_options({"maxDisconnectionDuration": 5})
    with pytest.raises(TypeError):
        recovery_options(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        ConnectionStateRecovery(max_bytes=-1)
