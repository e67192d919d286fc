"""A seconds-long pass of every benchmark scenario against our server, to keep the harness
working. It checks that the load ran and was counted, never how fast: no timing assertions.

Needs Node and ``npm ci --prefix benchmarks`` (for ``ws``); a missing one fails the test.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.run import ROOT, SMOKE, BenchmarkError, checkout, goals, per_unit, run_one, table


def _smoke(scenario: str) -> dict:
    return run_one("ours", scenario, SMOKE[scenario], duration=SMOKE[scenario].get(
        "duration", 0.5), pin=False, timeout=30.0)


@pytest.mark.parametrize("scenario", ["echo", "polling", "binary"])
def test_closed_loop_echo_scenarios_count_acks(scenario: str) -> None:
    result = _smoke(scenario)
    assert result["acks"] > 0
    assert result["acks_per_s"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
    assert result["server_cpu"] > 0
    if scenario == "binary":
        assert result["mb_per_s"] == pytest.approx(result["acks_per_s"] * 65536 / 1e6)


def test_fanout_delivers_every_broadcast_to_every_client() -> None:
    params = SMOKE["fanout"]
    result = _smoke("fanout")
    assert result["deliveries"] == params["clients"] * params["broadcasts"]
    assert result["deliveries_per_s"] > 0
    assert result["p99_ms"] >= result["p50_ms"] >= 0


def test_fanout_one_at_a_time_delivers_every_broadcast_to_every_client() -> None:
    params = SMOKE["fanout_acked"]
    result = _smoke("fanout_acked")
    assert result["broadcasts"] == params["broadcasts"]
    assert result["deliveries"] == params["clients"] * params["broadcasts"]
    assert result["lost"] == 0
    assert result["deliveries_per_s"] > 0


def test_rooms_broadcasts_reach_one_room_each() -> None:
    params = SMOKE["rooms"]
    result = _smoke("rooms")
    assert result["broadcasts"] > 0
    # Each broadcast reaches the room's members only; the window may cut the first and the last.
    size = params["clients"] // params["rooms"]
    assert 0 < result["deliveries"] <= (result["broadcasts"] + 1) * size
    assert result["deliveries_per_s"] > 0


def test_idle_connections_all_open_and_use_memory() -> None:
    result = _smoke("idle")
    assert result["connections"] == SMOKE["idle"]["connections"]
    assert result["rss_before_kib"] > 0
    assert result["rss_after_kib"] > 0
    assert result["connections_per_s"] > 0


def test_table_gives_medians_and_ratios() -> None:
    results = [
        {"server": server, "scenario": "echo", "round": r, "acks_per_s": value,
         "p50_ms": 1.0, "p99_ms": 2.0, "gen_cpu": 0.5, "server_cpu": 1.0}
        for server, values in (("ours", (30.0, 10.0, 20.0)), ("python-socketio", (5.0, 10.0, 15.0)))
        for r, value in enumerate(values)
    ]
    text = table(results, ["ours", "python-socketio"])
    assert "| (a) WebSocket echo with ack, 50 clients: acks/s | 20.0 | 10.0 | 2.00x |" in text
    assert goals(results) == [
        "- echo acks_per_s: ours / python-socketio = 2.00x (goal ≥ 2x): met"]


def test_cpu_per_unit_comes_from_server_cpu_and_the_rate() -> None:
    assert per_unit({"server_cpu": 0.5, "acks_per_s": 2000.0}) == {"cpu_us_per_ack": 250.0}
    assert per_unit({"server_cpu": 1.0, "deliveries_per_s": 50_000.0}) == {
        "cpu_us_per_delivery": 20.0}
    assert per_unit({"server_cpu": 0.0, "acks_per_s": 10.0}) == {}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_baseline_runs_our_server_from_another_revision(tmp_path: Path) -> None:
    # A throwaway repository whose first commit is this checkout's server code marking that it
    # ran, and whose second breaks the benchmark server: the baseline must run the first.
    repo = tmp_path / "repo"
    repo.mkdir()
    for package in ("benchmarks", "engineio_core", "socketio_core", "transports"):
        shutil.copytree(ROOT / package, repo / package,
                        ignore=shutil.ignore_patterns("node_modules", ".venv", "__pycache__"))
    marker = tmp_path / "baseline-ran"
    init = repo / "benchmarks" / "__init__.py"
    init.write_text(init.read_text() + f"\nopen({str(marker)!r}, 'w').close()\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "good")
    good = _git(repo, "rev-parse", "HEAD")
    (repo / "benchmarks" / "server.py").write_text("raise SystemExit(3)\n")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "broken")
    with checkout(good, repo) as tree:
        assert (tree / "benchmarks" / "server.py").read_text() != "raise SystemExit(3)\n"
        result = run_one("ours@" + good[:7], "echo", SMOKE["echo"], duration=0.5, pin=False,
                         timeout=30.0, cwd=tree)
    assert marker.exists()
    assert result["server"] == "ours@" + good[:7]
    assert result["acks"] > 0 and result["cpu_us_per_ack"] > 0
    assert not tree.exists()
    assert "bench-baseline" not in _git(repo, "worktree", "list")
    with pytest.raises(BenchmarkError, match="cannot check out"):
        with checkout("no-such-revision", repo):
            pass
