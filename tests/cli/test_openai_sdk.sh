#!/bin/bash
# `vkai serve` with the official openai npm SDK (tests/server/js/sdk.test.mjs). Usage: test_openai_sdk.sh path/to/vkai
set -u
exec bash tests/server/js/run.sh sdk.test.mjs "${1:?usage: test_openai_sdk.sh path/to/vkai}"
