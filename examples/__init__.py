"""Runnable examples: ``python3 -m examples.chat`` and ``python3 examples/sans_io_echo.py``."""
