"""RoomIndex and BroadcastTarget."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from socketio_core.protocol import BroadcastTarget, RoomIndex


def index() -> RoomIndex:
    rooms = RoomIndex()
    for sid in ("a", "b", "c", "d"):
        rooms.join(sid)
    rooms.join("a", "red", "blue")
    rooms.join("b", "red")
    rooms.join("c", "blue")
    return rooms


def test_every_socket_in_its_own_room() -> None:
    rooms = index()
    assert rooms.rooms_of("d") == frozenset({"d"})
    assert rooms.sids_in("a") == frozenset({"a"})
    assert "a" in rooms and "z" not in rooms and len(rooms) == 4
    assert rooms.rooms() == frozenset({"a", "b", "c", "d", "red", "blue"})
    fresh = RoomIndex()
    fresh.join("x", "room")
    assert fresh.rooms_of("x") == frozenset({"x", "room"})


def test_select() -> None:
    rooms = index()
    assert rooms.select() == ["a", "b", "c", "d"]
    assert rooms.select(["red"]) == ["a", "b"]
    assert sorted(rooms.select(["red", "blue"])) == ["a", "b", "c"]
    assert rooms.select(["red"], ["blue"]) == ["b"]
    assert rooms.select([], ["red"]) == ["c", "d"]
    assert rooms.select(["nowhere"]) == []
    assert rooms.select(except_rooms=["a"]) == ["b", "c", "d"]


def test_leave_and_leave_all() -> None:
    rooms = index()
    rooms.leave("b", "red")
    assert rooms.sids_in("red") == frozenset({"a"})
    rooms.leave("a", "red")
    assert "red" not in rooms.rooms()
    rooms.leave("a", "nowhere")
    rooms.leave("zz", "red")
    rooms.leave("d", "d")
    assert rooms.rooms_of("d") == frozenset() and "d" in rooms
    rooms.leave_all("a")
    assert "a" not in rooms and "a" not in rooms.rooms()
    assert rooms.sids_in("blue") == frozenset({"c"})
    rooms.leave_all("a")
    assert rooms.sids() == ["b", "c", "d"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from("join leave drop".split()),
            st.sampled_from("abc"),
            st.sampled_from(["r1", "r2", "a"]),
        )
    )
)
def test_two_maps_stay_in_step(operations: list[tuple[str, str, str]]) -> None:
    rooms = RoomIndex()
    for operation, sid, room in operations:
        if operation == "join":
            rooms.join(sid, room)
        elif operation == "leave":
            rooms.leave(sid, room)
        else:
            rooms.leave_all(sid)
        for member in rooms.sids():
            for joined in rooms.rooms_of(member):
                assert member in rooms.sids_in(joined)
        for each in rooms.rooms():
            assert rooms.sids_in(each)
            for member in rooms.sids_in(each):
                assert each in rooms.rooms_of(member)


def test_broadcast_target_is_immutable_and_chains() -> None:
    base = BroadcastTarget()
    assert (
        base.rooms,
        base.except_rooms,
        base.volatile,
        base.compress,
        base.local,
        base.timeout,
    ) == (frozenset(), frozenset(), False, True, False, None)
    target = base.to("r1").in_(["r2", "r3"]).except_("x", ["y"]).with_volatile()
    target = target.with_compress(False).with_local().with_timeout(5.0)
    assert target == BroadcastTarget(
        frozenset({"r1", "r2", "r3"}), frozenset({"x", "y"}), True, False, True, 5.0
    )
    assert base == BroadcastTarget()
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.volatile = False  # type: ignore[misc]
    assert index().select(target.rooms, target.except_rooms) == []


def test_broadcast_target_to_and_except_keep_every_other_field() -> None:
    # Built field by field (no dataclasses.replace): each other field must come through.
    full = BroadcastTarget(frozenset({"a"}), frozenset({"b"}), volatile=True, compress=False,
                           local=True, timeout=2.5, expect_single_response=True)
    assert full.to("c", ["d"]) == dataclasses.replace(full, rooms=frozenset({"a", "c", "d"}))
    assert full.except_("e") == dataclasses.replace(full, except_rooms=frozenset({"b", "e"}))
    assert BroadcastTarget().to("r") == BroadcastTarget(rooms=frozenset({"r"}))
    assert BroadcastTarget().to(["r", "s"], "r").rooms == frozenset({"r", "s"})
