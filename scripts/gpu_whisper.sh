#!/bin/bash
# Runs on the GPU machine (../shared/docs/gpu-machine.md): whisper on Vulkan. First the whisper op
# tests and the HF goldens on the real GPU (lavapipe runs them in CI, but cannot catch a missing
# barrier), then vkai-bench-whisper on synth large-v3-turbo shapes: encoder ms per window, decoder
# ms per token, a 10-minute input end to end (sequential and 20 parallel windows), beside the FMA and
# read-bandwidth ceilings of the same run; best path, the old attention kernels, forced baseline
# (VKAI_VK_BASELINE=1), a per-op profile, and the CPU encoder on the 16 cores.
#   make the carry: bash scripts/gpu_whisper.sh --pack     (here; fills .gpu-whisper/)
#   carry: .gl .gpu-whisper      run: bash scripts/gpu_whisper.sh [quick]
# Output: text on stdout and JSON lines in $OUT/whisper.jsonl.
set -u
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--pack" ]; then
    # These three link no FFmpeg and no httplib: a normal build folder serves (default: the helper's).
    BUILD=${BUILD:-build/h-whisper}
    cmake --build $BUILD -j2 --target vkai-bench-whisper test_vulkan_whisper_ops test_whisper_golden || exit 1
    mkdir -p .gpu-whisper/lib .gpu-whisper/data/whisper
    cp $BUILD/bin/{vkai-bench-whisper,test_vulkan_whisper_ops,test_whisper_golden} .gpu-whisper/
    cp -L /lib/x86_64-linux-gnu/libpcre2-8.so.0 .gpu-whisper/lib/
    cp "${VKAI_DATA:-../shared/data}"/whisper/{for-tests-ggml-tiny.bin,jfk.wav} .gpu-whisper/data/whisper/
    strip .gpu-whisper/vkai-bench-whisper .gpu-whisper/test_* 2> /dev/null
    du -sh .gpu-whisper; exit 0
fi
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export LD_LIBRARY_PATH=$PWD/.gpu-whisper/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VKAI_DATA=$PWD/.gpu-whisper/data
G=.gpu-whisper
OUT=${OUT:-/tmp}
vulkaninfo --summary 2> /dev/null | grep -qi nvidia || export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader 2> /dev/null
echo "== whisper op tests and goldens (H100)"
timeout 120 $G/test_vulkan_whisper_ops --gtest_brief=1 2>&1 | tail -4
timeout 120 $G/test_whisper_golden --gtest_brief=1 2>&1 | grep -E "NMSE|PASSED|FAILED|Failure" | grep -v " on cpu" | head -30
M=/tmp/turbo.bin
SYNTH="--synth whisper-large-v3-turbo --vocab $G/data/whisper/for-tests-ggml-tiny.bin" # the first run writes $M
bench() { # LABEL ENV... -- ARGS...
    local label=$1
    shift
    echo "== $label"
    env "$@" --json > /tmp/wb.txt 2> /tmp/wb.err
    local rc=$?
    grep -v '^{' /tmp/wb.txt
    [ $rc -eq 0 ] || { echo "rc $rc"; tail -5 /tmp/wb.err; }
    grep '^{' /tmp/wb.txt | sed "s/^{/{\"label\": \"$label\", /" >> "$OUT/whisper.jsonl"
}
if [ "${1:-}" = "quick" ]; then # the best path and the encoder's per-op profile only
    bench "vulkan best" timeout 240 $G/vkai-bench-whisper -m $M $SYNTH --device vulkan0 --reps 5 --tokens 128 --minutes 10 --batch 20
    echo "== encoder per-op profile, 2 windows"
    VKAI_VK_PROFILE=1 timeout 100 $G/vkai-bench-whisper -m $M --device vulkan0 --reps 1 --skip dec,e2e --batch 1 2>&1 | tail -9
    exit 0
fi
bench "vulkan best" timeout 240 $G/vkai-bench-whisper -m $M $SYNTH --device vulkan0 --reps 5 --tokens 128 --minutes 10 --batch 20
bench "vulkan best, old attention kernels" VKAI_VK_ATTN_TILED=0 VKAI_VK_ATTN_WIDE=0 timeout 100 $G/vkai-bench-whisper -m $M --device vulkan0 --reps 2 --tokens 64 --minutes 0 --batch 1
bench "vulkan baseline" VKAI_VK_BASELINE=1 timeout 150 $G/vkai-bench-whisper -m $M --device vulkan0 --reps 3 --tokens 64 --minutes 0 --batch 8
echo "== encoder per-op profile, 2 windows (VKAI_VK_PROFILE=1: submits only at sync, so times are per op, not the total)"
VKAI_VK_PROFILE=1 timeout 100 $G/vkai-bench-whisper -m $M --device vulkan0 --reps 1 --skip dec,e2e --batch 1 2>&1 | tail -16
bench "cpu 16 threads" timeout 150 $G/vkai-bench-whisper -m $M --device cpu -t 16 --reps 1 --tokens 16 --minutes 0 --batch 1
