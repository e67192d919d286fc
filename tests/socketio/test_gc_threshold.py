"""``Server.run(gc_threshold=...)`` and ``socketio-core serve --gc-threshold``: the collector's
thresholds are the library's to change only when asked, and only while serving."""

from __future__ import annotations

import gc
from collections.abc import Callable

import pytest
import trio

from socketio_core import Server
from socketio_core._gc import gc_threshold, parse_gc_threshold
from tests.cli.proc import console_script, run_command


def test_the_thresholds_are_set_for_the_block_and_restored_after_it() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), gc_threshold((701, 11, 1001)):
        assert gc.get_threshold() == (701, 11, 1001)
        raise RuntimeError
    assert gc.get_threshold() == before
    with gc_threshold(None):
        assert gc.get_threshold() == before


def test_server_run_sets_them_while_serving_only(monkeypatch: pytest.MonkeyPatch) -> None:
    before = gc.get_threshold()
    seen: list[tuple[int, ...]] = []

    def run(fn: Callable[[], object]) -> None:
        seen.append(gc.get_threshold())

    monkeypatch.setattr(trio, "run", run)
    server = Server()
    server.run("127.0.0.1", 0, gc_threshold=(700, 10, 1000))
    server.run("127.0.0.1", 0)
    assert seen == [(700, 10, 1000), before]
    assert gc.get_threshold() == before


@pytest.mark.parametrize(("text", "values"), [("700,10,1000", (700, 10, 1000)),
                                              ("5000", (5000,)), ("0", (0,))])
def test_a_threshold_is_one_to_three_integers(text: str, values: tuple[int, ...]) -> None:
    assert parse_gc_threshold(text) == values


@pytest.mark.parametrize("text", ["", "a", "1,2,3,4", "700,-1", "1.5"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_gc_threshold(text)


def test_the_cli_refuses_a_bad_threshold_in_one_line() -> None:
    completed = run_command([console_script(), "serve", "tests.cli.tiny_app:sio",
                             "--gc-threshold", "700,x"])
    assert completed.returncode == 2
    assert "--gc-threshold: not integers: '700,x'" in completed.stderr
    assert "Traceback" not in completed.stderr
