"""Sphinx configuration: the guides (Markdown, through MyST) and the API reference generated
from the docstrings (autodoc, Google-style sections through napoleon).

Build: ``python3 -m sphinx -W --keep-going -b html docs docs/_build/html`` (``.ci/test`` does,
warnings as errors). Needs the ``docs`` extra.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the checkout's packages, not an installed copy

project = "trio-socketio-core"
author = "the trio-socketio-core authors"
copyright = "the trio-socketio-core authors"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "imported-members": True, "show-inheritance": True}
# Names socketio_core's modules import for type checking only reach autodoc as bare strings;
# these are socketio_core's own (engineio_core has a Handshake and a Packet too). The aliases
# resolve the annotations autodoc can evaluate, _qualify below the signatures it cannot.
QUALIFIED = {"Handshake": "socketio_core.handshake.Handshake",
             "Packet": "socketio_core.protocol.Packet"}
autodoc_type_aliases = dict(QUALIFIED)
napoleon_google_docstring = True
napoleon_numpy_docstring = False

myst_heading_anchors = 3

html_theme = "alabaster"
html_title = "trio-socketio-core"


def _skip_class_aliases(app: object, what: str, name: str, obj: object, skip: bool,
                        options: object) -> bool | None:
    """A class attribute that names another class (``Request.BodyTooLarge``) is an alias of
    a class documented at its module: documenting it again would duplicate it."""
    if what == "class" and isinstance(obj, type):
        return True
    return None


_BARE = re.compile(r"(?<![\w.~])(" + "|".join(QUALIFIED) + r")\b")


def _qualify(app: object, what: str, name: str, obj: object, options: object,
             signature: str | None, return_annotation: str | None
             ) -> tuple[str | None, str | None] | None:
    """A signature whose annotations autodoc cannot evaluate keeps them as written: in
    ``socketio_core``, a bare name of ``QUALIFIED`` is that package's."""
    if not name.startswith("socketio_core") or signature is None:
        return None

    def qualified(text: str) -> str:
        return _BARE.sub(lambda m: "~" + QUALIFIED[m.group(1)], text)

    return qualified(signature), None if return_annotation is None else qualified(
        return_annotation)


def setup(app: object) -> None:
    app.connect("autodoc-skip-member", _skip_class_aliases)  # type: ignore[attr-defined]
    app.connect("autodoc-process-signature", _qualify)  # type: ignore[attr-defined]
