#!/usr/bin/env bash
# Runs every test: the format check, the GoogleTest unit tests (CTest), the end-to-end tests
# against the real binary (node:test with real clients), and a short fuzzing run of the
# untrusted-input parsers.
# Ends with one summary line, "N passed, N failed", and a non-zero exit if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
logs=$(mktemp -d)
passed=0
failed=0

echo "== format (clang-format, .clang-format)"
if git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror 2>"$logs/format"; then
  passed=$((passed + 1))
else
  head -n 20 "$logs/format"
  echo "format: run 'make format' and commit"
  failed=$((failed + 1))
fi

echo "== unit tests (ctest)"
ctest --test-dir "$build_dir" --output-on-failure -j 2 2>&1 | tee "$logs/unit"
unit_rc=${PIPESTATUS[0]}
if line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$logs/unit"); then
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  passed=$((passed + total - bad)); failed=$((failed + bad))
fi
[ "$unit_rc" -eq 0 ] || [ "$failed" -gt 0 ] || failed=$((failed + 1))

echo "== end-to-end tests (node --test)"
build_path=$(cd "$build_dir" && pwd)
(cd tests/e2e && SLUICE_BIN="$build_path/src/app/sluice" \
   SCHEMA_VALIDATE_TOOL="$build_path/tests/schema_validate_tool" \
   LAKE_WRITE_TOOL="$build_path/tests/lake_write_tool" \
   node --test --test-concurrency=1 --test-reporter=spec 2>&1) | tee "$logs/e2e"
e2e_rc=${PIPESTATUS[0]}
e2e_pass=$(grep -E "^. pass [0-9]+" "$logs/e2e" | tail -1 | grep -oE "[0-9]+$" || echo 0)
e2e_fail=$(grep -E "^. fail [0-9]+" "$logs/e2e" | tail -1 | grep -oE "[0-9]+$" || echo 0)
passed=$((passed + e2e_pass)); failed=$((failed + e2e_fail))
[ "$e2e_rc" -eq 0 ] || [ "$e2e_fail" -gt 0 ] || failed=$((failed + 1))

echo "== crash harness, short form (tests/crash)"
(cd tests/crash && SLUICE_BIN="$build_path/src/app/sluice" \
   node --test --test-concurrency=1 --test-reporter=spec 2>&1) | tee "$logs/crash"
crash_rc=${PIPESTATUS[0]}
crash_pass=$(grep -E "^. pass [0-9]+" "$logs/crash" | tail -1 | grep -oE "[0-9]+$" || echo 0)
crash_fail=$(grep -E "^. fail [0-9]+" "$logs/crash" | tail -1 | grep -oE "[0-9]+$" || echo 0)
passed=$((passed + crash_pass)); failed=$((failed + crash_fail))
[ "$crash_rc" -eq 0 ] || [ "$crash_fail" -gt 0 ] || failed=$((failed + 1))

echo "== fuzz smoke (libFuzzer, ${FUZZ_SECONDS:-20}s per target)"
if bash scripts/fuzz.sh "${FUZZ_SECONDS:-20}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi

rm -rf "$logs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
