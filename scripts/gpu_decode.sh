#!/bin/bash
# Runs on the GPU machine: decode. Correctness of the changed kernels on the real GPU (op tests),
# then, when .gpu-mm/base/ holds the binaries of an earlier commit (vkai, vkai-bench-vulkan-matvec),
# matrix-vector and 7B generation of base vs this tree in the same run; the norm and rope fusions
# (VKAI_VK_FUSE_NORM=0, VKAI_VK_FUSE_ROPE=0), the whisper decoder with and without split attention
# (VKAI_VK_ATTN_SPLIT=0), the wide-attention threshold (VKAI_VK_ATTN_WIDE_MIN=1), the whisper
# encoder, 10 minutes with 20 parallel windows, and the decoder's profile.
#   make the carry (here): bash scripts/gpu_decode.sh --pack
#       BUILD=dir reuses a Release -DVKAI_MEDIA=OFF build of this tree; BASE_REV=<commit> also builds
#       that commit (worktree in /tmp/vkai-base) for .gpu-mm/base/. Writes .gpu-pack/p.tgz (the
#       binaries gzipped: the carry limit is 64 MiB; add /.gpu-pack/ to .git/info/exclude).
#   carry: .gl .gpu-pack      run: bash scripts/gpu_decode.sh
set -u
cd "$(dirname "$0")/.."
G=.gpu-mm
if [ "${1:-}" = "--pack" ]; then
    BUILD=${BUILD:-build/gpu-mm}
    cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKAI_MEDIA=OFF > /dev/null
    cmake --build $BUILD --target vkai vkai-bench-whisper vkai-bench-vulkan-matvec test_vulkan_ops test_vulkan_whisper_ops || exit 1
    rm -rf $G && mkdir -p $G/lib $G/data/whisper
    if [ -n "${BASE_REV:-}" ]; then
        git worktree remove --force /tmp/vkai-base 2> /dev/null
        git worktree add --detach /tmp/vkai-base "$BASE_REV" > /dev/null || exit 1
        cmake -S /tmp/vkai-base -B /tmp/vkai-base/build -G Ninja -DCMAKE_BUILD_TYPE=Release -DVKAI_MEDIA=OFF -DVKAI_TESTS=OFF > /dev/null
        cmake --build /tmp/vkai-base/build --target vkai vkai-bench-vulkan-matvec || exit 1
        mkdir -p $G/base && cp /tmp/vkai-base/build/bin/{vkai,vkai-bench-vulkan-matvec} $G/base/
    fi
    cp $BUILD/bin/{vkai,vkai-bench-whisper,vkai-bench-vulkan-matvec,test_vulkan_ops,test_vulkan_whisper_ops} $G/
    strip $G/vkai* $G/test_* $G/base/* 2> /dev/null
    for l in libcpp-httplib.so.0.11 libbrotlidec.so.1 libbrotlienc.so.1 libbrotlicommon.so.1; do cp -L "/lib/x86_64-linux-gnu/$l" $G/lib/; done
    D=${VKAI_DATA:-../shared/data}
    cp "$D/vocab/ggml-vocab-llama-spm.gguf" $G/
    cp "$D/whisper/for-tests-ggml-tiny.bin" $G/data/whisper/
    mkdir -p .gpu-pack && tar -C $G -czf .gpu-pack/p.tgz . && du -sh .gpu-pack; exit 0
fi
if [ -f .gpu-pack/p.tgz ]; then mkdir -p $G && tar -C $G -xzf .gpu-pack/p.tgz; fi
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export LD_LIBRARY_PATH=$PWD/$G/lib VKAI_DATA=$PWD/$G/data
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
B=$G/vkai
W=$G/vkai-bench-whisper
echo "== op tests"
timeout 100 $G/test_vulkan_ops --gtest_brief=1 2>&1 | tail -2
timeout 60 $G/test_vulkan_whisper_ops --gtest_brief=1 2>&1 | tail -2
$W -m /tmp/turbo.bin --synth whisper-large-v3-turbo --vocab $G/data/whisper/for-tests-ggml-tiny.bin --device vulkan0 --reps 1 --tokens 8 --skip enc,dec,e2e 2>&1 | tail -1
$B synth --preset mistral-7b --type Q4_K_M --vocab $G/ggml-vocab-llama-spm.gguf -o /tmp/m7.gguf 2>&1 | tail -1
dec() { timeout 30 $W -m /tmp/turbo.bin --device vulkan0 --reps 1 --tokens 64 --skip enc,e2e --batch 1 2>&1 | grep -E '^decoder' | cut -c1-40; }
tg() { timeout 40 ${2:-$B} bench -m /tmp/m7.gguf -p 0 -n 128 -r 2 --device vulkan0 2>&1 | grep -E "^${1:-tg}" | cut -c1-30; }
if [ -x $G/base/vkai ]; then
    echo "== matrix-vector, base then this tree"
    timeout 120 $G/base/vkai-bench-vulkan-matvec --iters 100 2>&1 | tail -n 25
    timeout 120 $G/vkai-bench-vulkan-matvec --iters 100 2>&1 | tail -n 25
    echo "== 7B tg128: base | this tree | VKAI_VK_FUSE_NORM=0 | VKAI_VK_FUSE_ROPE=0"
    for i in 1 2; do echo "$(tg tg $G/base/vkai) | $(tg) | $(VKAI_VK_FUSE_NORM=0 tg) | $(VKAI_VK_FUSE_ROPE=0 tg)"; done
else
    echo "== 7B tg128"
    for i in 1 2; do tg; done
fi
echo "== whisper decoder: split attention | VKAI_VK_ATTN_SPLIT=0"
for i in 1 2; do echo "$(dec) | $(VKAI_VK_ATTN_SPLIT=0 dec)"; done
echo "== 7B tg128 with VKAI_VK_ATTN_WIDE_MIN=1"
VKAI_VK_ATTN_WIDE_MIN=1 tg
echo "== whisper encoder"
timeout 60 $W -m /tmp/turbo.bin --device vulkan0 --reps 3 --skip dec,e2e 2>&1 | grep -E "^encoder"
echo "== whisper 10 min, 20 parallel windows"
timeout 60 $W -m /tmp/turbo.bin --device vulkan0 --reps 1 --tokens 64 --batch 20 --minutes 10 --skip enc,dec 2>&1 | grep -E "end to end"
echo "== whisper decoder profile (one encoder pass included)"
VKAI_VK_PROFILE=1 timeout 30 $W -m /tmp/turbo.bin --device vulkan0 --reps 1 --tokens 64 --skip enc,e2e --batch 1 2>&1 | grep -A10 "submits" | tail -10
