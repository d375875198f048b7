#!/bin/bash
# Runs on the GPU machine: the many-column matmul paths (cooperative-matrix fast path, SIMT tiles,
# baseline) checked and timed. First the Vulkan op tests and the HF-golden forward tests on the
# real GPU (lavapipe cannot run cooperative matrices), then prompt processing (pp512) and
# generation (tg128) of synth models with VKAI_VK_COOPMAT=1/0 and VKAI_VK_BASELINE=1.
#   make the carry: bash scripts/gpu_matmul.sh --pack     (here; fills .gpu-mm/)
#   carry: .gl .gpu-mm      run: bash scripts/gpu_matmul.sh [m7 q4b l8]
set -u
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--pack" ]; then
    BUILD=${BUILD:-build/gpu-mm}
    cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKAI_MEDIA=OFF > /dev/null
    cmake --build $BUILD --target vkai test_vulkan_ops test_llm_golden_vulkan vkai-bench-serve vkai-bench-vulkan-matmul || exit 1
    mkdir -p .gpu-mm/lib
    cp $BUILD/bin/{vkai,test_vulkan_ops,test_llm_golden_vulkan,vkai-bench-serve,vkai-bench-vulkan-matmul} .gpu-mm/
    strip .gpu-mm/vkai* .gpu-mm/test_* 2> /dev/null
    for l in libcpp-httplib.so.0.11 libbrotlidec.so.1 libbrotlienc.so.1 libbrotlicommon.so.1; do cp -L "/lib/x86_64-linux-gnu/$l" .gpu-mm/lib/; done
    cp -n "${VKAI_DATA:-../shared/data}/vocab/ggml-vocab-llama-spm.gguf" .gpu-mm/
    du -sh .gpu-mm; exit 0
fi
GPU_DIR=.gpu-mm
source scripts/gpu_env.sh
$B devices | head -12
echo "== op tests (H100)"
timeout 240 .gpu-mm/test_vulkan_ops --gtest_brief=1 2>&1 | tail -15
echo "== golden forward tests (H100)"
timeout 120 .gpu-mm/test_llm_golden_vulkan --gtest_brief=1 2>&1 | tail -15
echo "== many-column matmul per shape (TFLOP/s), default and prefetching variant; compiled-shader stats"
for v in cm cmp; do VKAI_VK_CM=$v VKAI_VK_PIPE_STATS=mul_mat_cm timeout 90 .gpu-mm/vkai-bench-vulkan-matmul --iters 10 2>&1 | grep -E "_(q4_k|f16):|TFLOP|ERROR"; done
if [ -n "${PROFILE:-}" ]; then # where the GPU time goes: prompt (pp512) and decode (32 tokens) of the 7B
    [ -f /tmp/m7.gguf ] || $B synth --preset mistral-7b --type Q4_K_M --vocab $VOCAB -o /tmp/m7.gguf 2>&1 | tail -1
    VKAI_VK_PROFILE=1 timeout 120 $B bench -m /tmp/m7.gguf -p 512 -n 0 -r 1 --device vulkan0 2>&1 | grep -A20 "vulkan profile" | head -20
    VKAI_VK_PROFILE=1 timeout 120 $B bench -m /tmp/m7.gguf -p 0 -n 32 -r 1 --device vulkan0 2>&1 | grep -A20 "vulkan profile" | head -20
fi
models=("${@:-m7 q4b l8}")
# shellcheck disable=SC2068
for m in ${models[@]}; do
    args=$(synth_args "$m") || continue
    # shellcheck disable=SC2086
    [ -f /tmp/$m.gguf ] || $B synth $args --vocab $VOCAB -o /tmp/$m.gguf 2>&1 | tail -1
    for mode in cm simt baseline; do
        case $mode in
            cm) env="VKAI_VK_COOPMAT=1" ;;
            simt) env="VKAI_VK_COOPMAT=0" ;;
            baseline) env="VKAI_VK_BASELINE=1" ;;
        esac
        env $env timeout 150 $B bench -m /tmp/$m.gguf -p 512 -n 128 -r 1 --device vulkan0 --json > /tmp/b.json 2> /tmp/b.err
        rc=$?
        echo "$m $mode rc=$rc $(tr -d '\n' < /tmp/b.json)"
        [ $rc -eq 0 ] || tail -3 /tmp/b.err
        echo "{\"model\":\"$m\",\"mode\":\"$mode\",\"r\":$(cat /tmp/b.json)}" >> "$OUT/matmul.jsonl"
    done
done
