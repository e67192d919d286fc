"""CI must run exactly the test command the README gives a newcomer, and that command must
install what the suite needs on a fresh machine (and the README say what it assumes)."""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CI = ROOT / ".ci"


def _commands(script: Path) -> list[str]:
    return [line.strip() for line in script.read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)\n```", readme, flags=re.S)
    assert "bash .ci/test" in blocks
    assert _commands(CI / "run")[-1] == "bash .ci/test"


def test_the_test_command_installs_the_system_packages_first() -> None:
    commands = _commands(CI / "test")
    first_install = next(i for i, c in enumerate(commands)
                         if "install" in c or "npm ci" in c or "system-packages" in c)
    assert commands[first_install] == "bash .ci/system-packages"


def test_the_readme_says_what_the_test_command_assumes() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == ">=3.11"
    for assumption in ("Python 3.11 or newer", "virtual environment", "`sudo`", "Chromium",
                       "chromedriver", "Node.js and npm", "Redis", "nginx"):
        assert assumption in section, assumption


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/bash\n{body}\n")
    path.chmod(0o755)


REDIS = ("redis-server", "redis-cli")
ALL = ("chromium", "chromedriver", "node", "npm", *REDIS, "nginx")


@pytest.mark.parametrize(("present", "uid", "expected"), [
    ((), "1000", ["sudo apt-get update -qq", "sudo apt-get install -y -qq chromium "
                  "chromium-driver nodejs npm redis-server nginx"]),
    (("chromium", "chromedriver", *REDIS, "nginx"), "0", ["apt-get update -qq",
                                                           "apt-get install -y -qq nodejs npm"]),
    (("chromium", "node", "npm", "redis-server"), "0", ["apt-get update -qq",
     "apt-get install -y -qq chromium chromium-driver redis-server nginx"]),
    (ALL, "1000", []),
])
def test_system_packages_installs_what_is_missing(
    tmp_path: Path, present: tuple[str, ...], uid: str, expected: list[str]
) -> None:
    """Run against stub commands: which apt-get calls it makes, with sudo unless root."""
    log = tmp_path / "calls"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _stub(bin_dir, "id", f"echo {uid}")
    _stub(bin_dir, "sudo", f'echo -n "sudo " >> {log}; "$@"')
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {log}')
    for name in present:
        _stub(bin_dir, name, "exit 0")
    completed = subprocess.run(
        ["/bin/bash", str(CI / "system-packages")], capture_output=True, text=True, timeout=30,
        env={**os.environ, "PATH": str(bin_dir)})
    assert completed.returncode == 0, completed.stderr
    calls = log.read_text().splitlines() if log.exists() else []
    assert calls == expected
