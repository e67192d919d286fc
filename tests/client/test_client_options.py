"""``connect`` passes its options on to ``Manager`` as one ``ManagerOptions``: the two lists of
names stay the same, and a typo is refused."""

from __future__ import annotations

import inspect

import pytest
import trio

from socketio_core import Manager, connect
from socketio_core.client import ManagerOptions


def test_manager_options_are_the_managers_parameters() -> None:
    parameters = set(inspect.signature(Manager).parameters) - {"url"}
    assert set(ManagerOptions.__annotations__) == parameters


def test_connect_refuses_an_option_manager_does_not_have() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match="reconection"):
            async with connect("http://127.0.0.1:9", reconection=False):  # type: ignore[call-arg]
                pass

    trio.run(main)
