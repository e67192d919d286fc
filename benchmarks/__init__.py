"""Benchmarks: our server against python-socketio and the official Node server, under one load.

``python -m benchmarks.run`` measures; ``python -m benchmarks.server`` is our contestant.
"""
