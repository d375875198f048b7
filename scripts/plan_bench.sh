#!/bin/bash
# GPU-machine acceptance run of the memory planner (issue 6): with --vram 8G on a big card, for
# synth models of the issue's shapes, compare the plan (vkai plan) with what vkai really holds on
# the device after load (its allocator, logged as held_bytes) and with nvidia-smi's peak, run
# `vkai bench` with -ngl auto and with hand-chosen -ngl values around the plan's, and log tok/s.
#   carry: .gl .gpu (vkai + ggml-vocab-llama-spm.gguf, as scripts/gpu_bench.sh)
#   run:   bash scripts/plan_bench.sh [m7 l8 n12 q30]   (default: m7 l8 n12; q30 alone: its synth
#          is ~18 GB and takes minutes, so give it its own call within the 10-minute limit)
# Output: one line per run, JSON lines in $OUT/plan_bench.jsonl, the plans in $OUT/plan_<m>.json.
set -u
source "$(dirname "$0")/gpu_env.sh"
VRAM=${VRAM:-8G}
$B devices | head -4
have_smi=0
command -v nvidia-smi > /dev/null && have_smi=1

# bench_one NAME MODEL MODE ARGS...: one bench run; prints and appends a JSON line with the plan,
# the bytes vkai held after load, nvidia-smi's peak (MiB, whole process incl. driver), tok/s.
bench_one() {
    local name=$1 model=$2 mode=$3
    shift 3
    local smi_pid=""
    if [ $have_smi -eq 1 ]; then
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > /tmp/smi.log 2>/dev/null &
        smi_pid=$!
    fi
    local base
    base=$( [ $have_smi -eq 1 ] && nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1 || echo 0)
    timeout 300 $B bench -m "$model" -p 512 -n 128 -r 1 --device vulkan0 --vram "$VRAM" --json "$@" > /tmp/pb.json 2> /tmp/pb.err
    local rc=$?
    [ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null && wait "$smi_pid" 2>/dev/null
    local peak=0
    [ $have_smi -eq 1 ] && peak=$(sort -n /tmp/smi.log | tail -1)
    local held plan ngl retried
    held=$(sed -n 's/.*held_bytes=\([0-9]*\).*/\1/p' /tmp/pb.err | tail -1)
    plan=$(sed -n 's/.*plan_bytes=\([0-9]*\).*/\1/p' /tmp/pb.err | tail -1)
    ngl=$(sed -n 's/^device: vulkan0 .*), \([0-9]*\) of .*/\1/p' /tmp/pb.err | tail -1)
    retried=$(grep -c "re-planning below" /tmp/pb.err)
    echo "== $name $mode: rc $rc, ngl ${ngl:-cpu}, held ${held:-0} B, plan ${plan:-0} B, smi peak ${peak} MiB (base $base), retries $retried"
    [ $rc -eq 0 ] || tail -3 /tmp/pb.err | sed "s/^/   err: /"
    cat /tmp/pb.json
    if [ $rc -eq 0 ]; then
        sed "s/^{/{\"name\": \"$name\", \"mode\": \"$mode\", \"vram\": \"$VRAM\", \"ngl_used\": ${ngl:-0}, \"held_bytes\": ${held:-0}, \"plan_bytes\": ${plan:-0}, \"smi_peak_mib\": ${peak:-0}, \"smi_base_mib\": ${base:-0}, \"load_retries\": $retried, /" /tmp/pb.json >> "$OUT/plan_bench.jsonl"
    fi
}

models=("${@:-m7 l8 n12}")
# shellcheck disable=SC2068
for m in ${models[@]}; do
    case $m in
        m7) args="--preset mistral-7b --type Q4_K_M" ;;
        l8) args="--preset llama3-8b --type Q8_0" ;;
        n12) args="--preset mistral-nemo-12b --type Q4_K_M" ;;
        q30) args="--preset qwen3-30b-a3b --type Q4_K_M" ;;
        *) echo "unknown model $m"; continue ;;
    esac
    f=/tmp/$m.gguf
    # shellcheck disable=SC2086
    [ -f $f ] || $B synth $args --vocab $VOCAB -o $f 2>&1 | tail -1
    $B plan -m $f --vram "$VRAM" --device vulkan0 | tee "$OUT/plan_$m.txt"
    $B plan -m $f --vram "$VRAM" --device vulkan0 --json > "$OUT/plan_$m.json"
    pngl=$(python3 -c "import json; print(json.load(open('$OUT/plan_$m.json'))['n_gpu_layers'])")
    nl=$(python3 -c "import json; print(json.load(open('$OUT/plan_$m.json'))['n_layer'])")
    bench_one $m $f auto
    # hand-chosen -ngl around the plan's (over-budget ones are re-planned at load: see retries)
    for d in -4 -2 -1 1 2; do
        n=$((pngl + d))
        [ $n -ge 1 ] && [ $n -le "$nl" ] && bench_one $m $f "ngl=$n" -ngl $n
    done
    if [ "$m" = q30 ]; then
        bench_one $m $f "cpu-moe ngl=all" --cpu-moe -ngl "$nl"
    fi
    # kept: a later call in the same session reuses it (all four: ~39 GB of the 64 GB disk)
done
