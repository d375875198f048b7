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
  curl                               # tests/cli/test_serve.sh talks to vkai serve with it
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
  ffmpeg                             # the CLI only makes test fixtures (tests/unit/test_audio_*); vkai decodes in-process
  libpng-dev libpcre2-dev
  zlib1g-dev                         # whisper's compression-ratio fallback rule (zlib, like the reference)
  chromium                           # the web UI test drives it headless (tests/server/js, playwright-core)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm packages of the JS server tests (openai SDK, playwright-core), pinned by package-lock.json.
# Needs node >= 20 (Debian 12's nodejs is 18). Skipped when node_modules matches the lock file.
JS=$(cd "$(dirname "$0")/.." && pwd)/tests/server/js
if ! command -v npm > /dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "setup: node >= 20 with npm not found: the JS server tests (tests/server/js) will fail"
elif cmp -s "$JS/package-lock.json" "$JS/node_modules/.vkai-lock"; then
  echo "setup: npm packages in tests/server/js are current"
else
  (cd "$JS" && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.vkai-lock)
fi
echo "setup: done"
