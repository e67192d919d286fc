"""The modules import downward only: no import, not even one for type checkers, closes a cycle
(``python3 tools/import_graph.py`` prints the graph), and the client does not load the server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tools.import_graph import RUNTIME, TYPING, Module, load, loads, order

ROOT = Path(__file__).resolve().parent.parent
SERVER_SIDE = {"socketio_core.server", "socketio_core.link", "socketio_core.namespace",
               "socketio_core.socket", "socketio_core.adapter", "socketio_core.broadcast"}


def test_no_import_closes_a_cycle() -> None:
    _, back = order(load())
    assert back == []


def test_a_cycle_is_reported() -> None:
    modules = {
        "a": Module("a", ROOT, 1, {"b": RUNTIME}),
        "b": Module("b", ROOT, 1, {"c": RUNTIME}),
        "c": Module("c", ROOT, 1, {"a": TYPING}),
    }
    assert order(modules)[1] == [("c", "a", TYPING)]
    modules["c"].imports["a"] = RUNTIME
    assert len(order(modules)[1]) == 1


def test_the_client_does_not_import_the_server_side() -> None:
    assert loads(load(), "socketio_core.client") & SERVER_SIDE == set()


def test_importing_the_client_loads_none_of_the_server_side() -> None:
    code = ("import json, sys; from socketio_core import connect, ConnectError; "
            "print(json.dumps(sorted(sys.modules)))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    loaded = set(json.loads(out))
    assert "socketio_core.client" in loaded
    assert loaded & SERVER_SIDE == set()
