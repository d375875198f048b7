#!/bin/bash
# Runs on the GPU machine: vkai-bench-vulkan-matvec (carried in .gpu/), best and baseline paths.
#   carry: .gl .gpu
set -u
source "$(dirname "$0")/gpu_env.sh"
.gpu/vkai-bench-vulkan-matvec --iters 300 2>&1 | grep -v '^vulkan0'
VKAI_VK_BASELINE=1 .gpu/vkai-bench-vulkan-matvec --iters 300 2>&1 | grep -v '^vulkan0'
