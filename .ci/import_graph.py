"""The project's modules, their sizes and who imports whom: ``python3 .ci/import_graph.py``.

Prints every module of ``engineio_core``, ``socketio_core`` and ``transports`` with its line
count, dependencies first, each followed by the project modules it imports: plainly when the
import runs as the module loads, in ``[brackets]`` when it runs later inside a function, in
``(parentheses)`` when it is only for type checkers (under ``TYPE_CHECKING``). Then it lists the
back edges: imports of a module that is not above in that order, i.e. the imports that close a
cycle. ``--check`` exits 1 when there is any.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("transports", "engineio_core", "socketio_core")

RUNTIME, DEFERRED, TYPING = "runtime", "deferred", "typing"


@dataclass
class Module:
    """One module: its name, line count and imports of project modules, by kind."""

    name: str
    path: Path
    lines: int
    imports: dict[str, str] = field(default_factory=dict)  # target -> strongest kind


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(body: list[ast.stmt], kind: str) -> list[tuple[ast.Import | ast.ImportFrom, str]]:
    found: list[tuple[ast.Import | ast.ImportFrom, str]] = []
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            found.append((stmt, kind))
        elif isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            found += _walk(stmt.body, TYPING)
            found += _walk(stmt.orelse, kind)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            found += _walk(stmt.body, DEFERRED if kind == RUNTIME else kind)
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.stmt):
                    found += _walk([child], kind)
                elif isinstance(child, ast.excepthandler):
                    found += _walk(child.body, kind)
    return found


def load() -> dict[str, Module]:
    """Every project module with the project modules it imports."""
    paths = sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))
    modules = {
        _module_name(p): Module(_module_name(p), p, len(p.read_text().splitlines()))
        for p in paths
    }
    rank = {RUNTIME: 0, DEFERRED: 1, TYPING: 2}
    for module in modules.values():
        tree = ast.parse(module.path.read_text(), filename=str(module.path))
        is_package = module.path.name == "__init__.py"
        for node, kind in _walk(tree.body, RUNTIME):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _resolve(module.name, is_package, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            for target in targets:
                if target not in modules or target == module.name:
                    continue
                old = module.imports.get(target)
                if old is None or rank[kind] < rank[old]:
                    module.imports[target] = kind
    return modules


def order(modules: dict[str, Module]) -> tuple[list[str], list[tuple[str, str, str]]]:
    """Modules dependencies first (by the imports that run), and the back edges (importer,
    imported, kind): an import that runs and closes a cycle, or a type-only import of a module
    that imports the importer back."""
    done: list[str] = []
    state: dict[str, int] = {}
    back: list[tuple[str, str, str]] = []

    def visit(name: str) -> None:
        state[name] = 1
        for target, kind in sorted(modules[name].imports.items()):
            if kind == TYPING:
                continue
            if state.get(target) == 1:
                back.append((name, target, kind))
            elif target not in state:
                visit(target)
        state[name] = 2
        done.append(name)

    for name in sorted(modules):
        if name not in state:
            visit(name)
    for name in done:
        for target, kind in sorted(modules[name].imports.items()):
            if kind == TYPING and name in _reach(modules, target):
                back.append((name, target, kind))
    return done, back


def _reach(modules: dict[str, Module], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += modules[name].imports
    return seen


def loads(modules: dict[str, Module], start: str) -> set[str]:
    """The project modules importing ``start`` loads (its imports that run at load time, and
    the packages above each module loaded)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen or name not in modules:
            continue
        seen.add(name)
        parent = name.rpartition(".")[0]
        if parent:
            todo.append(parent)
        todo += [t for t, kind in modules[name].imports.items() if kind == RUNTIME]
    return seen


def main(argv: list[str]) -> int:
    modules = load()
    names, back = order(modules)
    marks = {RUNTIME: "{}", DEFERRED: "[{}]", TYPING: "({})"}
    width = max(len(n) for n in names)
    total = 0
    for name in names:
        module = modules[name]
        total += module.lines
        deps = ", ".join(marks[module.imports[t]].format(t)
                         for t in sorted(module.imports, key=names.index))
        print(f"{name:<{width}} {module.lines:5}  {deps}")
    print(f"{'total':<{width}} {total:5}  ({len(names)} modules)")
    if back:
        print(f"back edges ({len(back)}):")
        for importer, imported, kind in back:
            print(f"  {importer} -> {imported} ({kind})")
    else:
        print("back edges: none")
    return 1 if back and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
