"""The modules import downward only: no import, not even one for type checkers, closes a cycle
(``python3 .ci/import_graph.py`` prints the graph), and the client does not load the server."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_tool() -> types.ModuleType:
    # The tool is a script in .ci/, not a package: load it from its file.
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / ".ci" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_tool = _load_tool()
RUNTIME, TYPING, Module = _tool.RUNTIME, _tool.TYPING, _tool.Module
load, loads, order = _tool.load, _tool.loads, _tool.order
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
