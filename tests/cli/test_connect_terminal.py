"""``socketio-core connect`` in a pseudo-terminal, typed at as a person would: a prompt with
line editing and history, events printed above what is being typed, Ctrl-D and Ctrl-C."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator

import pexpect
import pytest

from tests.interop.conftest import ROOT, _start, _stop

from .proc import console_script

UP, LEFT = "\x1b[A", "\x1b[D"


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    process, url = _start([sys.executable, "-m", "tests.interop.app", "0"], ROOT)
    yield url
    _stop(process)


def spawn(url: str) -> pexpect.spawn:
    return pexpect.spawn(
        console_script(), ["connect", url, "--ack-timeout", "1", "--no-reconnect"],
        cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm"},
        encoding="utf-8", timeout=15, dimensions=(24, 200))


def test_prompt_editing_history_and_events_above_the_line(server_url: str) -> None:
    child = spawn(server_url)
    try:
        child.expect(r"\* connected / id=\S+")
        child.expect_exact("/> ")
        child.sendline("emit echo say hi")
        child.expect_exact('< / echo ["say","hi"]')
        child.send(UP + "\r")  # the last line again, from the history
        child.expect_exact('< / echo ["say","hi"]')
        child.send("emit echo ac" + LEFT + "b\r")  # b typed before the c
        child.expect_exact('< / echo ["abc"]')

        child.sendline("ack never-ack")
        child.send("emit echo hel")  # typing, not sent yet, when the ack times out
        child.expect_exact("! no ack for never-ack within 1s")
        child.expect_exact("/> emit echo hel")  # the prompt and the typing, drawn again
        child.send("lo\r")
        child.expect_exact('< / echo ["hello"]')

        child.sendline("help")
        child.expect(r"Commands:.*Output lines start with .*error\)\.")
        assert "``" not in child.after
        child.sendline("nonsense")
        child.expect_exact("! unknown command 'nonsense'; try help")
        # Ctrl-D once the prompt is drawn (readline in its raw mode): sent while the terminal
        # was still canonical, the EOF was lost when readline switched modes, under load.
        child.expect_exact("/> ")
        child.sendeof()  # Ctrl-D
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_ctrl_c_exits_130_without_a_traceback(server_url: str) -> None:
    child = spawn(server_url)
    try:
        child.expect(r"\* connected / id=\S+")
        child.expect_exact("/> ")
        child.send("emit echo half a line")
        child.sendintr()  # Ctrl-C
        child.expect(pexpect.EOF)
        output = child.before
    finally:
        child.close()
    assert child.exitstatus == 130
    assert "Traceback" not in output
    assert not re.search(r"KeyboardInterrupt", output)
