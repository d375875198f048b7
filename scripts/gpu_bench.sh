#!/bin/bash
# Runs on the GPU machine (see ../shared/docs/gpu-machine.md): installs the Vulkan loader carried in
# .gl/, then benchmarks vkai (carried in .gpu/ with a vocab GGUF) on synth models of the issue's
# shapes, in the normal and the forced-baseline (VKAI_VK_BASELINE=1) Vulkan paths.
#   carry: .gl .gpu      run: bash scripts/gpu_bench.sh [MODELS...]   (default: m7 q4b l8)
# Output: one line per run and JSON lines in $OUT/bench.jsonl.
set -u
source "$(dirname "$0")/gpu_env.sh"
$B devices | head -8
models=("${@:-m7 q4b l8}")
# shellcheck disable=SC2068
for m in ${models[@]}; do
    args=$(synth_args "$m") || continue
    # shellcheck disable=SC2086
    $B synth $args --vocab $VOCAB -o /tmp/$m.gguf 2>&1 | tail -1
    for base in 0 1; do
        echo "== $m baseline=$base"
        VKAI_VK_BASELINE=$base timeout 150 $B bench -m /tmp/$m.gguf -p 512 -n 128 -r 1 --device vulkan0 --json > /tmp/b.json 2> /tmp/b.err
        rc=$?
        cat /tmp/b.json
        [ $rc -eq 0 ] || { echo "rc $rc"; tail -3 /tmp/b.err; }
        sed "s/^{/{\"name\": \"$m\", \"baseline\": $base, /" /tmp/b.json >> "$OUT/bench.jsonl"
    done
done
