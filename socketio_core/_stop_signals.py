"""SIGINT and SIGTERM while servers serve: one set of handlers per trio run, shared by every
``Server.serve`` in it.

``trio.open_signal_receiver`` restores the handlers it replaced when its block ends, so two
receivers ended out of order (two servers in one program) would leave a dead receiver's handler
installed. Here the first ``serve`` to start installs the handlers and the last to end restores
them, whatever the order in between. The first signal wakes every ``serve`` of the run (each
closes its server cleanly); a second one while they close restores the previous handlers and is
delivered to them, so a second Ctrl-C stops the program at once, as trio's own handling does.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import trio

__all__ = ["StopSignals", "stop_signals"]

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """The run's stop signals: ``received`` is set by the first SIGINT or SIGTERM."""

    def __init__(self) -> None:
        self.users = 0
        self.received = trio.Event()
        self.signum: signal.Signals | None = None
        self._previous: dict[int, Any] = {}
        self._token: trio.lowlevel.TrioToken | None = None

    def enter(self) -> None:
        """One more ``serve`` listens (the first installs the handlers)."""
        if self.users == 0:
            self._token = trio.lowlevel.current_trio_token()
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handler)
        self.users += 1

    def exit(self) -> None:
        """One ``serve`` ended (the last restores the handlers and forgets the signal)."""
        self.users -= 1
        if self.users == 0:
            self._restore()
            self.received = trio.Event()
            self.signum = None

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
        self._previous.clear()

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        assert self._token is not None
        self._token.run_sync_soon(self._deliver, signum, idempotent=True)

    def _deliver(self, signum: int) -> None:
        if self.signum is None:
            self.signum = signal.Signals(signum)
            self.received.set()
            return
        self._restore()  # a second signal: the program's own handling takes it from here
        signal.raise_signal(signum)


_RUN_STATE: trio.lowlevel.RunVar[StopSignals] = trio.lowlevel.RunVar("socketio_core_stop_signals")


def stop_signals() -> StopSignals | None:
    """The run's ``StopSignals``, or ``None`` off the main thread (where Python delivers no
    signals)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    try:
        return _RUN_STATE.get()
    except LookupError:
        state = StopSignals()
        _RUN_STATE.set(state)
        return state
