#!/bin/bash
# The built-in web page: its markdown renderer (unit + fuzz, no server), then the page served by
# `vkai serve` in headless Chromium (playwright-core). Usage: test_web.sh path/to/vkai
set -u
VKAI=${1:?usage: test_web.sh path/to/vkai}
bash tests/server/js/run.sh markdown.test.mjs "$VKAI" || exit 1
exec bash tests/server/js/run.sh web.test.mjs "$VKAI"
