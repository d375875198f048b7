#!/bin/bash
# Runs on the GPU machine: vkai-bench-vulkan-matvec (carried in .gpu/), best and baseline paths.
#   carry: .gl .gpu
set -u
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export LD_LIBRARY_PATH=$PWD/.gpu/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} # libcpp-httplib (scripts/gpu_pack.sh)
if ! .gpu/vkai devices 2>/dev/null | grep -q '^vulkan0'; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
.gpu/vkai-bench-vulkan-matvec --iters 300 2>&1 | grep -v '^vulkan0'
VKAI_VK_BASELINE=1 .gpu/vkai-bench-vulkan-matvec --iters 300 2>&1 | grep -v '^vulkan0'
