#!/usr/bin/env bash
# THE test command (CI runs it through .ci/run): installs what is missing, builds, then runs
#   - the unit tests and the bounded fuzz runs of the ASan + UBSan build (ctest -L
#     'unit|fuzz' in build-asan/)
#   - the integration and end-to-end tests and the benchmark smoke run against the
#     release build (ctest -L 'integration|e2e|bench' in build/); they need root.
# Prints each ctest summary and a closing "N passed, M failed" line; exits non-zero on any
# failure. Works with no stdin. MOOR_BUILD_DIR / MOOR_ASAN_BUILD_DIR move the build dirs.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build_dir=${MOOR_BUILD_DIR:-$repo/build}
asan_dir=${MOOR_ASAN_BUILD_DIR:-$repo/build-asan}
exec </dev/null

start=$SECONDS
bash scripts/setup.sh
bash scripts/build.sh all

total_pass=0 total_fail=0 status=0
log=$(mktemp /tmp/moor-test.XXXXXX.log)
trap 'rm -f "$log"' EXIT

# run_ctest WHAT DIR LABEL_REGEX: runs ctest, tallies its summary line.
run_ctest() {
  local what=$1 dir=$2 labels=$3 rc=0
  echo "=== $what: ctest -L '$labels' in $dir"
  ctest --test-dir "$dir" -L "$labels" --output-on-failure --no-tests=error \
    --timeout 1200 2>&1 | tee "$log" || rc=$?
  local line
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1 || true)
  if [[ -z $line ]]; then
    echo "=== $what: ctest printed no summary (exit $rc)"
    total_fail=$((total_fail + 1))
    status=1
    return
  fi
  local failed total
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  total_pass=$((total_pass + total - failed))
  total_fail=$((total_fail + failed))
  echo "=== $what: $line"
  if ((rc != 0 || failed != 0)); then status=1; fi
}

# ctest's exit status comes through tee only with pipefail: keep it on inside run_ctest.
run_ctest "unit + fuzz (ASan+UBSan)" "$asan_dir" '^(unit|fuzz)$'
if [[ $EUID -eq 0 ]]; then
  run_ctest "integration + e2e + bench smoke (release)" "$build_dir" '^(integration|e2e|bench)$'
else
  echo "=== integration + e2e: NOT RUN (they need root)"
  status=1
fi

echo "test.sh: finished in $((SECONDS - start)) s"
echo "$total_pass passed, $total_fail failed"
exit $status
