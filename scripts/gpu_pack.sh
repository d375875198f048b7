#!/bin/bash
# Fills .gpu/ (ignored) with what the GPU-machine scripts carry: a vkai built without FFmpeg
# (-DVKAI_MEDIA=OFF: the GPU machine runs Ubuntu and has none of Debian's FFmpeg libraries), the
# Vulkan matvec and serve (scripts/gpu_serve.sh) benchmarks, Debian's libcpp-httplib with the
# brotli libraries it needs (in .gpu/lib, found through LD_LIBRARY_PATH by the scripts), and the
# llama-spm vocab for synth models.
# The Vulkan loader debs go in .gl/ (see ../shared/docs/gpu-machine.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKAI_MEDIA=OFF -DVKAI_TESTS=OFF > /dev/null
cmake --build build/gpu --target vkai vkai-bench-vulkan-matvec vkai-bench-serve
mkdir -p .gpu/lib
cp build/gpu/bin/vkai build/gpu/bin/vkai-bench-vulkan-matvec build/gpu/bin/vkai-bench-serve .gpu/
for l in libcpp-httplib.so.0.11 libbrotlidec.so.1 libbrotlienc.so.1 libbrotlicommon.so.1; do cp -L "/lib/x86_64-linux-gnu/$l" .gpu/lib/; done
cp -n "${VKAI_DATA:-../shared/data}/vocab/ggml-vocab-llama-spm.gguf" .gpu/ 2>/dev/null || true
du -sh .gpu
