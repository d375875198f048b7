#!/bin/bash
# `vkai serve` /v1/audio/* with the official openai npm SDK (tests/server/js/audio.test.mjs): a whisper
# GGUF made by `vkai synth` beside stories260K. Usage: test_openai_sdk_audio.sh path/to/vkai
set -u
exec bash tests/server/js/run.sh audio.test.mjs "${1:?usage: test_openai_sdk_audio.sh path/to/vkai}"
