#!/bin/bash
# `vkai serve` with Open WebUI's request shapes replayed (tests/server/js/owui.test.mjs). Usage: test_openai_sdk_owui.sh path/to/vkai
set -u
exec bash tests/server/js/run.sh owui.test.mjs "${1:?usage: test_openai_sdk_owui.sh path/to/vkai}"
