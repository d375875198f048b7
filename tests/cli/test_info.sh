#!/bin/bash
# CLI test of `vkai info`: every .gguf under ../shared/data in text and JSON, odd but valid metadata,
# and bad files, which must fail with exactly one line on stderr. Usage: test_info.sh path/to/vkai
set -u
VKAI=${1:?usage: test_info.sh path/to/vkai}
source "$(dirname "$0")/lib.sh"
if [ ! -x "$VKAI" ]; then
    echo "FAIL: no vkai binary at $VKAI"
    echo "0 passed, 1 failed"
    exit 1
fi

valid_json() { python3 -c 'import json,sys; json.load(sys.stdin)' < "$1" 2> "$tmp/json.err"; }
: > "$tmp/json.err"

# A run that must succeed: exit 0, empty stderr, the expected text; and --json must parse.
expect_ok() {
    local f=$1
    "$VKAI" info "$f" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || ! grep -q '^version:' "$tmp/out"; then
        bad "vkai info $f: exit $rc: $(head -c 300 "$tmp/err")"
    else ok; fi
    for mode in --json "--json --full"; do
        # shellcheck disable=SC2086
        "$VKAI" info $mode "$f" > "$tmp/out" 2> "$tmp/err"
        rc=$?
        if [ $rc -ne 0 ] || ! valid_json "$tmp/out"; then
            bad "vkai info $mode $f: exit $rc, invalid JSON: $(head -c 300 "$tmp/json.err") $(head -c 300 "$tmp/err")"
        else ok; fi
    done
}

# A run that must fail cleanly: non-zero exit (no signal), one stderr line, no internal error.
expect_fail() { local what=$1; shift; expect_clean_fail "$what" "$VKAI" info "$@"; }

count=0
while IFS= read -r f; do
    expect_ok "$f"
    count=$((count + 1))
done < <(find "$DATA/llm" "$DATA/quant" "$DATA/vocab" "$DATA/sd" -name '*.gguf' 2> /dev/null | sort)
[ "$count" -gt 0 ] || bad "no .gguf files under $DATA"

# Spot-check values against a known file.
if [ -f "$DATA/llm/stories260K.gguf" ]; then
    "$VKAI" info "$DATA/llm/stories260K.gguf" > "$tmp/out" 2>&1
    if grep -q '^architecture: llama' "$tmp/out" && grep -Eq '^  token_embd.weight +F32 +\[64, 512\] +131072 +0$' "$tmp/out"; then ok
    else bad "stories260K.gguf text output lacks architecture or token_embd.weight row"; fi
    "$VKAI" info --json "$DATA/llm/stories260K.gguf" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["architecture"] == "llama" and d["tensor_count"] == 48, d["architecture"]
t = [x for x in d["tensors"] if x["name"] == "token_embd.weight"][0]
assert t["shape"] == [64, 512] and t["type"] == "F32" and t["bytes"] == 131072, t
toks = d["metadata"]["tokenizer.ggml.tokens"]
assert toks["count"] == 512 and len(toks["value"]) == 8 and toks["truncated"], toks
' && ok || bad "stories260K.gguf --json values"
fi

# Valid but odd metadata: invalid UTF-8, control bytes, quotes, nested arrays, NaN and infinity.
python3 - "$tmp/odd.gguf" << 'EOF'
import struct, sys
def s(b): return struct.pack('<Q', len(b)) + b
kv = []
kv.append(s(b'odd.bytes') + struct.pack('<I', 8) + s(b'\xff\xfe "q" \\ \x01\x1f \xc3\x28 \xed\xa0\x80 ok\xe2\x82\xac'))
kv.append(s(b'odd.key\xff\n') + struct.pack('<I', 4) + struct.pack('<I', 7))
kv.append(s(b'odd.nan') + struct.pack('<I', 6) + struct.pack('<f', float('nan')))
kv.append(s(b'odd.inf') + struct.pack('<I', 12) + struct.pack('<d', float('-inf')))
inner = struct.pack('<IQ', 4, 3) + struct.pack('<3I', 1, 2, 3)
kv.append(s(b'odd.nested') + struct.pack('<I', 9) + struct.pack('<IQ', 9, 2) + inner + struct.pack('<IQ', 8, 1) + s(b'\x80x'))
kv.append(s(b'odd.floats') + struct.pack('<I', 9) + struct.pack('<IQ', 6, 3) + struct.pack('<3f', float('nan'), 1.5, float('inf')))
kv.append(s(b'odd.bools') + struct.pack('<I', 9) + struct.pack('<IQ', 7, 2) + b'\x01\x00')
kv.append(s(b'odd.empty') + struct.pack('<I', 9) + struct.pack('<IQ', 10, 0))
data = b'GGUF' + struct.pack('<IQQ', 3, 0, len(kv)) + b''.join(kv)
open(sys.argv[1], 'wb').write(data)
EOF
expect_ok "$tmp/odd.gguf"

# Bad inputs: truncated at several points, empty, not GGUF, v1, big-endian, missing, bad usage.
src="$DATA/llm/stories260K-Q4_K_M.gguf"
if [ -f "$src" ]; then
    size=$(stat -c %s "$src")
    for n in 0 3 23 24 100 1000 14000 14240 200000 $((size - 1)); do
        head -c "$n" "$src" > "$tmp/trunc.gguf"
        expect_fail "truncated to $n bytes" "$tmp/trunc.gguf"
        expect_fail "truncated to $n bytes (--json)" --json "$tmp/trunc.gguf"
    done
fi
printf 'hello, this is not a model\n' > "$tmp/text.gguf"
expect_fail "text file" "$tmp/text.gguf"
python3 -c 'import struct,sys; sys.stdout.buffer.write(b"GGUF" + struct.pack("<IQQ", 1, 0, 0))' > "$tmp/v1.gguf"
expect_fail "GGUF v1" "$tmp/v1.gguf"
python3 -c 'import struct,sys; sys.stdout.buffer.write(b"GGUF" + struct.pack(">IQQ", 3, 0, 0))' > "$tmp/be.gguf"
expect_fail "big-endian GGUF" "$tmp/be.gguf"
expect_fail "missing file" "$tmp/does-not-exist.gguf"
expect_fail "a directory" "$tmp"
expect_fail "no file argument"
expect_fail "two files" "$tmp/v1.gguf" "$tmp/be.gguf"
expect_fail "unknown option" --bogus "$tmp/v1.gguf"
if grep -q "v1" < <("$VKAI" info "$tmp/v1.gguf" 2>&1) || grep -q "version 1" < <("$VKAI" info "$tmp/v1.gguf" 2>&1); then ok
else bad "v1 message does not mention the version"; fi
if "$VKAI" info --help > "$tmp/out" 2>&1 && grep -q 'usage: vkai info' "$tmp/out"; then ok; else bad "vkai info --help"; fi

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
