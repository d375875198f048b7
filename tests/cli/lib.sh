# Shared by the CLI tests (tests/cli/test_*.sh): counters, a temp dir, and the clean-failure check.
# Source it after setting VKAI. Every test ends with `finish`, which prints "N passed, M failed".
DATA=${VKAI_DATA:-../shared/data}
pass=0
failed=0
ok() { pass=$((pass + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# expect_clean_fail WHAT CMD...: non-zero exit (no signal), exactly one stderr line, no internal error.
expect_clean_fail() {
    local what=$1
    shift
    "$@" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    local lines
    lines=$(wc -l < "$tmp/err")
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || [ "$lines" -ne 1 ] || grep -q 'internal error' "$tmp/err"; then
        bad "$what: exit $rc, $lines stderr lines: $(head -c 300 "$tmp/err")"
    else ok; fi
}

finish() {
    echo "$pass passed, $failed failed"
    [ "$failed" -eq 0 ]
}
