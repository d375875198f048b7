#!/bin/bash
# CLI test of vkai serve with curl on the bundled stories260K: startup, SSE framing seen on the wire
# (curl -N), errors, the API key, a dropped stream, clean shutdown, and bad command lines.
# Usage: test_serve.sh path/to/vkai
set -u
VKAI=${1:?usage: test_serve.sh path/to/vkai}
MODEL=models/stories260K.gguf
source "$(dirname "$0")/lib.sh"
command -v curl > /dev/null || { echo "curl missing (scripts/setup.sh installs it)"; exit 1; }

# A free port: the kernel picks one for a throwaway socket.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$port
"$VKAI" serve -m $MODEL --port "$port" -t 1 --device cpu --parallel 2 --api-key sekret > "$tmp/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 1 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' $URL/health)" = 200 ] && break
    sleep 0.1
done
if [ "$(curl -s $URL/health)" = '{"status":"ok"}' ]; then ok; else bad "health: $(curl -s $URL/health) $(tail -5 "$tmp/log")"; fi
if grep -q "listening on http://127.0.0.1:$port" "$tmp/log"; then ok; else bad "no listening line: $(head -3 "$tmp/log")"; fi
AUTH=(-H "Authorization: Bearer sekret")

# models is public and lists the file stem
if curl -s $URL/v1/models | grep -q '"id":"stories260K"'; then ok; else bad "models: $(curl -s $URL/v1/models)"; fi

# SSE framing on the wire: headers, data: lines separated by blank lines, [DONE] last.
curl -sN -D "$tmp/h" "${AUTH[@]}" $URL/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"seed":1,"stream":true}' > "$tmp/sse"
if grep -qi '^content-type: text/event-stream' "$tmp/h"; then ok; else bad "stream content type: $(cat "$tmp/h")"; fi
if [ "$(tail -c 14 "$tmp/sse" | tr '\n' '|')" = 'data: [DONE]||' ]; then ok; else bad "stream does not end with [DONE]: $(tail -c 100 "$tmp/sse")"; fi
# every non-empty line is a data: line, and every event is followed by exactly one blank line
if ! grep -v '^$' "$tmp/sse" | grep -qv '^data: '; then ok; else bad "non-data lines in the stream: $(grep -v '^$' "$tmp/sse" | grep -v '^data: ' | head -3)"; fi
if awk 'NR%2==0 && $0!="" {exit 1} NR%2==1 && $0=="" {exit 1}' "$tmp/sse"; then ok; else bad "SSE events not separated by single blank lines"; fi
if grep -q '"delta":{"content":null,"role":"assistant"}' "$tmp/sse" && grep -q '"finish_reason":"length"' "$tmp/sse" && grep -q '"timings":{' "$tmp/sse"; then ok; else bad "stream chunks: $(head -c 600 "$tmp/sse")"; fi

# non-stream, same seed as a second request: same text
a=$(curl -s "${AUTH[@]}" $URL/v1/completions -d '{"prompt":"Once upon a time","max_tokens":16,"seed":9}')
b=$(curl -s "${AUTH[@]}" $URL/v1/completions -d '{"prompt":"Once upon a time","max_tokens":16,"seed":9}')
ta=$(echo "$a" | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
tb=$(echo "$b" | python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["text"])')
if [ -n "$ta" ] && [ "$ta" = "$tb" ]; then ok; else bad "completions: '$ta' vs '$tb'"; fi

# errors: status and OpenAI shape
code() { curl -s -o "$tmp/body" -w '%{http_code}' "$@"; }
[ "$(code $URL/v1/chat/completions -d '{}')" = 401 ] && grep -q '"authentication_error"' "$tmp/body" && ok || bad "no key: $(cat "$tmp/body")"
[ "$(code "${AUTH[@]}" $URL/v1/chat/completions -d '{bad')" = 400 ] && grep -q '"error":{' "$tmp/body" && ok || bad "bad json: $(cat "$tmp/body")"
[ "$(code "${AUTH[@]}" $URL/v1/chat/completions -d '{"model":"../../etc/passwd","messages":[{"role":"user","content":"x"}]}')" = 404 ] && ok || bad "path trick: $(cat "$tmp/body")"
[ "$(code -H 'Host: evil.example' $URL/health)" = 403 ] && ok || bad "foreign Host accepted"
head -c 9000000 /dev/zero | tr '\0' ' ' > "$tmp/big"
[ "$(code "${AUTH[@]}" $URL/v1/chat/completions --data-binary @"$tmp/big")" = 413 ] && ok || bad "big body: $(head -c 200 "$tmp/body")"

# a dropped stream: curl gives up after 0.3 s; the server keeps serving
curl -sN -m 0.3 "${AUTH[@]}" $URL/v1/completions -d '{"prompt":"Once","max_tokens":100000,"ignore_eos":true,"stream":true}' > /dev/null
sleep 0.3
if curl -s "${AUTH[@]}" $URL/metrics | grep -q '^vkai_slots_busy{model="stories260K"} 0'; then ok; else bad "slot still busy after a dropped stream: $(curl -s "${AUTH[@]}" $URL/metrics | grep slots)"; fi

# shutdown on SIGTERM: exit 0, no crash
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 0 ]; then ok; else bad "exit $rc after SIGTERM: $(tail -3 "$tmp/log")"; fi

# bad command lines: one clear line
expect_clean_fail "serve without a model" "$VKAI" serve --port 0
expect_clean_fail "serve missing file" "$VKAI" serve -m /nonexistent.gguf --port 0
expect_clean_fail "serve unknown flag" "$VKAI" serve -m $MODEL --no-such-flag
expect_clean_fail "serve bad port" "$VKAI" serve -m $MODEL --port 99999
echo '{"models": 5}' > "$tmp/cfg.json"
expect_clean_fail "serve bad config" "$VKAI" serve --config "$tmp/cfg.json"
finish
