"""The guides' code samples run as printed (see samples.py for how they are named)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.tls_cert import make_cert

from .samples import run_sample, sample

#: The samples this module runs, as (guide, sample name).
SAMPLES = {("tls.md", "tls-serve")}


def test_tls_serve(tmp_path: Path) -> None:
    make_cert(tmp_path)
    lines = run_sample(sample("tls.md", "tls-serve"), cwd=tmp_path).stdout.splitlines()
    assert lines[0] == "secure: True"
    assert re.fullmatch(r"connected over (polling|websocket)", lines[1])
