"""A real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by Selenium.

Nothing here skips: a missing browser, driver or npm package fails the test with the command
that installs it (``bash .ci/run`` installs all of them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "examples" / "chat"

Browser = Callable[[], webdriver.Chrome]


def _find(*names: str) -> str:
    for name in names:
        found = shutil.which(name) or (name if Path(name).is_file() else None)
        if found:
            return found
    pytest.fail(f"none of {names} found: `apt-get install -y chromium chromium-driver`")


def start_chat(port: int = 0) -> tuple[subprocess.Popen[str], int]:
    """Start ``python3 -m examples.chat`` on 127.0.0.1; its process and port."""
    if not (CHAT / "node_modules" / "socket.io-client" / "dist").is_dir():
        pytest.fail("run `npm ci --prefix examples/chat` first (bash .ci/test does it)")
    process = subprocess.Popen(
        [sys.executable, "-m", "examples.chat", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening "):
        process.kill()
        pytest.fail(f"the chat did not start: {line}{process.stdout.read()}")
    return process, int(line.split()[1])


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def chat_server() -> Iterator[str]:
    process, port = start_chat()
    yield f"http://127.0.0.1:{port}"
    stop(process)


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A factory of headless Chromium sessions, all quit at the end of the test."""
    binary = _find("chromium", "/usr/bin/chromium", "chromium-browser")
    driver_path = _find("chromedriver", "/usr/bin/chromedriver")
    drivers: list[webdriver.Chrome] = []

    def open_browser() -> webdriver.Chrome:
        options = webdriver.ChromeOptions()
        options.binary_location = binary
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1000,700"):
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(driver_path))
        driver.set_page_load_timeout(20)
        drivers.append(driver)
        return driver

    yield open_browser
    for driver in drivers:
        driver.quit()
