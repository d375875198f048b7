#!/bin/bash
# GPU-machine acceptance run of the memory planner (issue 6): with --vram 8G on a big card, for
# synth models of the issue's shapes, compare the plan (vkai plan) with what vkai really holds on
# the device after load (its allocator, logged as held_bytes) and with nvidia-smi's peak, run
# `vkai bench` with -ngl auto and with hand-chosen placements, and log tok/s beside the plan's
# estimate of each placement.
#   carry: .gl .gpu (vkai + ggml-vocab-llama-spm.gguf, made by scripts/gpu_pack.sh)
#   run:   bash scripts/plan_bench.sh [m7 l8 n12 q30-synth q30]   (default: m7 l8 n12)
#          q30-synth makes the ~18 GB qwen3-30b-a3b file (minutes: its own call); q30 then needs it
#          in /tmp (the same warm machine) and runs the MoE sweep: auto, --cpu-moe, --n-cpu-moe K
#          for K around the plan's, -ngl N around the best whole-layer split, -ngl 0 (CPU only).
#          Q30_MODES="auto ncm:30 ngl:18 ..." runs a subset (modes: auto, cpu-moe, ncm:K, ngl:N);
#          Q30_PART=1 / Q30_PART=2 runs the first / second half of the default list (one call each).
# Output: one line per run, JSON lines in $OUT/plan_bench.jsonl, the plans in $OUT/plan_<m>*.json|txt.
# The smi peak of a `vkai bench` run includes bench's read-bandwidth probe at its end (a temporary
# buffer of min(1 GiB, free / 4)); "run peak" is nvidia-smi's peak over a `vkai run` of the same
# placement, which has no probe: the number to hold against the plan.
set -u
source "$(dirname "$0")/gpu_env.sh"
VRAM=${VRAM:-8G}
$B devices | head -4
have_smi=0
command -v nvidia-smi > /dev/null && have_smi=1

smi_start() {
    smi_pid=""
    [ $have_smi -eq 1 ] || return
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > /tmp/smi.log 2>/dev/null &
    smi_pid=$!
}
smi_stop() { # prints the peak in MiB
    [ -n "$smi_pid" ] && kill "$smi_pid" 2>/dev/null && wait "$smi_pid" 2>/dev/null
    if [ $have_smi -eq 1 ]; then sort -n /tmp/smi.log | tail -1; else echo 0; fi
}
smi_base() { if [ $have_smi -eq 1 ]; then nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1; else echo 0; fi; }

# bench_one NAME MODEL MODE ARGS...: the plan's estimate for the placement, one bench run, and for
# MoE runs a `vkai run` for the peak without bench's probe; prints and appends a JSON line.
bench_one() {
    local name=$1 model=$2 mode=$3
    shift 3
    local est
    est=$($B plan -m "$model" --vram "$VRAM" --device vulkan0 --ctx 528 --json "$@" 2>/dev/null |
        python3 -c "import json,sys; d=json.load(sys.stdin); print(d['estimate']['tok_s'], d['n_gpu_layers'], d['n_gpu_experts'], d['gpu_bytes'])" 2>/dev/null || echo "0 0 0 0")
    local base
    base=$(smi_base)
    smi_start
    timeout 400 $B bench -m "$model" -p 512 -n 128 -r 1 --device vulkan0 --vram "$VRAM" --json "$@" > /tmp/pb.json 2> /tmp/pb.err
    local rc=$?
    local peak
    peak=$(smi_stop)
    local held plan ngl nge retried
    held=$(sed -n 's/.*held_bytes=\([0-9]*\).*/\1/p' /tmp/pb.err | tail -1)
    plan=$(sed -n 's/.*plan_bytes=\([0-9]*\).*/\1/p' /tmp/pb.err | tail -1)
    ngl=$(sed -n 's/^device: vulkan0 .*), \([0-9]*\) of .*/\1/p' /tmp/pb.err | tail -1)
    nge=$(sed -n 's/^device: vulkan0 .*; experts of \([0-9]*\) layers on it.*/\1/p' /tmp/pb.err | tail -1)
    retried=$(grep -c "re-planning below" /tmp/pb.err)
    local run_peak=0
    if [ "$name" = q30 ] && [ $rc -eq 0 ] && [ $have_smi -eq 1 ]; then
        smi_start
        timeout 200 $B run -m "$model" -p "Once upon a time" -n 32 --temp 0 -c 528 --device vulkan0 --vram "$VRAM" "$@" > /dev/null 2> /tmp/pr.err
        run_peak=$(smi_stop)
    fi
    echo "== $name $mode: rc $rc, ngl ${ngl:-cpu}, expert layers on gpu ${nge:--}, held ${held:-0} B, plan ${plan:-0} B, smi peak ${peak} MiB (run peak ${run_peak}, base $base), retries $retried, plan estimate $est"
    grep "^plan: rates\|^plan: [0-9]* of" /tmp/pb.err | head -2 | sed "s/^/   /"
    [ $rc -eq 0 ] || tail -3 /tmp/pb.err | sed "s/^/   err: /"
    cat /tmp/pb.json
    if [ $rc -eq 0 ]; then
        read -r est_tok est_ngl est_nge est_bytes <<< "$est"
        sed "s/^{/{\"name\": \"$name\", \"mode\": \"$mode\", \"vram\": \"$VRAM\", \"ngl_used\": ${ngl:-0}, \"gpu_expert_layers\": ${nge:-0}, \"held_bytes\": ${held:-0}, \"plan_bytes\": ${plan:-0}, \"smi_peak_mib\": ${peak:-0}, \"run_peak_mib\": ${run_peak:-0}, \"smi_base_mib\": ${base:-0}, \"load_retries\": $retried, \"est_tok_s\": ${est_tok:-0}, \"est_ngl\": ${est_ngl:-0}, \"est_gpu_experts\": ${est_nge:-0}, /" /tmp/pb.json >> "$OUT/plan_bench.jsonl"
    fi
}

synth() { # synth NAME ARGS...
    local f=/tmp/$1.gguf
    shift
    # shellcheck disable=SC2068
    [ -f "$f" ] || $B synth $@ --vocab "$VOCAB" -o "$f" 2>&1 | tail -1
}

dense() { # dense NAME: plan, auto, hand-chosen -ngl around the plan's
    local m=$1 f=/tmp/$1.gguf
    $B plan -m "$f" --vram "$VRAM" --device vulkan0 | tee "$OUT/plan_$m.txt"
    $B plan -m "$f" --vram "$VRAM" --device vulkan0 --json > "$OUT/plan_$m.json"
    local pngl nl
    pngl=$(python3 -c "import json; print(json.load(open('$OUT/plan_$m.json'))['n_gpu_layers'])")
    nl=$(python3 -c "import json; print(json.load(open('$OUT/plan_$m.json'))['n_layer'])")
    bench_one "$m" "$f" auto
    # over-budget ones are re-planned at load: see retries
    for d in -4 -2 -1 1 2; do
        local n=$((pngl + d))
        [ $n -ge 1 ] && [ $n -le "$nl" ] && bench_one "$m" "$f" "ngl=$n" -ngl $n
    done
}

moe() { # the qwen3-30b-a3b sweep; the plan at bench's context (528: -p 512 -n 128 + 16)
    local m=q30 f=/tmp/q30.gguf
    [ -f $f ] || { echo "q30: /tmp/q30.gguf is missing: run 'bash scripts/plan_bench.sh q30-synth' first"; return; }
    $B plan -m $f --vram "$VRAM" --device vulkan0 --ctx 528 | tee "$OUT/plan_q30.txt"
    $B plan -m $f --vram "$VRAM" --device vulkan0 --ctx 528 --json > "$OUT/plan_q30.json"
    local modes=${Q30_MODES:-}
    if [ -z "$modes" ]; then
        # K around the smallest that fits (the plan's "experts of the last K layers" row), the best
        # whole-layer split and 2 around it, all experts on the CPU, CPU only
        modes=$(python3 - "$OUT/plan_q30.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
n = d["n_layer"]
alts = {a["label"].split(" (")[0]: a for a in d["alternatives"]}
ks = set()
k0 = next((a["n_cpu_moe"] for a in d["alternatives"] if a["label"].startswith("experts of the last")), n // 2)
for dk in (0, 2, 4, 8, 16):
    if 1 <= k0 + dk < n: ks.add(k0 + dk)
if d["n_gpu_layers"] == n and 0 < d["n_cpu_moe"] < n: ks.add(d["n_cpu_moe"])
g0 = next((a["n_gpu_layers"] for a in d["alternatives"] if a["label"].startswith("whole layers")), n // 3)
gs = {g for g in (g0 - 2, g0, g0 + 2) if 1 <= g < n}
print(" ".join(["auto", "cpu-moe"] + ["ncm:%d" % k for k in sorted(ks)] + ["ngl:%d" % g for g in sorted(gs)] + ["ngl:0"]))
EOF
)
    fi
    if [ -n "${Q30_PART:-}" ]; then # 1 or 2: that half of the list (the whole sweep may pass 10 minutes)
        # shellcheck disable=SC2086
        set -- $modes
        local half=$((($# + 1) / 2))
        if [ "$Q30_PART" = 1 ]; then modes="${*:1:$half}"; else modes="${*:$((half + 1))}"; fi
    fi
    echo "q30 modes: $modes"
    for mode in $modes; do
        case $mode in
            auto) bench_one $m $f auto ;;
            cpu-moe) bench_one $m $f cpu-moe --cpu-moe ;;
            ncm:*) bench_one $m $f "n-cpu-moe=${mode#ncm:}" --n-cpu-moe "${mode#ncm:}" ;;
            ngl:*) bench_one $m $f "ngl=${mode#ngl:}" -ngl "${mode#ngl:}" ;;
            *) echo "unknown mode $mode" ;;
        esac
    done
    # summary: measured against the plan's estimate, best hand-chosen against auto
    python3 - "$OUT/plan_bench.jsonl" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if '"name": "q30"' in l]
if not rows: sys.exit()
print("%-16s %8s %8s %9s %9s %9s %9s" % ("mode", "pp512", "tg128", "est tg", "held MiB", "smi MiB", "run MiB"))
for r in rows:
    print("%-16s %8.1f %8.1f %9.1f %9.0f %9s %9s" % (r["mode"], r["pp_tok_s"], r["tg_tok_s"], r["est_tok_s"], r["held_bytes"] / 2**20, r["smi_peak_mib"], r["run_peak_mib"]))
auto = [r for r in rows if r["mode"] == "auto"]
hand = [r for r in rows if r["mode"] != "auto"]
if auto and hand:
    best = max(hand, key=lambda r: r["tg_tok_s"])
    print("auto tg128 %.1f = %.1f%% of the best hand-chosen (%s, %.1f)" % (auto[-1]["tg_tok_s"], 100 * auto[-1]["tg_tok_s"] / best["tg_tok_s"], best["mode"], best["tg_tok_s"]))
EOF
}

models=("${@:-m7 l8 n12}")
# shellcheck disable=SC2068
for m in ${models[@]}; do
    case $m in
        m7) synth m7 --preset mistral-7b --type Q4_K_M && dense m7 ;;
        l8) synth l8 --preset llama3-8b --type Q8_0 && dense l8 ;;
        n12) synth n12 --preset mistral-nemo-12b --type Q4_K_M && dense n12 ;;
        q30-synth) synth q30 --preset qwen3-30b-a3b --type Q4_K_M; ls -la /tmp/q30.gguf ;;
        q30) moe ;;
        *) echo "unknown model $m" ;;
    esac
    # files are kept: a later call in the same session reuses them (all four: ~39 GB of the 64 GB disk)
done
