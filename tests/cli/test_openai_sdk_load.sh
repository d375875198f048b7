#!/bin/bash
# `vkai serve` under 16 concurrent streaming clients: each output equals its single-client output
# (tests/server/js/load.test.mjs). Usage: test_openai_sdk_load.sh path/to/vkai
set -u
exec bash tests/server/js/run.sh load.test.mjs "${1:?usage: test_openai_sdk_load.sh path/to/vkai}"
