"""The code samples of the guides: each fenced Python block in docs/*.md is named by the HTML
comment ``<!-- sample: NAME -->`` on the line before it, and run by a test that names it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.interop.conftest import ROOT

DOCS = ROOT / "docs"
_BLOCK = re.compile(r"(?:<!-- sample: (?P<name>[\w-]+) -->\n)?```python\n(?P<code>.*?)```",
                    flags=re.S)


def python_blocks(doc: Path) -> list[tuple[str | None, str]]:
    """Every fenced Python block of ``doc``: its sample name (``None`` when unnamed) and code."""
    return [(m["name"], m["code"]) for m in _BLOCK.finditer(doc.read_text())]


def sample(doc: str, name: str) -> str:
    """The code of sample ``name`` in ``docs/<doc>``."""
    found = [code for block, code in python_blocks(DOCS / doc) if block == name]
    assert len(found) == 1, f"docs/{doc} has {len(found)} samples named {name!r}"
    return found[0]


def run_sample(
    code: str, cwd: Path = ROOT, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script (this checkout's packages first); fails on a non-zero exit."""
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert completed.returncode == 0, completed.stderr
    return completed
