#!/bin/bash
# CLI test of the memory planner: `vkai plan` (table, --json, --vram, --ctx, a simulated GPU),
# -ngl auto on a real Vulkan device (lavapipe in CI), and the fallbacks under VKAI_FAULT: an
# allocation failure at load gives a smaller placement, a device loss at load or mid-generation
# finishes on the CPU; the text always equals the CPU's and the process exits 0.
# Usage: test_plan.sh path/to/vkai
set -u
VKAI=${1:?usage: test_plan.sh path/to/vkai}
MODEL=models/stories260K.gguf
MOE=tests/models/golden/qwen3moe.gguf
source "$(dirname "$0")/lib.sh"
json() { python3 -c "import json,sys; d=json.load(open('$1')); $2"; }

# table: every component with a device and bytes, the placement and the speed class
"$VKAI" plan -m $MODEL --device cpu > "$tmp/t" 2> "$tmp/err"
if [ $? -eq 0 ] && grep -q "^token embedding *cpu" "$tmp/t" && grep -q "^KV cache (2048 x f16) layers 0-4 *cpu" "$tmp/t" &&
    grep -q "^compute buffers (measured) *cpu" "$tmp/t" && grep -q "^expected speed class: cpu" "$tmp/t"; then ok; else bad "plan table: $(head -c 400 "$tmp/t") $(cat "$tmp/err")"; fi

# --json: nothing on a device without one; --ctx sets the context and the KV row scales with it
"$VKAI" plan -m $MODEL --device cpu --ctx 256 --json > "$tmp/j" 2>/dev/null
"$VKAI" plan -m $MODEL --device cpu --ctx 512 --json > "$tmp/j2" 2>/dev/null
kv() { json "$1" 'print([r["bytes"] for r in d["rows"] if r["component"].startswith("KV cache")][0])'; }
if json "$tmp/j" 'assert d["use_gpu"] is False and d["n_ctx"]==256 and d["speed_class"]=="cpu" and d["gpu_bytes"]==0; assert all(r["device"]=="cpu" for r in d["rows"]), d' &&
    [ "$(kv "$tmp/j2")" -eq $(( $(kv "$tmp/j") * 2 )) ]; then ok; else bad "plan --json: $(head -c 400 "$tmp/j")"; fi

# a simulated GPU (--vram without a GPU in use): plenty -> all layers; too little -> the CPU;
# the MoE golden with a budget just below "all", priced by bytes alone (VKAI_PLAN_RATES: round trips
# and calls free) -> every layer on the GPU, the last layer's experts on the CPU
"$VKAI" plan -m $MODEL --device cpu --vram 1G --json > "$tmp/j" 2>/dev/null
if json "$tmp/j" 'assert d["use_gpu"] and d["n_gpu_layers"]==5 and d["head_on_gpu"] and d["gpu_bytes"]<=d["gpu_usable"]<=d["gpu_cap"]==1<<30, d'; then ok; else bad "plan --vram 1G: $(head -c 400 "$tmp/j")"; fi
"$VKAI" plan -m $MODEL --device cpu --vram 100M --json > "$tmp/j" 2>/dev/null
if json "$tmp/j" 'assert not d["use_gpu"] and d["gpu_bytes"]==0, d'; then ok; else bad "plan --vram 100M: $(head -c 400 "$tmp/j")"; fi
export VKAI_PLAN_RATES=gpu_gbs=3000,cpu_gbs=50,gpu_op_us=0,cpu_op_us=0,rt_us=0,wake_us=0
"$VKAI" plan -m $MOE --device cpu --vram 1G --json > "$tmp/full.json" 2>/dev/null
full=$(json "$tmp/full.json" 'print(d["gpu_bytes"])')
# usable = vram - 256 MiB - 2%: pick vram so that usable is just below the full placement
vram=$(python3 -c "print(int(($full - 1 + (256<<20)) / 0.98))")
"$VKAI" plan -m $MOE --device cpu --vram "$vram" --json > "$tmp/j" 2>/dev/null
if json "$tmp/j" 'assert d["use_gpu"] and d["n_cpu_moe"]==1 and d["n_gpu_experts"]==1 and not d["cpu_moe"] and d["n_gpu_layers"]==d["n_layer"] and d["speed_class"]=="gpu+cpu-experts" and d["rates"]["source"]=="VKAI_PLAN_RATES", d'; then ok; else bad "plan MoE experts first: $(head -c 600 "$tmp/j")"; fi
# forced expert placement: --n-cpu-moe N and --cpu-moe, in the JSON and the table
"$VKAI" plan -m $MOE --device cpu --vram 1G --n-cpu-moe 1 --json > "$tmp/j" 2>/dev/null
if json "$tmp/j" 'assert d["n_cpu_moe"]==1 and d["n_gpu_experts"]==1 and d["n_gpu_layers"]==2 and len(d["alternatives"])==5 and d["estimate"]["tok_s"]>0, d'; then ok; else bad "plan --n-cpu-moe 1: $(head -c 600 "$tmp/j")"; fi
"$VKAI" plan -m $MOE --device cpu --vram 1G --cpu-moe > "$tmp/t" 2>/dev/null
if grep -q "^layers 0-1 experts *cpu" "$tmp/t" && grep -q "^placement: 2 of 2 layers on the GPU, their experts on the CPU" "$tmp/t" && grep -q "^  \* all experts on the CPU (--cpu-moe)" "$tmp/t"; then ok; else bad "plan --cpu-moe table: $(cat "$tmp/t")"; fi
unset VKAI_PLAN_RATES

# bad input: one clean line
expect_clean_fail "plan without -m" "$VKAI" plan
expect_clean_fail "plan bad --vram" "$VKAI" plan -m $MODEL --vram lots
expect_clean_fail "plan bad --ctx" "$VKAI" plan -m $MODEL --ctx 0
expect_clean_fail "plan bad --ctx-floor" "$VKAI" plan -m $MODEL --ctx-floor -3
expect_clean_fail "plan bad -ngl" "$VKAI" plan -m $MODEL -ngl many
expect_clean_fail "plan --cpu-moe and --n-cpu-moe" "$VKAI" plan -m $MOE --cpu-moe --n-cpu-moe 1
expect_clean_fail "plan bad --n-cpu-moe" "$VKAI" plan -m $MOE --n-cpu-moe -2
VKAI_PLAN_RATES=rt_us=fast expect_clean_fail "plan bad VKAI_PLAN_RATES" "$VKAI" plan -m $MOE --device cpu --vram 1G
expect_clean_fail "plan missing file" "$VKAI" plan -m /nonexistent.gguf
expect_clean_fail "run bad --vram" "$VKAI" run -m $MODEL -p hi --vram 12Q

if "$VKAI" devices 2>/dev/null | grep -q "^vulkan0"; then
    run() { "$VKAI" run -m $MODEL -p "Once upon a time" -n 24 --temp 0 "$@"; }
    run --device cpu > "$tmp/cpu" 2>/dev/null
    # the plan on a real device, -ngl auto (the default) and as the table says
    "$VKAI" plan -m $MODEL --device vulkan0 --json > "$tmp/j" 2>/dev/null
    if json "$tmp/j" 'assert d["device"]=="vulkan0" and d["n_gpu_layers"]==5 and 0 < d["gpu_free"], d'; then ok; else bad "plan vulkan0: $(head -c 300 "$tmp/j")"; fi
    run --device vulkan0 > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "^plan: 5 of 5 layers on vulkan0" "$tmp/err"; then ok; else bad "run -ngl auto: $(cat "$tmp/err")"; fi
    # explicit -ngl still works
    run --device vulkan0 -ngl 2 > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "2 of 5 layers on it" "$tmp/err"; then ok; else bad "run -ngl 2: $(cat "$tmp/err")"; fi
    # MoE experts of the last layer on the CPU, the rest on the GPU: the CPU's text
    "$VKAI" run -m $MOE -p "Once upon a time" -n 12 --temp 0 --device cpu > "$tmp/moecpu" 2>/dev/null
    "$VKAI" run -m $MOE -p "Once upon a time" -n 12 --temp 0 --device vulkan0 --n-cpu-moe 1 > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/moecpu" "$tmp/vk" && grep -q "experts of layers 1-1 on the cpu" "$tmp/err" && grep -q "experts of 1 layers on it" "$tmp/err"; then ok; else bad "run --n-cpu-moe 1: $(cat "$tmp/err")"; fi
    # --vram too small for anything: the plan loads on the CPU
    run --device vulkan0 --vram 64M > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "^device: cpu .*plan: not even one layer" "$tmp/err"; then ok; else bad "run --vram 64M: $(cat "$tmp/err")"; fi
    # injected allocation failure at load: re-planned smaller, same text
    VKAI_FAULT=alloc:1 run --device vulkan0 > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "re-planning below" "$tmp/err" && grep -q "^device: vulkan0 .*4 of 5 layers" "$tmp/err"; then ok; else bad "alloc fault: $(cat "$tmp/err")"; fi
    # injected device loss at load: loads on the CPU
    VKAI_FAULT=lost:1 run --device vulkan0 > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "^device: cpu .*vulkan0 failed at load" "$tmp/err"; then ok; else bad "lost at load: $(cat "$tmp/err")"; fi
    # injected device loss during generation: the request finishes on the CPU
    VKAI_FAULT=lost:12 run --device vulkan0 > "$tmp/vk" 2> "$tmp/err"
    if [ $? -eq 0 ] && cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "request served by the cpu after a fault on vulkan0" "$tmp/err"; then ok; else bad "lost mid-generation: $(cat "$tmp/err")"; fi
else
    echo "note: no Vulkan device; device plan and fault injection skipped"
fi

finish
