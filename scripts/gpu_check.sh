#!/usr/bin/env bash
# The GPU check (docs/DEPLOY.md, "Measured on a GPU"): on a machine with a CUDA GPU and its own
# PyTorch, with the four Fashion-MNIST .gz files in data/fashion-mnist/ (ignored by git), run the
# device-touching core tests on the GPU, then python -m bench gpu. Results go to $OUT (default
# ./gpu-check/): core.txt, core.xml, gpu.txt.
set -o pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 BNVIZ_DATA=$PWD/data/fashion-mnist OMP_NUM_THREADS=1 BNVIZ_TEST_DEVICE=cuda
if [ ! -d /usr/share/datasets/fashion-mnist ]; then  # the tests read Debian's folder
    mkdir -p /usr/share/datasets && cp -r data/fashion-mnist /usr/share/datasets/
fi
# SIGINT at the limit: pytest still prints what failed so far.
timeout -s INT -k 20 "${TEST_LIMIT_S:-240}" python3 -m pytest -p no:cacheprovider -p no:benchmark -q -rfE \
    --tb=short -n 8 --junitxml="$OUT/core.xml" tests/core/test_training.py tests/core/test_wide.py \
    tests/core/test_sweep.py tests/core/test_classes.py tests/core/test_bn.py tests/core/test_models.py \
    >"$OUT/core.txt" 2>&1
grep -E "^(FAILED|ERROR)|passed|failed" "$OUT/core.txt" | cut -c1-220
timeout "${BENCH_LIMIT_S:-300}" python3 -c "from bench import gpu; gpu.run()" 2>&1 | tee "$OUT/gpu.txt"
