"""The query of an Engine.IO request as Node's engine.io reads it (``Object.fromEntries(
url.searchParams)``), read at once from the raw query when it has nothing to decode."""

from __future__ import annotations

from urllib.parse import parse_qs

from hypothesis import given
from hypothesis import strategies as st

from engineio_core.server import _node_query


class _Query:
    """What ``_node_query`` reads of a request."""

    def __init__(self, raw_query: str) -> None:
        self.raw_query = raw_query
        self.query_lists = parse_qs(raw_query, keep_blank_values=True)


@given(st.text(alphabet="ab=&;+%2x é", max_size=24))
def test_the_last_value_of_a_parameter_wins_however_it_is_read(raw_query: str) -> None:
    expected = {k: v[-1] for k, v in parse_qs(raw_query, keep_blank_values=True).items()}
    assert _node_query(_Query(raw_query)) == expected  # type: ignore[arg-type]


class _Unlisted:
    """A request whose query lists must not be asked for."""

    raw_query = "EIO=4&transport=polling&sid=abc&t=1&t=2"

    @property
    def query_lists(self) -> dict[str, list[str]]:
        raise AssertionError("not needed")


def test_a_polling_query_is_read_without_its_lists() -> None:
    query = _node_query(_Unlisted())  # type: ignore[arg-type]
    assert query == {"EIO": "4", "transport": "polling", "sid": "abc", "t": "2"}
