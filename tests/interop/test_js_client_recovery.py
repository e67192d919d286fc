"""Connection state recovery seen by the official socket.io-client 4.8 (npm, in Node), against our
server and against the official server, both with recovery on: each scenario must look the
same from the client with both, and as expected; except one the official server fails
(socket.io #4880), where ours must recover."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import run_scenario

MISSED = [["missed", "direct", "transport close"], ["missed", "room"], ["missed", "all"],
          ["<connect>"]]
ROOMS = ["<self>", "r"]


def round_(events: list[list[Any]]) -> dict[str, Any]:
    return {"recovered": True, "onServer": True, "sameId": True, "rooms": ROOMS,
            "events": events, "offsetsOk": True}


EXPECTED: dict[str, Any] = {
    # Dropped, then back: the same id, rooms and data, and every missed event once, in order,
    # before "connect" (the volatile one and those for other rooms are not missed).
    "recovery_drop": {"before": False, **round_(MISSED), "data": {"k": [1, "two"]}},
    "recovery_drop_polling": {"before": False, **round_(MISSED), "data": {"k": [1, "two"]}},
    # Again and again, whichever side drops the transport.
    "recovery_again": [
        round_(MISSED),
        round_([["missed", "direct", "forced close"], *MISSED[1:]]),
        round_(MISSED),
    ],
    # A deliberate disconnect, by either side, is not recoverable.
    "recovery_deliberate": {
        "clientSide": {"recovered": False, "sameId": False},
        "serverSide": {"reason": "io server disconnect", "recovered": False, "sameId": False},
    },
    "recovery_no_offset": {"recovered": False, "sameId": False},
    "recovery_expired": {"recovered": False, "sameId": False},
    "recovery_forged": [{"recovered": False, "sameId": False}] * 2,
}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_official_client_recovers_as_with_the_reference_server(
    scenario: str, our_recovery_server: str, reference_recovery_server: str
) -> None:
    ours = run_scenario(scenario, our_recovery_server)
    reference = run_scenario(scenario, reference_recovery_server)
    assert reference == EXPECTED[scenario], "the reference server itself changed behaviour"
    assert ours == reference


def test_back_before_the_server_noticed_the_old_connection_go(
    our_recovery_server: str, reference_recovery_server: str
) -> None:
    """The old WebSocket stays open but unanswered (a network switch); the client comes back
    at once. The official server still holds the old socket, so it has no session to restore
    (socket.io #4880): a new id, and the event broadcast meanwhile is lost. Ours ends the old
    connection as a transport close, restores the session and replays the event."""
    assert run_scenario("recovery_half_open", reference_recovery_server) == {
        "recovered": False, "sameId": False, "events": [["<connect>"]], "offsetsOk": True}
    assert run_scenario("recovery_half_open", our_recovery_server) == {
        "recovered": True, "sameId": True,
        "events": [["room-message", "while-away"], ["<connect>"]], "offsetsOk": True}
