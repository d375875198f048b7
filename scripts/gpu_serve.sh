#!/bin/bash
# Runs on the GPU machine (set-up shared with scripts/gpu_bench.sh): vkai serve with 1 slot vs 8
# slots (vkai-bench-serve: 16 concurrent streaming clients over loopback HTTP, in-process server),
# on the 16 CPU cores (VNNI kernels and, for comparison, VKAI_CPU_VNNI=0) and on the H100 through
# Vulkan, for synth models of real shapes (default: q05 = qwen2.5-0.5b Q4_K_M, q4b = qwen3-4b Q4_K_M).
#   carry: .gl .gpu      run: bash scripts/gpu_serve.sh [q05 q4b m7]
# Output: one JSON line per run (the ratio 8 slots / 1 slot is runs[1].vs_first) and the same lines
# with the model and variant in $OUT/serve.jsonl.
set -u
source "$(dirname "$0")/gpu_env.sh"
S=.gpu/vkai-bench-serve
$B devices | grep -E '^(cpu|vulkan)|kernels' | head -6
models=("${@:-q05 q4b}")
serve() { # label, env assignments..., -- bench args...
    local label=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    env "${envs[@]}" timeout 280 $S -m "/tmp/$m.gguf" "$@" > /tmp/s.json 2> /tmp/s.err
    local rc=$?
    echo "$m $label $(tr -d '\n' < /tmp/s.json)"
    [ $rc -eq 0 ] || { echo "rc $rc"; tail -3 /tmp/s.err; return; }
    echo "{\"name\":\"$m\",\"variant\":\"$label\",\"r\":$(cat /tmp/s.json)}" >> "$OUT/serve.jsonl"
}
# shellcheck disable=SC2068
for m in ${models[@]}; do
    case $m in
        q05) args="--preset qwen2.5-0.5b --type Q4_K_M"; n=64 ;;
        q4b) args="--preset qwen3-4b --type Q4_K_M"; n=32 ;;
        m7) args="--preset mistral-7b --type Q4_K_M"; n=32 ;;
        *) echo "unknown model $m"; continue ;;
    esac
    # shellcheck disable=SC2086
    $B synth $args --vocab $VOCAB -o /tmp/$m.gguf 2>&1 | tail -1
    serve cpu16 VKAI_LOG=warn -- -c 16 -n "$n" -s 8 -t 16
    serve cpu16-novnni VKAI_CPU_VNNI=0 -- -c 16 -n "$n" -s 8 -t 16
    serve vulkan0 VKAI_LOG=warn -- -c 16 -n "$n" -s 8 -t 16 --device vulkan0
done
