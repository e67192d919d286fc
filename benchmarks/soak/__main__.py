"""``python3 -m benchmarks.soak``: see ``benchmarks.soak.run``."""

from .run import main

main()
