#!/usr/bin/env bash
# Sets everything up, then runs all tests: core, pages (AppTest) and the real browser (Chromium).
# Everything runs at once: everything but the tests that mostly wait on two workers (each browser
# group with one server and one Chromium on one worker); beside them, the tests that mostly wait
# and the classroom load test, in processes of their own; and at the lowest priority, tests/core
# again on the CPU's baseline vector kernels. A failure is one line here (the log of a CI run
# keeps little); arguments replace the default selection and give the whole traceback:
# scripts/test.sh tests/core -q
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
# The core tests again on the CPU's baseline vector kernels (scripts/narrow_cpu.py: a
# test that holds at one vector width only fails on every machine): those that compute with floats.
# Not those that parse text, count threads, read files or hand rows on (a live chart's feeds: rows
# copied, never computed), nor those that show a broken variant fails (by 1e-3 to 1, far beyond any
# rounding), those of a job's bookkeeping (pause, slots, captures kept, timings), a training
# thread's priority or the page faults counted, nor the check that this environment lowers the
# kernels (a process of its own started with it, in the main run already), nor which modules a
# process imports: nothing a vector width changes.
not_numeric=(test_series.py test_memory.py test_tables.py test_data.py test_watching.py test_pysource.py
  test_datasets_present.py test_feeds.py)
not_two_paths="not catches_a_broken and not a_broken_batch_is_caught and not other_optimizers_and_options
  and not takes_a_slot and not probes_are_recorded and not snapshot_fields and not time_spent_on_test_accuracy
  and not pause_step_resume and not history_stays_bounded and not no_exception_escapes
  and not fault_its_memory_in_again and not runs_nicer_than_the_server and not the_environment_sets_the_kernels
  and not checked_without_torch"
# Two workers on two cores, each browser group with its server and Chromium on one of them, torch in
# each on one thread so their OpenMP threads do not fight. Beside them, each in a process of its own:
# the tests that mostly wait (marked ``waits``): the Ray cluster's (~360 s alone), and the browser
# tests on servers of their own that wait out a grace period or a class's slowed refreshes (~100 s);
# and the classroom load test (125 s alone: after the others it made the command two minutes
# longer; beside them its refreshes' p95 was 0.3 to 1.9 s, timed over 12 s, and 0.4 to 0.9 s over
# 24 s, its bound 2 s). Its result is printed (-s). At nice 5 its p95 beside everything was 828 ms
# in one run and 1,748 ms in the next: too near its bound; at nice 0 its six live tabs slow the
# workers' pages (a page load took over 30 s once: they may take 60 s). The two cores stay busy:
# the core tests on baseline kernels run beside them all at the lowest priority (nice 19), on the
# CPU the others leave (the trainings in the test servers, at nice 10, take nine tenths of what
# they share with it).
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m pytest -m waits tests/cluster --tb=line \
  --junitxml="$reports/waits.xml" -o junit_suite_name=waits >"$reports/waits.log" 2>&1 &
waits=$!
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m pytest -m waits tests/browser --tb=line \
  --junitxml="$reports/waits-browser.xml" -o junit_suite_name=waits_browser >"$reports/waits-browser.log" 2>&1 &
waits_browser=$!
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m pytest -m load -s tests/browser/test_load.py --tb=line \
  --junitxml="$reports/load.xml" -o junit_suite_name=load >"$reports/load.log" 2>&1 &
load=$!
# shellcheck disable=SC2046  # one VAR=value word each
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} nice -n 19 env $(.venv/bin/python scripts/narrow_cpu.py) \
  .venv/bin/python -m pytest tests/core "${not_numeric[@]/#/--ignore=tests/core/}" -k "${not_two_paths//$'\n'/ }" --tb=line \
  --junitxml="$reports/narrow.xml" -o junit_suite_name=narrow >"$reports/narrow.log" 2>&1 &
narrow=$!
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} .venv/bin/python -m pytest -n 2 --dist loadgroup -m "not load and not waits" --tb=line --junitxml="$reports/main.xml" || status=$?
for pid in $waits $waits_browser $load $narrow; do
  wait "$pid" || status=$?
done
cat "$reports/waits.log" "$reports/waits-browser.log"
sed '/No runtime found/d' "$reports/load.log"  # less Streamlit's warnings of caches made outside a server
cat "$reports/narrow.log"
# The slowest tests (not the baseline kernels' run: its times are nice 19's).
.venv/bin/python scripts/slowest.py "$reports"/{main,waits,waits-browser,load}.xml
echo "tests: $(( $(date +%s) - start )) s in all (exit $status)"
exit $status
