# Sourced by the GPU-machine scripts (gpu_bench, gpu_tune, gpu_matvec, gpu_matmul, plan_bench): installs the
# Vulkan loader carried in .gl/, puts .gpu/lib (libcpp-httplib, from scripts/gpu_pack.sh) on the
# library path, points at the NVIDIA driver when the loader finds no device by itself, and sets
# B (the vkai binary), VOCAB (the synth vocab) and OUT (where results go). GPU_DIR names the carried
# folder (default .gpu; scripts/gpu_matmul.sh uses .gpu-mm).
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
GPU_DIR=${GPU_DIR:-.gpu}
export LD_LIBRARY_PATH=$PWD/$GPU_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
B=$GPU_DIR/vkai
VOCAB=$GPU_DIR/ggml-vocab-llama-spm.gguf
OUT=${OUT:-/tmp}
# synth_args NAME: the `vkai synth` arguments of the benchmark models (m7, q4b, l8); fails otherwise.
synth_args() {
    case $1 in
        m7) echo "--preset mistral-7b --type Q4_K_M" ;;
        q4b) echo "--preset qwen3-4b --type Q4_K_M" ;;
        l8) echo "--preset llama3-8b --type Q8_0" ;;
        *) echo "unknown model $1" >&2; return 1 ;;
    esac
}
if ! $B devices 2>/dev/null | grep -q '^vulkan0'; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
