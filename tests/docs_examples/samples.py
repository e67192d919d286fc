"""The code samples of the guides: a fenced block in docs/*.md is named by the HTML comment
``<!-- sample: NAME -->`` on the line before it, and run by a test that names it (every Python
and nginx block must be; test_samples.py checks)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.interop.conftest import ROOT

DOCS = ROOT / "docs"
#: Languages whose every block is a sample a test runs.
RUN = ("python", "nginx")
_BLOCK = re.compile(
    r"(?:<!-- sample: (?P<name>[\w-]+) -->\n)?```(?P<lang>\w+)\n(?P<code>.*?)```", flags=re.S)


def blocks(doc: Path) -> list[tuple[str | None, str, str]]:
    """Every fenced block of ``doc`` with a language: (sample name or ``None``, language,
    code)."""
    return [(m["name"], m["lang"], m["code"]) for m in _BLOCK.finditer(doc.read_text())]


def sample(doc: str, name: str) -> str:
    """The code of sample ``name`` in ``docs/<doc>``."""
    found = [code for block, _, code in blocks(DOCS / doc) if block == name]
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


def exec_sample(code: str) -> dict[str, Any]:
    """Execute ``code`` in a fresh namespace (a sample that defines things); that namespace."""
    namespace: dict[str, Any] = {"__name__": "sample"}
    exec(compile(code, "<sample>", "exec"), namespace)
    return namespace


def free_port() -> int:
    """A loopback port nothing listens on now (for samples that name a fixed port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
