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
# A bare Handshake (imported for type checking only) in socketio_core is that package's; this
# resolves the annotations autodoc can evaluate, _qualify_handshake below the signatures it
# cannot.
autodoc_type_aliases = {"Handshake": "socketio_core.handshake.Handshake"}
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


_BARE_HANDSHAKE = re.compile(r"(?<![\w.~])Handshake\b")


def _qualify_handshake(app: object, what: str, name: str, obj: object, options: object,
                       signature: str | None, return_annotation: str | None
                       ) -> tuple[str | None, str | None] | None:
    """A signature whose annotations autodoc cannot evaluate (names imported only for type
    checking) keeps them as written: a bare ``Handshake`` in ``socketio_core`` is that
    package's, not ``engineio_core``'s."""
    if not name.startswith("socketio_core") or signature is None:
        return None
    qualified = "~socketio_core.handshake.Handshake"
    return (_BARE_HANDSHAKE.sub(qualified, signature),
            None if return_annotation is None
            else _BARE_HANDSHAKE.sub(qualified, return_annotation))


def setup(app: object) -> None:
    app.connect("autodoc-skip-member", _skip_class_aliases)  # type: ignore[attr-defined]
    app.connect("autodoc-process-signature", _qualify_handshake)  # type: ignore[attr-defined]
