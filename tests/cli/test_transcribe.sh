#!/bin/bash
# CLI test of `vkai synth --preset whisper-*` and `vkai transcribe`: a random-weight whisper model with
# the real vocabulary (the "whisper-test" shape: d_model 64, so it runs in seconds) transcribes jfk.wav
# and jfk.mp3 into every output format, which must be well formed; bad inputs fail with one stderr line.
# Usage: test_transcribe.sh path/to/vkai
set -u
VKAI=${1:?usage: test_transcribe.sh path/to/vkai}
source "$(dirname "$0")/lib.sh"
VOCAB=$DATA/whisper/for-tests-ggml-tiny.bin
if [ ! -x "$VKAI" ] || [ ! -f "$VOCAB" ]; then
    echo "FAIL: no vkai binary at $VKAI or no $VOCAB"
    echo "0 passed, 1 failed"
    exit 1
fi

if "$VKAI" synth --preset whisper-test --layers 1 --vocab "$VOCAB" -o "$tmp/m.bin" 2> "$tmp/err" && [ -s "$tmp/m.bin" ]; then ok
else bad "synth whisper-test: $(head -c 300 "$tmp/err")"; fi
if "$VKAI" synth --preset whisper-test --layers 1 --type Q8_0 --vocab "$VOCAB" -o "$tmp/q.bin" 2> "$tmp/err"; then ok
else bad "synth whisper-test Q8_0: $(head -c 300 "$tmp/err")"; fi

# Every format in one run, written to a directory; timings on stderr.
mkdir -p "$tmp/outdir"
FAST="--beam-size 1 --no-fallback -t 2"
# shellcheck disable=SC2086
if "$VKAI" transcribe -m "$tmp/m.bin" "$DATA/whisper/jfk.wav" -l en -o txt,srt,vtt,json,verbose_json --output-dir "$tmp/outdir" $FAST 2> "$tmp/err"; then ok
else bad "transcribe jfk.wav: $(head -c 400 "$tmp/err")"; fi
grep -q 'real-time factor' "$tmp/err" && ok || bad "no timings on stderr: $(head -c 300 "$tmp/err")"
for f in txt srt vtt json verbose_json; do [ -f "$tmp/outdir/jfk.wav.$f" ] && ok || bad "missing jfk.wav.$f"; done
python3 - "$tmp/outdir" <<'PY' && ok || bad "output formats are not well formed"
import json, re, sys
d = sys.argv[1] + "/jfk.wav."
j = json.load(open(d + "json", encoding="utf-8"))
assert set(j) == {"text"}, j.keys()
v = json.load(open(d + "verbose_json", encoding="utf-8"))
assert v["language"] == "en" and abs(v["duration"] - 11.0) < 1e-6 and v["task"] == "transcribe"
prev = 0.0
for i, s in enumerate(v["segments"]):
    assert s["id"] == i and 0 <= s["start"] <= s["end"] <= 11.0 and s["start"] >= prev - 1e-9, s
    prev = s["start"]
assert v["text"] == j["text"] == "".join(s["text"] for s in v["segments"])
ts = r"\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d"
srt = open(d + "srt", encoding="utf-8").read().split("\n\n")
cues = [c for c in srt if c.strip()]
assert len(cues) == len(v["segments"])
for k, c in enumerate(cues):
    lines = c.split("\n")
    assert lines[0] == str(k + 1) and re.fullmatch(ts, lines[1]), c
vtt = open(d + "vtt", encoding="utf-8").read()
assert vtt.startswith("WEBVTT\n\n")
for c in [c for c in vtt[8:].split("\n\n") if c.strip()]:
    assert re.fullmatch(r"(\d\d:)?\d\d:\d\d\.\d\d\d --> (\d\d:)?\d\d:\d\d\.\d\d\d", c.split("\n")[0]), c
txt = open(d + "txt", encoding="utf-8").read()
assert len(txt.splitlines()) == len(v["segments"])
PY

# MP3 through src/media, stdout output, auto language, translate task on a multilingual model, a prompt.
# shellcheck disable=SC2086
if "$VKAI" transcribe -m "$tmp/q.bin" "$DATA/whisper/jfk.mp3" -o json --translate --prompt "Kennedy" $FAST > "$tmp/mp3.json" 2> "$tmp/err" \
    && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/mp3.json"; then ok
else bad "transcribe jfk.mp3: $(head -c 400 "$tmp/err")"; fi

# The device: --device cpu is the reference; Vulkan (lavapipe in CI) must write the same transcript
# (greedy tokens equal), log the device that ran, and fall back to the CPU when the GPU fails.
# --device auto never picks a software Vulkan device.
FIXED="--beam-size 1 --no-fallback -t 2 -l en -o verbose_json"
# shellcheck disable=SC2086
"$VKAI" transcribe -m "$tmp/m.bin" "$DATA/whisper/jfk.wav" $FIXED --device cpu > "$tmp/cpu.json" 2> "$tmp/err" \
    && grep -q "device cpu (2 threads" "$tmp/err" && ok || bad "transcribe --device cpu: $(head -c 400 "$tmp/err")"
if "$VKAI" devices 2>/dev/null | grep -q "^vulkan0"; then
    # shellcheck disable=SC2086
    if "$VKAI" transcribe -m "$tmp/m.bin" "$DATA/whisper/jfk.wav" $FIXED --device vulkan0 > "$tmp/vk.json" 2> "$tmp/err" \
        && cmp -s "$tmp/cpu.json" "$tmp/vk.json" && grep -q "device vulkan0 (requested; .* of weights uploaded)" "$tmp/err"; then ok
    else bad "transcribe --device vulkan0: $(head -c 600 "$tmp/err")"; fi
    for fault in alloc:1 lost:1 lost:3; do # at upload, at the first submit, in the middle of the window
        # shellcheck disable=SC2086
        if VKAI_FAULT=$fault "$VKAI" transcribe -m "$tmp/m.bin" "$DATA/whisper/jfk.wav" $FIXED --device vulkan0 > "$tmp/fb.json" 2> "$tmp/err" \
            && cmp -s "$tmp/cpu.json" "$tmp/fb.json" && grep -q "running on the cpu" "$tmp/err" && grep -q "device cpu" "$tmp/err"; then ok
        else bad "VKAI_FAULT=$fault: no fallback to the cpu: $(head -c 600 "$tmp/err")"; fi
    done
    if ! "$VKAI" devices 2>/dev/null | grep -E "^vulkan[0-9]" | grep -vq "(cpu)$"; then # software devices only
        # shellcheck disable=SC2086
        "$VKAI" transcribe -m "$tmp/m.bin" "$DATA/whisper/jfk.wav" $FIXED > "$tmp/auto.json" 2> "$tmp/err" \
            && grep -q "device cpu .*only software devices" "$tmp/err" && cmp -s "$tmp/cpu.json" "$tmp/auto.json" && ok \
            || bad "--device auto picked a software device: $(head -c 400 "$tmp/err")"
    fi
fi
# Parallel windows (--batch): 33 s of audio = 2 windows encoded and decoded at once; the Vulkan
# transcript equals the CPU one, segments start at the fixed 30 s window boundaries.
python3 - "$DATA/whisper/jfk.wav" "$tmp/jfk3.wav" <<'PY'
import sys, wave
r = wave.open(sys.argv[1], "rb")
frames = r.readframes(r.getnframes())
w = wave.open(sys.argv[2], "wb")
w.setparams(r.getparams())
w.writeframes(frames * 3)
w.close()
PY
# shellcheck disable=SC2086
"$VKAI" transcribe -m "$tmp/m.bin" "$tmp/jfk3.wav" $FIXED --batch 2 --device cpu > "$tmp/b_cpu.json" 2> "$tmp/err" \
    && grep -q "2 (up to 2 at once) windows" "$tmp/err" \
    && python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert all(s["seek"] % 3000 == 0 and s["end"] <= 33.0 for s in v["segments"]), v' "$tmp/b_cpu.json" \
    && ok || bad "transcribe --batch 2 on the cpu: $(head -c 400 "$tmp/err")"
if "$VKAI" devices 2>/dev/null | grep -q "^vulkan0"; then
    # shellcheck disable=SC2086
    "$VKAI" transcribe -m "$tmp/m.bin" "$tmp/jfk3.wav" $FIXED --batch 2 --device vulkan0 > "$tmp/b_vk.json" 2> "$tmp/err" \
        && cmp -s "$tmp/b_cpu.json" "$tmp/b_vk.json" && ok || bad "transcribe --batch 2 on vulkan0 differs from the cpu: $(head -c 400 "$tmp/err")"
fi
expect_clean_fail "bad batch" "$VKAI" transcribe -m "$tmp/m.bin" --batch 99 "$DATA/whisper/jfk.wav"
expect_clean_fail "bad device" "$VKAI" transcribe -m "$tmp/m.bin" --device gpu7 "$DATA/whisper/jfk.wav"

# Bad input: one clear line each, no crash.
printf 'not audio at all' > "$tmp/bad.wav"
: > "$tmp/empty.bin"
expect_clean_fail "missing model" "$VKAI" transcribe "$DATA/whisper/jfk.wav"
expect_clean_fail "missing input" "$VKAI" transcribe -m "$tmp/m.bin"
expect_clean_fail "vocab-only model" "$VKAI" transcribe -m "$VOCAB" "$DATA/whisper/jfk.wav"
expect_clean_fail "empty model" "$VKAI" transcribe -m "$tmp/empty.bin" "$DATA/whisper/jfk.wav"
head -c 300000 "$tmp/m.bin" > "$tmp/cut.bin"
expect_clean_fail "truncated model" "$VKAI" transcribe -m "$tmp/cut.bin" "$DATA/whisper/jfk.wav"
expect_clean_fail "bad format" "$VKAI" transcribe -m "$tmp/m.bin" -o docx "$DATA/whisper/jfk.wav"
expect_clean_fail "unknown language" "$VKAI" transcribe -m "$tmp/m.bin" -l xx "$DATA/whisper/jfk.wav"
expect_clean_fail "not audio" "$VKAI" transcribe -m "$tmp/m.bin" "$tmp/bad.wav"
expect_clean_fail "missing output dir" "$VKAI" transcribe -m "$tmp/m.bin" --output-dir "$tmp/nope" "$DATA/whisper/jfk.wav"
expect_clean_fail "unknown whisper preset" "$VKAI" synth --preset whisper-huge --vocab "$VOCAB" -o "$tmp/x.bin"
expect_clean_fail "synth bad type" "$VKAI" synth --preset whisper-test --type Q4_K --vocab "$VOCAB" -o "$tmp/x.bin"
finish
