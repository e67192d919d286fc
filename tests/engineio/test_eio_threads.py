"""The Sans-IO cores hold no process-wide state: two threads, each driving its own session (as
``docs/sans-io.md``'s blocking example may), never see each other's data."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator

import pytest

from engineio_core.protocol import ServerConfig, ServerSession

MESSAGES = 100_000


@pytest.fixture
def eager_thread_switches() -> Iterator[None]:
    # Switch threads as often as the interpreter allows, so that any shared state between the
    # two sessions' calls is exercised many thousands of times.
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


def _drive(tag: str, transport: str, foreign: list[str]) -> None:
    session = ServerSession(tag, ServerConfig(), transport=transport, now=0.0)
    polling = transport == "polling"

    def take() -> list[str | bytes]:
        if not polling:
            return session.take_ws_frames()
        segments = session.take_poll_payload().decode().split("\x1e")
        session.start_poll(now=0.0)
        return list(segments)

    if polling:
        session.start_poll(now=0.0)
    take()  # the open packet
    expected = 0
    for i in range(MESSAGES):
        session.send_message(f"{tag}:{i}")
        if i % 50 == 49 or i == MESSAGES - 1:
            for frame in take():
                if frame != f"4{tag}:{expected}":
                    foreign.append(str(frame))
                expected += 1
    if expected != MESSAGES:
        foreign.append(f"{tag}: {expected} frames for {MESSAGES} messages")


@pytest.mark.parametrize("transport", ["websocket", "polling"])
@pytest.mark.usefixtures("eager_thread_switches")
def test_two_threads_driving_their_own_sessions_see_only_their_own_messages(
    transport: str,
) -> None:
    foreign: dict[str, list[str]] = {"a": [], "b": []}
    threads = [threading.Thread(target=_drive, args=(tag, transport, seen))
               for tag, seen in foreign.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert foreign == {"a": [], "b": []}
