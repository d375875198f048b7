#!/bin/bash
# Runs on the GPU machine (see scripts/gpu_bench.sh for the set-up it shares): decode speed with
# early submits on (default), off and every 32 dispatches, plus one profiled run (time per op
# kind), for the synth models named (default: m7 l8).
#   carry: .gl .gpu      run: bash scripts/gpu_tune.sh [m7 q4b l8]
set -u
source "$(dirname "$0")/gpu_env.sh"
models=("${@:-m7 l8}")
tg() { # label, env...: one tg run, prints "label tok/s"
    local label=$1; shift
    env "$@" timeout 120 $B bench -m /tmp/$m.gguf -p 32 -n 128 -r 1 --device vulkan0 --json > /tmp/t.json 2> /tmp/t.err || { echo "$m $label failed"; tail -2 /tmp/t.err; return; }
    echo "$m $label $(tr -d '\n' < /tmp/t.json)"
    echo "{\"model\":\"$m\",\"label\":\"$label\",\"r\":$(cat /tmp/t.json)}" >> "$OUT/tune.jsonl"
}
# shellcheck disable=SC2068
for m in ${models[@]}; do
    args=$(synth_args "$m") || continue
    # shellcheck disable=SC2086
    [ -f /tmp/$m.gguf ] || $B synth $args --vocab $VOCAB -o /tmp/$m.gguf 2>&1 | tail -1
    tg default
    tg nosubmit VKAI_VK_SUBMIT_EVERY=0
    tg submit32 VKAI_VK_SUBMIT_EVERY=32
    VKAI_VK_PROFILE=1 timeout 120 $B bench -m /tmp/$m.gguf -p 32 -n 32 -r 1 --device vulkan0 2>&1 | grep -A30 "vulkan profile" | head -30
done
