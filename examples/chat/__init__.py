"""The chat demo: ``python3 -m examples.chat`` serves it at http://127.0.0.1:8000."""
