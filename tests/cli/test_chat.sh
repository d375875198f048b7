#!/bin/bash
# CLI test of `vkai chat`: scripted turns, /reset, a built-in template on the real Llama-2 vocab, and
# Ctrl-C (SIGINT) during a reply stopping the reply but not the program. Usage: test_chat.sh path/to/vkai
set -u
VKAI=${1:?usage: test_chat.sh path/to/vkai}
MODEL=models/stories260K.gguf
source "$(dirname "$0")/lib.sh"
trap 'rm -rf "$tmp"; kill %1 2>/dev/null' EXIT
trap '' PIPE # a writer to a FIFO whose reader died must not kill the test

# Scripted conversation: two turns, a reset, one more turn, then end of input.
printf 'Hello there\nTell me a story\\\nabout a dog\n/reset\nHi again\n' | "$VKAI" chat -m $MODEL -n 8 --temp 0 > "$tmp/out" 2> "$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q "(conversation reset)" "$tmp/out" && [ "$(grep -vc "conversation reset" "$tmp/out")" -ge 3 ]; then ok; else bad "scripted chat (rc $rc): $(head -c 400 "$tmp/out") $(tail -c 300 "$tmp/err")"; fi
if grep -q "using the built-in 'chatml' template" "$tmp/err"; then ok; else bad "missing template fallback log line"; fi

# A built-in template by name on the real Llama-2 vocabulary.
if [ -f "$DATA/llm/llama-2-tiny-random.gguf" ]; then
    printf 'Hi\n/exit\n' | "$VKAI" chat -m "$DATA/llm/llama-2-tiny-random.gguf" --chat-template llama2 --system "Be brief." -n 4 --temp 0 > "$tmp/out" 2> "$tmp/err"
    if [ $? -eq 0 ] && grep -q "chat template: llama2" "$tmp/err"; then ok; else bad "llama2 template chat: $(tail -c 300 "$tmp/err")"; fi
fi
printf 'Hi\n' | "$VKAI" chat -m $MODEL --chat-template /nonexistent.jinja > /dev/null 2> "$tmp/err"
if [ $? -ne 0 ] && [ "$(wc -l < "$tmp/err")" -le 3 ]; then ok; else bad "bad --chat-template should fail cleanly"; fi

# Ctrl-C during a long reply: the reply stops, the next turn still works, /exit ends with 0.
mkfifo "$tmp/in"
"$VKAI" chat -m $MODEL -n 100000 --ignore-eos --temp 0.8 -c 32768 < "$tmp/in" > "$tmp/out" 2> "$tmp/err" &
pid=$!
exec 3> "$tmp/in"
echo "Once upon a time" >&3
sleep 1.5
kill -INT $pid
sleep 0.5
echo "/exit" >&3
exec 3>&-
wait $pid
rc=$?
if [ $rc -eq 0 ] && grep -q "(stopped)" "$tmp/out"; then ok; else bad "Ctrl-C during a reply (rc $rc): $(tail -c 300 "$tmp/out") $(tail -c 300 "$tmp/err")"; fi

finish
