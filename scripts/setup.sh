#!/usr/bin/env bash
# Creates .venv and installs what bnviz needs. Usage: scripts/setup.sh [--dev]
#   --dev  also the test tools, and (as root, when missing) Debian's chromium, fonts and Fashion-MNIST.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# Keep a torch the user installed (e.g. a CUDA build); otherwise pin the tested release.
# Without pip's compiling of every module it installs (one by one: ~24 s for a new .venv here);
# scripts/app.sh and scripts/test.sh let Python cache the bytecode of the modules it imports.
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/python -m pip install -q --no-compile torch==2.13.0
if [ "${1:-}" = "--dev" ]; then
  .venv/bin/python -m pip install -q --no-compile -r requirements-dev.txt
  need=()
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
  fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    else
      echo "missing Debian packages: ${need[*]} (run: sudo apt-get install ${need[*]})" >&2
    fi
  fi
else
  .venv/bin/python -m pip install -q --no-compile -r requirements.txt
fi
