#!/usr/bin/env bash
# Installs every Debian 12 package vkai needs to build, test and run. Idempotent; run as root
# (or with sudo available). Nothing else is downloaded: all dependencies are Debian packages.
set -euo pipefail

PKGS=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config git python3
  clang libclang-rt-14-dev            # libFuzzer + sanitizer runtimes for the fuzz target
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # Vulkan: headers/loader, shader compiler, lavapipe (a real Vulkan driver on the CPU) for CI
  libvulkan-dev glslc mesa-vulkan-drivers vulkan-tools
  # server, CLI, media, tokenizers (later issues use them; installed now so one setup serves all)
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
  libpng-dev libpcre2-dev
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
