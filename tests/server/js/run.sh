#!/bin/bash
# Runs one of the JS server tests: run.sh SCRIPT.mjs path/to/vkai. Used by tests/cli/test_web*.sh and
# tests/cli/test_openai_sdk*.sh. Missing node, npm packages or chromium is a FAILURE (CI runs
# scripts/setup.sh first, which installs them), never a skip.
set -u
script=${1:?usage: run.sh SCRIPT.mjs path/to/vkai}
vkai=${2:?usage: run.sh SCRIPT.mjs path/to/vkai}
dir=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*"; exit 1; }
command -v node > /dev/null || fail "node is not installed: run scripts/setup.sh"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 20 ] || fail "node $(node --version) is too old (need >= 20)"
for pkg in openai playwright-core; do
    [ -f "$dir/node_modules/$pkg/package.json" ] || fail "$dir/node_modules/$pkg is missing: run scripts/setup.sh (npm ci in tests/server/js)"
done
if [ "$script" = web.test.mjs ]; then
    [ -x "${VKAI_CHROMIUM:-/usr/bin/chromium}" ] || fail "chromium is not installed: run scripts/setup.sh"
fi
[ -x "$vkai" ] || fail "no vkai binary at $vkai"
exec node "$dir/$script" "$vkai"
