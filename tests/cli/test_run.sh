#!/bin/bash
# CLI test of the LLM commands on the bundled stories260K: run (greedy text, seeds, stdout holds only
# the generated text), perplexity, logits, bench, synth, and clean one-line failures on bad input.
# Usage: test_run.sh path/to/vkai
set -u
VKAI=${1:?usage: test_run.sh path/to/vkai}
MODEL=models/stories260K.gguf
source "$(dirname "$0")/lib.sh"

# run: greedy output of the trained model
"$VKAI" run -m $MODEL -p "Once upon a time" -n 32 --temp 0 > "$tmp/out" 2> "$tmp/err"
if [ $? -eq 0 ] && grep -q "^, there was a little girl named Lily" "$tmp/out"; then ok; else bad "run greedy: $(head -c 300 "$tmp/out") $(tail -c 300 "$tmp/err")"; fi
# the prompt is not echoed and the timings go to stderr
if ! grep -q "Once upon" "$tmp/out" && grep -q "tok/s" "$tmp/err"; then ok; else bad "run: prompt echoed or no timings"; fi
# the log names the device
if grep -q "^device: cpu" "$tmp/err"; then ok; else bad "run: device not logged"; fi

# the same greedy text on a Vulkan device (lavapipe in CI) as on the CPU
if "$VKAI" devices 2>/dev/null | grep -q "^vulkan0"; then
    "$VKAI" run -m $MODEL -p "Once upon a time" -n 32 --temp 0 --device cpu > "$tmp/cpu" 2>/dev/null
    "$VKAI" run -m $MODEL -p "Once upon a time" -n 32 --temp 0 --device vulkan0 > "$tmp/vk" 2> "$tmp/err"
    if cmp -s "$tmp/cpu" "$tmp/vk" && grep -q "^device: vulkan0" "$tmp/err"; then ok; else bad "vulkan0 text differs from cpu: $(head -c 200 "$tmp/vk")"; fi
else
    echo "note: no Vulkan device; CPU/Vulkan comparison skipped"
fi

# seeds: same seed, same text; the random seed is reported and reproduces the run
"$VKAI" run -m $MODEL -p "Once upon a time" -n 24 --temp 0.9 --seed 5 > "$tmp/a" 2>/dev/null
"$VKAI" run -m $MODEL -p "Once upon a time" -n 24 --temp 0.9 --seed 5 > "$tmp/b" 2>/dev/null
if cmp -s "$tmp/a" "$tmp/b"; then ok; else bad "run: same seed gave different text"; fi
"$VKAI" run -m $MODEL -p "Once upon a time" -n 24 --temp 0.9 > "$tmp/c" 2> "$tmp/err"
seed=$(sed -n 's/.*| seed \([0-9]*\) |.*/\1/p' "$tmp/err")
"$VKAI" run -m $MODEL -p "Once upon a time" -n 24 --temp 0.9 --seed "$seed" > "$tmp/d" 2>/dev/null
if [ -n "$seed" ] && cmp -s "$tmp/c" "$tmp/d"; then ok; else bad "run: reported seed '$seed' does not reproduce the run"; fi

# perplexity: stable value on the story fixture
ppl=$("$VKAI" perplexity -m $MODEL -f tests/data/story.txt -c 128 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["perplexity"])')
if python3 -c "import sys; p=float('$ppl'); sys.exit(0 if 3.3 < p < 3.8 else 1)" 2>/dev/null; then ok; else bad "perplexity = '$ppl', expected about 3.53"; fi

# logits: valid JSON with one entry per prompt token
"$VKAI" logits -m $MODEL -p "Once upon a time" --top 5 --json > "$tmp/l.json" 2>/dev/null
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["positions"])==len(d["tokens"]) and len(d["positions"][0]["top"])==5' "$tmp/l.json"; then ok; else bad "logits JSON"; fi

# bench: JSON with both speeds and the measured ceiling
"$VKAI" bench -m $MODEL -p 32 -n 8 -r 1 --json > "$tmp/b.json" 2>/dev/null
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["pp_tok_s"]>0 and d["tg_tok_s"]>0 and d["read_bw_gb_s"]>0' "$tmp/b.json"; then ok; else bad "bench JSON: $(head -c 300 "$tmp/b.json")"; fi

# synth: a tiny model with the bundled vocab runs
"$VKAI" synth --preset tiny --type Q4_K_M --vocab $MODEL -o "$tmp/tiny.gguf" 2>/dev/null &&
    "$VKAI" run -m "$tmp/tiny.gguf" -p "hello" -n 4 --temp 0 > /dev/null 2>&1
if [ $? -eq 0 ]; then ok; else bad "synth tiny + run"; fi

# bad input: non-zero exit, exactly one stderr line, no crash
expect_fail() { expect_clean_fail "$*" "$@"; }
head -c 1000 $MODEL > "$tmp/trunc.gguf"
expect_fail "$VKAI" run -m /nonexistent.gguf -p hi
expect_fail "$VKAI" run -m "$tmp/trunc.gguf" -p hi
expect_fail "$VKAI" run -m $MODEL
expect_fail "$VKAI" run -m $MODEL -p hi --temp abc
expect_fail "$VKAI" run -m $MODEL -p hi --top-p 2
expect_fail "$VKAI" run -m $MODEL -p hi --bogus
expect_fail "$VKAI" run -m tests/data/story.txt -p hi
expect_fail "$VKAI" perplexity -m $MODEL -f /nonexistent.txt
expect_fail "$VKAI" synth --preset nope --vocab $MODEL -o "$tmp/x.gguf"
expect_fail "$VKAI" synth --preset tiny --type Q9 --vocab $MODEL -o "$tmp/x.gguf"
expect_fail "$VKAI" nosuchcommand
expect_fail "$VKAI" run -m $MODEL -p hi --device gpu
expect_fail "$VKAI" run -m $MODEL -p hi --device vulkan99

finish
