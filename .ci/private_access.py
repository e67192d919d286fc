"""Count reads and writes of other objects' private attributes: ``python3 .ci/private_access.py``.

An access is ``expr._name`` where ``expr`` is not ``self`` or ``cls`` and ``_name`` is not a
dunder, nor a named tuple's public ``_replace``/``_asdict``/``_fields``/``_make``; attributes of
imported modules are not counted. Prints the count per file of the given
packages (default ``socketio_core``) and, with ``-v``, each access.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMED_TUPLE_API = frozenset({"_replace", "_asdict", "_fields", "_make"})


def accesses(path: Path) -> list[tuple[int, str]]:
    """``(line, text)`` of each private access in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            modules.update(a.asname or a.name for a in node.names)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
            continue
        if name in NAMED_TUPLE_API:
            continue
        base = node.value
        if isinstance(base, ast.Name) and (base.id in ("self", "cls") or base.id in modules):
            continue
        found.append((node.lineno, ast.unparse(node)))
    return sorted(found)


def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    packages = [a for a in argv if not a.startswith("-")] or ["socketio_core"]
    total = 0
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found = accesses(path)
            if not found:
                continue
            total += len(found)
            print(f"{len(found):4}  {path.relative_to(ROOT)}")
            if verbose:
                for line, text in found:
                    print(f"        {line}: {text}")
    print(f"{total:4}  total")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
