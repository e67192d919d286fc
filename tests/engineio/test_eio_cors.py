"""``CorsPolicy``: the headers Node's ``cors`` package (2.8, lib/index.js) writes, exactly, for
each setting, with and without an ``Origin`` header, on a request and on a preflight."""

from __future__ import annotations

import pytest

from engineio_core.cors import CorsPolicy, CorsSetting

A = "http://a.example"
ACAO = "Access-Control-Allow-Origin"
ACAC = ("Access-Control-Allow-Credentials", "true")
METHODS = ("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")


def _trusted(origin: str) -> bool:
    return origin.endswith(".example")


@pytest.mark.parametrize(("setting", "credentials", "origin", "expected"), [
    ("*", True, None, [(ACAO, "*")]),
    ("*", True, A, [(ACAO, "*")]),
    (A, True, None, [(ACAO, A), ("Vary", "Origin"), ACAC]),  # a fixed origin: always sent
    (A, False, A, [(ACAO, A), ("Vary", "Origin")]),
    ([A], True, None, [("Vary", "Origin"), ACAC]),  # nothing to reflect
    ([A], True, A, [(ACAO, A), ("Vary", "Origin"), ACAC]),
    ([A], False, None, [("Vary", "Origin")]),
    (None, True, None, []),  # same origin only: no CORS to speak of
    (None, True, A, [(ACAO, A), ("Vary", "Origin"), ACAC]),
    (_trusted, True, None, []),
    (_trusted, True, A, [(ACAO, A), ("Vary", "Origin"), ACAC]),
    ([], True, None, []),  # off
    ([], True, A, []),
], ids=["star", "star origin", "string", "string origin no credentials", "list",
        "list origin", "list no credentials", "default", "default origin", "callable",
        "callable origin", "off", "off origin"])
def test_response_headers(setting: CorsSetting, credentials: bool, origin: str | None,
                          expected: list[tuple[str, str]]) -> None:
    assert CorsPolicy(setting, credentials).response_headers(origin) == expected


@pytest.mark.parametrize(("setting", "origin", "request_headers", "expected"), [
    ("*", None, None, [(ACAO, "*"), METHODS, ("Vary", "Access-Control-Request-Headers")]),
    ("*", A, "content-type", [(ACAO, "*"), METHODS, ("Vary", "Access-Control-Request-Headers"),
                              ("Access-Control-Allow-Headers", "content-type")]),
    ([A], A, "x-a", [(ACAO, A), ACAC, METHODS,
                     ("Vary", "Origin, Access-Control-Request-Headers"),
                     ("Access-Control-Allow-Headers", "x-a")]),
    ([A], None, None, [ACAC, METHODS, ("Vary", "Origin, Access-Control-Request-Headers")]),
    (None, None, "x-a", []),
    ([], A, "x-a", []),
], ids=["star", "star origin headers", "list origin headers", "list", "default", "off"])
def test_preflight_headers(setting: CorsSetting, origin: str | None,
                           request_headers: str | None,
                           expected: list[tuple[str, str]]) -> None:
    assert CorsPolicy(setting).preflight_headers(origin, request_headers) == expected
