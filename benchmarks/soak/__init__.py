"""Reliability under churn, resets, slow readers, floods and hostile input (issue 17): raw
clients on loopback against our server and the official Node server. ``python3 -m
benchmarks.soak`` prints the table; ``tests/soak`` runs the same scenarios small in CI."""
