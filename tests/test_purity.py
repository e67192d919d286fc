"""The protocol cores stay Sans-IO: they import only the standard library, minus
anything that does I/O, reads the clock, draws randomness or logs."""

from __future__ import annotations

import ast
import enum
import importlib
import sys
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORES = {
    "engineio_core.protocol": ROOT / "engineio_core" / "protocol",
    "socketio_core.protocol": ROOT / "socketio_core" / "protocol",
}
# What each core may import from this project.
ALLOWED_LOCAL = {
    "engineio_core.protocol": {"engineio_core.protocol"},
    "socketio_core.protocol": {"socketio_core.protocol", "engineio_core.protocol"},
}
# Standard-library modules that touch the world: sockets, clocks, randomness, processes, logs.
FORBIDDEN_STDLIB = {
    "asyncio", "datetime", "http", "io", "logging", "multiprocessing", "os", "random",
    "secrets", "select", "selectors", "signal", "socket", "ssl", "subprocess", "threading",
    "time", "uuid", "urllib.request",
}


def _imports(path: Path, package: str) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    module_package = package + "".join(
        "." + part for part in path.relative_to(CORES[package]).parent.parts
    )
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module_package.split(".")
                base = base[: len(base) - (node.level - 1)]
                names.append(".".join([*base, node.module] if node.module else base))
            else:
                assert node.module is not None
                names.append(node.module)
    return names


def _violation(name: str, package: str) -> str | None:
    if any(name == p or name.startswith(p + ".") for p in ALLOWED_LOCAL[package]):
        return None
    top = name.split(".")[0]
    if top == "__future__":
        return None
    if top not in sys.stdlib_module_names:
        return f"{name} is not in the standard library"
    for bad in FORBIDDEN_STDLIB:
        if name == bad or name.startswith(bad + "."):
            return f"{name} does I/O, reads the clock or draws randomness"
    return None


@pytest.mark.parametrize("package", sorted(CORES))
def test_protocol_core_imports_only_pure_stdlib(package: str) -> None:
    files = sorted(CORES[package].rglob("*.py"))
    assert files, f"no modules found for {package}"
    problems = []
    for path in files:
        for name in _imports(path, package):
            why = _violation(name, package)
            if why:
                problems.append(f"{path.relative_to(ROOT)}: {why}")
    assert problems == []


def test_checker_catches_forbidden_imports() -> None:
    package = "engineio_core.protocol"
    assert _violation("trio", package) is not None
    assert _violation("time", package) is not None
    assert _violation("urllib.request", package) is not None
    assert _violation("socketio_core.protocol", package) is not None
    assert _violation("urllib.parse", package) is None
    assert _violation("engineio_core.protocol.errors", package) is None


def _core_modules() -> list[types.ModuleType]:
    modules = []
    for package in CORES:
        for path in sorted(CORES[package].rglob("*.py")):
            parts = path.relative_to(CORES[package]).with_suffix("").parts
            name = ".".join([package, *parts]).removesuffix(".__init__")
            modules.append(importlib.import_module(name))
    return modules


def _frozen(value: object, depth: int = 0) -> object:
    """A comparable deep copy of ``value``'s contents: containers and the cores' own objects are
    walked; anything else stands for itself."""
    if depth > 6:
        return id(value)
    if isinstance(value, dict):
        return tuple((repr(k), _frozen(v, depth + 1)) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset | bytearray):
        return (type(value).__name__, *(_frozen(v, depth + 1) for v in value))
    module = getattr(type(value), "__module__", "")
    if module.startswith(tuple(CORES)) and not isinstance(value, type | enum.Enum):
        slots = [s for c in type(value).__mro__ for s in getattr(c, "__slots__", ())]
        fields = {**{s: getattr(value, s, None) for s in slots}, **getattr(value, "__dict__", {})}
        return (type(value).__name__, _frozen(fields, depth + 1))
    return repr(value)


def _module_state() -> dict[str, object]:
    return {f"{module.__name__}.{name}": _frozen(value)
            for module in _core_modules() for name, value in vars(module).items()
            if not isinstance(value, types.ModuleType | types.FunctionType | type)
            and not name.startswith("__")}


def test_cores_keep_no_module_level_state() -> None:
    # What a run leaves behind in a module (a cache, a counter, the last message) is state that
    # two threads driving their own sessions would share.
    from tests.pairs import StackPair

    before = _module_state()
    for transport, upgrade in (("polling", True), ("websocket", False)):
        pair = StackPair(transport, upgrade=upgrade)
        pair.client.connect("/", {"token": "t"})
        pair.pump()
        pair.server.accept("/", "S")
        pair.pump()
        for text in ("hello", "héllo", "x" * 300):
            pair.server.emit("/", "say", [text, b"\x01\x02"])
            pair.client.emit("/", "say", [text], ack=True)
            pair.pump()
        pair.advance(60.0)
    assert _module_state() == before
