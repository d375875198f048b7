#!/usr/bin/env bash
# Runs every test: the release build with warnings as errors, the ASan+UBSan build, the scalar-only
# CPU build, and a short fuzz run of the GGUF parser. Prints one closing line "N passed, M failed".
#   bash scripts/test.sh           everything (what CI runs)
#   bash scripts/test.sh --quick   the ci preset only
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=()

run_preset() {
  local preset=$1
  echo "=== preset $preset: configure + build"
  if ! cmake --preset "$preset" >"/tmp/vkai-cfg-$preset.log" 2>&1; then
    cat "/tmp/vkai-cfg-$preset.log"; failed=$((failed + 1)); failures+=("$preset: configure"); return
  fi
  if ! cmake --build --preset "$preset" -j "$jobs"; then
    failed=$((failed + 1)); failures+=("$preset: build"); return
  fi
  echo "=== preset $preset: ctest"
  local log="/tmp/vkai-ctest-$preset.log"
  ctest --test-dir "build/$preset" --output-on-failure -j "$jobs" 2>&1 | tee "$log"
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -n 1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); failures+=("$preset: ctest did not report"); return
  fi
  local nfail total
  nfail=$(echo "$line" | sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/')
  passed=$((passed + total - nfail))
  failed=$((failed + nfail))
  [ "$nfail" -eq 0 ] || failures+=("$preset: $nfail ctest failures")
}

start=$(date +%s)
run_preset ci
if [ $quick -eq 0 ]; then
  run_preset asan
  run_preset scalar
  echo "=== fuzz: GGUF parser"
  if bash scripts/fuzz.sh "${VKAI_FUZZ_SECONDS:-30}"; then passed=$((passed + 1)); else failed=$((failed + 1)); failures+=("fuzz_gguf"); fi
fi

echo "=== done in $(( $(date +%s) - start )) s"
for f in "${failures[@]+"${failures[@]}"}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
