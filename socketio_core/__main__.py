"""``python3 -m socketio_core`` is the ``socketio-core`` command."""

import sys

from .cli import main

sys.exit(main())
