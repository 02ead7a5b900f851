#!/usr/bin/env bash
# Sets everything up, then runs all tests: core, pages (AppTest) and the real browser (Chromium).
# Phase 1 runs everything but the load test on two workers (each browser group with one server and
# one Chromium on one worker), and the tests that mostly wait in a third process beside them; phase
# 2 runs tests/core again on the CPU's baseline vector kernels (scripts/narrow_cpu.py: a test that
# holds at one vector width only fails on every machine); phase 3 runs the classroom load test: its
# server start and warm-up round (~40 s, not measured) beside phase 2, its measured round alone once
# phase 2 is done ($BNVIZ_LOAD_AFTER), so nothing disturbs its measurements. A failure is one line
# here (the log of a CI run keeps little); arguments replace the default selection and give the
# whole traceback: scripts/test.sh tests/core -q
set -euo pipefail
cd "$(dirname "$0")/.."
# Python caches the bytecode of what it imports (in .venv and here), as by default: set-up compiles
# nothing ahead (compiling the whole .venv took 23 s here; the modules imported are a few of them).
unset PYTHONDONTWRITEBYTECODE
bash scripts/setup.sh --dev
mkdir -p .pytest_cache
start=$(date +%s)
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
reports=.pytest_cache/junit
rm -rf "$reports" && mkdir -p "$reports"
status=0
# Two workers on two cores: torch in each (and in the browser tests' server) takes one core, not
# both, so their OpenMP threads do not fight (phase 1: 317 s -> 274 s here). Beside them, in a
# third process, the tests that mostly wait (marked ``waits``: the Ray cluster's, and the one browser
# test that waits out a grace period on a server of its own; not the others, whose Chromium and
# server would take the CPU the workers leave): phase 1 456 s -> 410-443 s here.
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m pytest -m waits --tb=line --junitxml="$reports/waits.xml" \
  -o junit_suite_name=waits >"$reports/waits.log" 2>&1 &
waits=$!
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m pytest -n 2 --dist loadgroup -m "not load and not waits" --tb=line --junitxml="$reports/main.xml" || status=$?
wait $waits || status=$?
cat "$reports/waits.log"
# The core tests that compute with floats; those that parse text, count threads, read files or
# hand rows on (a live chart's feeds: rows copied, never computed) compute nothing a vector width
# changes (18 s of this phase here).
not_numeric=(test_series.py test_memory.py test_tables.py test_data.py test_watching.py test_pysource.py
  test_datasets_present.py test_feeds.py)
# Nor do the tests that show a broken variant fails (by 1e-3 to 1, far beyond any rounding), those
# of a job's bookkeeping (pause, slots, captures kept, timings) and the page faults counted: 66 of
# this phase's 124 s of tests here. One process (32 s of CPU here, 43 s as two workers): the load
# test's warm-up, beside it, has the other core, and its measured round waits for this phase to end.
not_two_paths="not catches_a_broken and not a_broken_batch_is_caught and not other_optimizers_and_options
  and not takes_a_slot and not probes_are_recorded and not snapshot_fields and not time_spent_on_test_accuracy
  and not pause_step_resume and not history_stays_bounded and not no_exception_escapes
  and not fault_its_memory_in_again"
# shellcheck disable=SC2046  # one VAR=value word each
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} env $(.venv/bin/python scripts/narrow_cpu.py) \
  .venv/bin/python -m pytest tests/core "${not_numeric[@]/#/--ignore=tests/core/}" -k "${not_two_paths//$'\n'/ }" --tb=line \
  --junitxml="$reports/narrow.xml" -o junit_suite_name=narrow >"$reports/narrow.log" 2>&1 &
narrow=$!
BNVIZ_LOAD_AFTER=$narrow .venv/bin/python -m pytest -m load --tb=line --junitxml="$reports/load.xml" || status=$?
wait $narrow || status=$?
cat "$reports/narrow.log"
.venv/bin/python scripts/slowest.py "$reports"/*.xml
echo "tests: $(( $(date +%s) - start )) s in all (exit $status)"
exit $status
