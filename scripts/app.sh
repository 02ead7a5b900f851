#!/usr/bin/env bash
# Sets up .venv if needed, then runs the app (extra arguments go to streamlit run).
set -euo pipefail
cd "$(dirname "$0")/.."
# Python caches the bytecode of what it imports (in .venv and here), as by default: set-up compiles
# nothing ahead (compiling the whole .venv took 23 s here; the modules imported are a few of them).
unset PYTHONDONTWRITEBYTECODE
bash scripts/setup.sh
# Every page run is a thread of its own: two malloc arenas keep the server's memory flat over a
# class (bnviz/server/memory.py). glibc reads this once, at the start; a value already set wins.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}
exec .venv/bin/streamlit run serve.py "$@"
