"""Every Python and nginx sample of the guides is run by a test: each is named, and the names
are exactly those the guide tests declare (their ``SAMPLES``)."""

from __future__ import annotations

from . import test_guides, test_guides_asgi, test_guides_cluster, test_guides_deployment
from .samples import DOCS, RUN, blocks

# docs/sans-io.md quotes examples/sans_io_echo.py, which test_sans_io_echo.py runs and holds
# the guide to, verbatim.
EXCERPTS = {"sans-io.md"}


def test_every_sample_is_named_and_run() -> None:
    named: set[tuple[str, str]] = set()
    unnamed: list[str] = []
    for doc in sorted(DOCS.glob("*.md")):
        for name, lang, _ in blocks(doc):
            if lang not in RUN or doc.name in EXCERPTS:
                continue
            if name is None:
                unnamed.append(f"{doc.name}: a {lang} block")
            else:
                named.add((doc.name, name))
    assert unnamed == []
    declared = (test_guides.SAMPLES | test_guides_asgi.SAMPLES | test_guides_cluster.SAMPLES
                | test_guides_deployment.SAMPLES)
    assert named == declared
