#!/bin/bash
# Builds the libFuzzer targets (CMake preset "fuzz", build dir build/fuzz) and runs each for SECONDS
# (default 30): fuzz_gguf from small GGUF files, fuzz_jinja from the real chat templates, and
# fuzz_tokenizer from vocab files and text, fuzz_audio from short clips (made with the ffmpeg CLI). Exits non-zero on a crash, leak,
# timeout or oversized allocation; the crashing input is saved under build/fuzz/artifacts/.
# Usage: scripts/fuzz.sh [SECONDS]     env: VKAI_DATA (default ../shared/data), JOBS (build jobs)
set -euo pipefail
SECONDS_TO_RUN=${1:-30}
cd "$(dirname "$0")/.."
DATA=${VKAI_DATA:-../shared/data}

cmake --preset fuzz > /dev/null
cmake --build build/fuzz --target fuzz_gguf fuzz_jinja fuzz_tokenizer fuzz_audio -j"${JOBS:-2}"

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
# Real files: a small model (tensors, quant types) and a vocab (long string arrays).
for f in llm/stories260K-Q2_K.gguf vocab/ggml-vocab-bert-bge.gguf; do
    [ -f "$DATA/$f" ] && cp "$DATA/$f" "$corpus/"
done
# Tiny hand-made seeds: every value type, nested arrays, alignment 64, several tensor types.
python3 - "$corpus" << 'EOF'
import struct, sys, os
d = sys.argv[1]
def s(b): return struct.pack('<Q', len(b)) + b
def kv(key, t, payload): return s(key) + struct.pack('<I', t) + payload
def gguf(kvs, tensors, align=32, datas=()):
    out = b'GGUF' + struct.pack('<IQQ', 3, len(tensors), len(kvs)) + b''.join(kvs) + b''.join(tensors)
    out += b'\0' * (-len(out) % align)
    for blob in datas:
        out += blob + b'\0' * (-len(blob) % align)
    return out
def tensor(name, ne, t, off): return s(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', x) for x in ne) + struct.pack('<IQ', t, off)
scalars = [kv(b'k.u8', 0, b'\x05'), kv(b'k.i8', 1, b'\xfb'), kv(b'k.u16', 2, struct.pack('<H', 7)),
           kv(b'k.i16', 3, struct.pack('<h', -7)), kv(b'k.u32', 4, struct.pack('<I', 9)), kv(b'k.i32', 5, struct.pack('<i', -9)),
           kv(b'k.f32', 6, struct.pack('<f', 0.5)), kv(b'k.bool', 7, b'\x01'), kv(b'k.str', 8, s(b'hello')),
           kv(b'k.u64', 10, struct.pack('<Q', 1 << 40)), kv(b'k.i64', 11, struct.pack('<q', -1)), kv(b'k.f64', 12, struct.pack('<d', 2.5))]
arrays = [kv(b'a.u32', 9, struct.pack('<IQ', 4, 3) + struct.pack('<3I', 1, 2, 3)),
          kv(b'a.str', 9, struct.pack('<IQ', 8, 2) + s(b'ab') + s(b'c')),
          kv(b'a.nested', 9, struct.pack('<IQ', 9, 1) + struct.pack('<IQ', 0, 2) + b'\x01\x02')]
open(os.path.join(d, 'seed-values.gguf'), 'wb').write(gguf(scalars + arrays, []))
ts = [tensor(b'f32', [4, 2], 0, 0), tensor(b'q4_0', [32], 2, 32), tensor(b'q4_k', [256], 12, 64), tensor(b'empty', [0], 1, 224)]
datas = [b'\x11' * 32, b'\x22' * 18, b'\x33' * 144]
open(os.path.join(d, 'seed-tensors.gguf'), 'wb').write(gguf([kv(b'general.architecture', 8, s(b'llama'))], ts, 32, datas))
ts64 = [tensor(b'a', [8], 0, 0), tensor(b'b', [16], 1, 64)]
open(os.path.join(d, 'seed-align64.gguf'), 'wb').write(
    gguf([kv(b'general.alignment', 4, struct.pack('<I', 64))], ts64, 64, [b'\x01' * 32, b'\x02' * 32]))
EOF

mkdir -p build/fuzz/artifacts
# -malloc_limit_mb makes any huge allocation a crash; -timeout makes a slow input one too.
build/fuzz/bin/fuzz_gguf "$corpus" -max_total_time="$SECONDS_TO_RUN" -max_len=700000 -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=256 -artifact_prefix=build/fuzz/artifacts/ -print_final_stats=1

# Chat templates: a copy of the real templates (libFuzzer writes new inputs into its corpus).
jcorpus=$(mktemp -d)
tcorpus=$(mktemp -d)
trap 'rm -rf "$corpus" "$jcorpus" "$tcorpus"' EXIT
cp tests/models/chat_templates/*.jinja "$jcorpus/"
build/fuzz/bin/fuzz_jinja "$jcorpus" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=256 -artifact_prefix=build/fuzz/artifacts/ -print_final_stats=1

# Tokenizers: byte 0 even = a GGUF follows (a small vocab), odd = text for the real vocabs.
for f in vocab/ggml-vocab-gpt-2.gguf vocab/ggml-vocab-llama-spm.gguf; do
    [ -f "$DATA/$f" ] && { printf '\x00'; cat "$DATA/$f"; } > "$tcorpus/$(basename "$f")"
done
{ printf '\x01'; cat tests/data/story.txt; } > "$tcorpus/story"
printf '\x03Hello <s> world \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80\n\t  x' > "$tcorpus/mixed"
build/fuzz/bin/fuzz_tokenizer "$tcorpus" -max_total_time="$SECONDS_TO_RUN" -max_len=2000000 -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -artifact_prefix=build/fuzz/artifacts/ -print_final_stats=1

# Audio decode: 0.4 s of jfk.wav in each container the decoder meets most (byte 0 of an input also
# picks options in the target; the clips start with container magic, which is fine either way).
acorpus=$(mktemp -d)
trap 'rm -rf "$corpus" "$jcorpus" "$tcorpus" "$acorpus"' EXIT
jfk=$(realpath "$DATA/whisper/jfk.wav")
for out in a.wav a.mp3 a.flac a.ogg a.m4a a.mkv a.webm; do
    ffmpeg -nostdin -v error -y -ss 1 -t 0.4 -i "$jfk" "$acorpus/$out"
done
ffmpeg -nostdin -v error -y -ss 1 -t 0.15 -i "$jfk" -ac 2 -ar 44100 -c:a pcm_f32le "$acorpus/b.wav"
build/fuzz/bin/fuzz_audio "$acorpus" -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -malloc_limit_mb=512 -artifact_prefix=build/fuzz/artifacts/ -print_final_stats=1
