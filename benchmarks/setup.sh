#!/usr/bin/env bash
# The benchmark's own environment, never the project's: the peers' Python packages in
# benchmarks/.venv, and the official server plus `ws` (for the load generator) in
# benchmarks/node_modules, both pinned by this script and benchmarks/package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install --quiet --disable-pip-version-check \
  'python-socketio>=5,<6' 'uvicorn[standard]' uvloop httptools py-spy
