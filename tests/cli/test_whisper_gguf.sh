#!/bin/bash
# CLI test of whisper GGUF files (docs/whisper-gguf.md): `vkai synth -o X.gguf` writes one, `vkai info`
# shows it, `vkai transcribe` gives the same transcript from the GGUF and the .bin of the same weights,
# cut files fail with one clear line, and `vkai serve -m LLM -m WHISPER.gguf` serves both (curl).
# Usage: test_whisper_gguf.sh path/to/vkai
set -u
VKAI=${1:?usage: test_whisper_gguf.sh path/to/vkai}
source "$(dirname "$0")/lib.sh"
VOCAB=$DATA/whisper/for-tests-ggml-tiny.bin
JFK=$DATA/whisper/jfk.wav
if [ ! -x "$VKAI" ] || [ ! -f "$VOCAB" ]; then
    echo "FAIL: no vkai binary at $VKAI or no $VOCAB"
    echo "0 passed, 1 failed"
    exit 1
fi

for ext in gguf bin; do
    if "$VKAI" synth --preset whisper-test --layers 1 --type Q8_0 --seed 3 --vocab "$VOCAB" -o "$tmp/m.$ext" 2> "$tmp/err"; then ok
    else bad "synth -o m.$ext: $(head -c 300 "$tmp/err")"; fi
done
[ "$(head -c 4 "$tmp/m.gguf")" = GGUF ] && ok || bad "m.gguf does not start with the GGUF magic"

# info: the architecture, the specification's keys, our filters/tokens keys, whisper.cpp's tensor names.
"$VKAI" info "$tmp/m.gguf" > "$tmp/info" 2> "$tmp/err" && ok || bad "info: $(head -c 300 "$tmp/err")"
for want in 'architecture: whisper' 'whisper.encoder.mels_count = 80' 'whisper.decoder.layer_count = 1' 'whisper.mel_filters = [arr f32 x 16080' \
            'tokenizer.ggml.model = "whisper"' 'encoder.blocks.0.attn.query.weight' 'decoder.token_embedding.weight'; do
    grep -qF "$want" "$tmp/info" && ok || bad "info lacks '$want'"
done
"$VKAI" info --json "$tmp/m.gguf" | python3 -c 'import json,sys; j=json.load(sys.stdin); assert j["architecture"]=="whisper", j["architecture"]' && ok || bad "info --json"

# Same weights, same greedy transcript.
FAST=(--beam-size 1 --no-fallback -t 1 -l en -o verbose_json --device cpu)
"$VKAI" transcribe -m "$tmp/m.gguf" "$JFK" "${FAST[@]}" > "$tmp/g.json" 2> "$tmp/err" && ok || bad "transcribe gguf: $(head -c 300 "$tmp/err")"
"$VKAI" transcribe -m "$tmp/m.bin" "$JFK" "${FAST[@]}" > "$tmp/b.json" 2> "$tmp/err" && ok || bad "transcribe bin: $(head -c 300 "$tmp/err")"
python3 - "$tmp/g.json" "$tmp/b.json" <<'PY' && ok || bad "GGUF and .bin transcripts differ"
import json, sys
g, b = (json.load(open(p, encoding="utf-8")) for p in sys.argv[1:3])
assert g["segments"] and [s["tokens"] for s in g["segments"]] == [s["tokens"] for s in b["segments"]]
assert g["text"] == b["text"]
PY

# Cut files: one clear line, no crash.
size=$(stat -c %s "$tmp/m.gguf")
for n in 3 4 23 100 1000 200000 $((size / 2)) $((size - 1)); do
    head -c "$n" "$tmp/m.gguf" > "$tmp/cut.gguf"
    expect_clean_fail "gguf cut at $n" "$VKAI" transcribe -m "$tmp/cut.gguf" "$JFK" --device cpu
done
# An LLM GGUF is not a whisper model.
expect_clean_fail "llm gguf as whisper" "$VKAI" transcribe -m models/stories260K.gguf "$JFK" --device cpu

# serve with -m twice: both models listed, chat and transcription both answer.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$port
"$VKAI" serve -m models/stories260K.gguf -m "$tmp/m.gguf" --port "$port" -t 1 --device cpu > "$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' $URL/health)" = 200 ] && break
    sleep 0.1
done
curl -s $URL/v1/models > "$tmp/models"
grep -q '"id":"stories260K"' "$tmp/models" && grep -q '"id":"m"' "$tmp/models" && ok || bad "models: $(cat "$tmp/models")"
grep -q 'm (whisper)' "$tmp/log" && ok || bad "listening line does not name the whisper model: $(head -3 "$tmp/log")"
code=$(curl -s -o "$tmp/t.json" -w '%{http_code}' $URL/v1/audio/transcriptions -F file=@"$JFK" -F model=m -F language=en -F best_of=1)
[ "$code" = 200 ] && python3 -c 'import json,sys; assert isinstance(json.load(open(sys.argv[1]))["text"], str)' "$tmp/t.json" && ok \
    || bad "transcription: $code $(head -c 300 "$tmp/t.json")"
code=$(curl -s -o "$tmp/c.json" -w '%{http_code}' $URL/v1/chat/completions -d '{"model":"stories260K","messages":[{"role":"user","content":"hi"}],"max_tokens":4}')
[ "$code" = 200 ] && ok || bad "chat: $code $(head -c 300 "$tmp/c.json")"
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 0 ] && ok || bad "serve exit code $rc: $(tail -3 "$tmp/log")"
finish
