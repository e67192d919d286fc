"""The README's tour runs as printed, its links resolve, its chat command is what CI installs."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.interop.conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_the_tour_runs_as_printed() -> None:
    (tour,) = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S)
               if "trio.run(main)" in b]
    completed = subprocess.run([sys.executable, "-c", tour], cwd=ROOT, capture_output=True,
                               text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert "ack: {'status': 'ok'}" in lines
    assert any(re.fullmatch(r"chat from \S+ : hello", line) for line in lines)
    assert any(re.fullmatch(r"\S+ left: client namespace disconnect", line) for line in lines)


def test_links_resolve() -> None:
    for link in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / link).exists(), link
    for guide in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+)\)", guide.read_text()):
            assert (guide.parent / link).resolve().exists(), (guide.name, link)


def test_the_chat_command_installs_what_ci_installs() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, flags=re.S)
    (command,) = [b for b in blocks if "examples.chat" in b]
    steps = [step.strip() for step in command.split("&&")]
    assert steps == ["python3 -m pip install -e '.[speedups]'", "npm ci --prefix examples/chat",
                     "python3 -m examples.chat"]
    assert "speedups" in (ROOT / ".ci" / "test").read_text()
    assert (ROOT / "examples" / "chat" / "package-lock.json").is_file()
    assert "npm ci --prefix examples/chat" in (ROOT / ".ci" / "test").read_text()
    from examples.chat.__main__ import parser

    defaults = parser().parse_args([])
    assert (defaults.host, defaults.port) == ("127.0.0.1", 8000)
