"""Issue 17's scenarios, small, against our server in a process of its own (its log captured):
churn, resets at each moment, upgrade order, slow readers, the hostile mix, a connection flood.

Each asserts counts and states (failures, sessions left, messages lost, who was dropped) and
that the server logged no ERROR record and exited cleanly; never how fast. The full-size run,
with Node's server beside ours and the timings, is ``python3 -m benchmarks.soak``.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from benchmarks.soak.run import SMALL, run_scenario


def _run(scenario: str) -> dict[str, Any]:
    async def bounded() -> dict[str, Any]:
        with trio.fail_after(240):
            return await run_scenario("ours", scenario, SMALL[scenario])

    result = trio.run(bounded)
    assert result["error_records"] == []
    assert result["crashes"] == 0
    assert result["exit_status"] == 0
    return result


def test_churn_leaves_no_session_fd_or_task_behind() -> None:
    result = _run("churn")
    assert result["failed"] == 0
    assert result["sessions_after"] == 0
    first, last = result["marks"][0], result["marks"][-1]
    assert last["sockets"] == 0
    # One fd either way is a connection still closing at one mark (seen under a loaded full
    # suite, in both directions); a leak per connection would show hundreds.
    assert abs(last["fds"] - first["fds"]) <= 1
    assert last["task_names"] == first["task_names"]


def test_resets_at_each_moment_leave_nothing_and_lose_no_session() -> None:
    result = _run("resets")
    for moment in ("mid-handshake", "mid-WebSocket-handshake", "mid-POST body",
                   "during the probe"):
        assert result[moment]["failed"] == 0, moment
        assert result[moment]["left"] == 0, moment
    assert result["lost"] == 0
    assert result["health"]["unanswered"] == 0
    assert result["health"]["disconnects"] == 0


def test_upgrades_with_traffic_both_ways_lose_duplicate_and_reorder_nothing() -> None:
    result = _run("upgrade")
    assert result["failed"] == 0
    assert (result["lost"], result["duplicated"], result["reordered"]) == (0, 0, 0)
    assert result["server_out_of_order"] == 0
    assert result["sessions_after"] == 0


def test_hostile_mix_crashes_nothing_and_logs_no_error() -> None:
    result = _run("hostile")
    assert result["packets"] >= SMALL["hostile"]["packets"]
    assert set(result["by_kind"]) == {
        "known", "mutation", "random", "http", "ws-violation", "pong-flood",
        "unjoined-binary", "oversize", "polling"}
    assert result["health"]["unanswered"] == 0
    assert result["health"]["disconnects"] == 0


@pytest.mark.parametrize("scenario", ["slow-websocket", "slow-polling"])
def test_a_client_that_stops_reading_is_dropped(scenario: str) -> None:
    result = _run(scenario)
    assert result["dropped_after_s"] is not None


def test_a_burst_drops_the_reader_that_stopped_and_keeps_the_one_still_reading() -> None:
    result = _run("burst")
    assert result["fast_received"] == SMALL["burst"]["count"]
    assert result["fast_stays"], result["fast_error"]
    assert result["slow_dropped_after_s"] is not None


def test_a_connection_flood_is_served_and_the_established_client_stays_answered() -> None:
    result = _run("flood")
    assert result["served"] == SMALL["flood"]["connections"]
    assert result["sessions_while_open"] == SMALL["flood"]["connections"]
    assert result["health"]["unanswered"] == 0
    assert result["health"]["disconnects"] == 0
    assert result["sessions_after"] == 0
