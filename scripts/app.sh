#!/usr/bin/env bash
# Sets up .venv if needed, then runs the app (extra arguments go to streamlit run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/streamlit run app.py "$@"
