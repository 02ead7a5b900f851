#!/usr/bin/env bash
# Sets everything up, then runs all tests: core, pages (AppTest) and the real browser (Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
mkdir -p .pytest_cache
exec .venv/bin/python -m pytest "$@"
