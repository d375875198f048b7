# Sourced by the GPU-machine scripts (gpu_bench, gpu_tune, gpu_matvec, plan_bench): installs the
# Vulkan loader carried in .gl/, puts .gpu/lib (libcpp-httplib, from scripts/gpu_pack.sh) on the
# library path, points at the NVIDIA driver when the loader finds no device by itself, and sets
# B (the vkai binary), VOCAB (the synth vocab) and OUT (where results go).
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export LD_LIBRARY_PATH=$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
B=.gpu/vkai
VOCAB=.gpu/ggml-vocab-llama-spm.gguf
OUT=${OUT:-/tmp}
if ! $B devices 2>/dev/null | grep -q '^vulkan0'; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
