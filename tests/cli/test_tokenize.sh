#!/bin/bash
# CLI test of `vkai tokenize`: known ids on real vocabularies, the per-token listing, special-token
# handling, and bad input that must fail with exactly one line on stderr. Usage: test_tokenize.sh path/to/vkai
set -u
VKAI=${1:?usage: test_tokenize.sh path/to/vkai}
source "$(dirname "$0")/lib.sh"

# expect_out WANT ARGS...: exit 0, empty stderr, stdout exactly WANT (one line).
expect_out() {
    local want=$1
    shift
    "$VKAI" tokenize "$@" > "$tmp/out" 2> "$tmp/err"
    local rc=$?
    local got
    got=$(cat "$tmp/out")
    if [ $rc -ne 0 ] || [ -s "$tmp/err" ] || [ "$got" != "$want" ]; then
        bad "vkai tokenize $*: exit $rc, got '$got', want '$want' $(head -c 300 "$tmp/err")"
    else ok; fi
}

# expect_fail WHAT ARGS...: non-zero exit (no signal), one stderr line, no internal error.
expect_fail() { local what=$1; shift; expect_clean_fail "$what" "$VKAI" tokenize "$@"; }

SPM=$DATA/vocab/ggml-vocab-llama-spm.gguf
GPT2=$DATA/vocab/ggml-vocab-gpt-2.gguf
STORIES=models/stories260K.gguf
[ -f "$STORIES" ] || STORIES=$DATA/llm/stories260K.gguf

if [ -f "$SPM" ]; then
    # BOS is added by default (add_bos_token), not with --no-special.
    expect_out "1 15043 3186" -m "$SPM" -p "Hello world" --ids
    expect_out "15043 3186" -m "$SPM" -p "Hello world" --ids --no-special
    expect_out "29871 15043 3186" -m "$SPM" -p " Hello world" --ids --no-special
    # Control tokens in the text are parsed only without --no-special.
    expect_out "1 1 15043 2" -m "$SPM" -p "<s>Hello</s>" --ids
    expect_out "529 29879 29958 10994 829 29879 29958" -m "$SPM" -p "<s>Hello</s>" --ids --no-special
    # Listing: id and quoted piece per line; byte tokens and newlines are escaped.
    expect_out "$(printf "      1 '<s>'\n  15043 ' Hello'\n     13 '\\\\n'")" -m "$SPM" -p $'Hello\n'
    printf 'Hello world' > "$tmp/text.txt"
    expect_out "15043 3186" -m "$SPM" -f "$tmp/text.txt" --ids --no-special
    expect_out "15043 3186" -m "$SPM" -f - --ids --no-special < "$tmp/text.txt"
    expect_out "1" -m "$SPM" -p "" --ids
    expect_out "" -m "$SPM" -p "" --ids --no-special
else
    echo "skip: no $SPM"
fi

if [ -f "$GPT2" ]; then
    expect_out "15496 995" -m "$GPT2" -p "Hello world" --ids
    expect_out "$(printf "  15496 'Hello'\n    995 ' world'")" -m "$GPT2" -p "Hello world"
    # A lone byte of a multi-byte character: escaped, not broken UTF-8 on the terminal.
    expect_out "$(printf "   8582 '\\\\xf0\\\\x9f'\n     99 '\\\\xa6'\n    247 '\\\\x99'")" -m "$GPT2" -p $'\xf0\x9f\xa6\x99'
fi

if [ -f "$STORIES" ]; then
    # A 512-token vocabulary: short pieces.
    expect_out "1 346 306 414 263 304 341" -m "$STORIES" -p "Hello world" --ids
fi

# Bad input: one line on stderr, non-zero exit.
expect_fail "missing model file" -m "$tmp/nope.gguf" -p hi
expect_fail "missing -m" -p hi
expect_fail "missing -p and -f" -m "$SPM"
expect_fail "both -p and -f" -m "$SPM" -p hi -f "$tmp/text.txt"
expect_fail "missing text file" -m "$SPM" -f "$tmp/nope.txt"
expect_fail "directory as text file" -m "$SPM" -f "$tmp"
expect_fail "unknown option" -m "$SPM" -p hi --bogus
expect_fail "stray argument" -m "$SPM" -p hi extra
printf 'not a gguf file at all' > "$tmp/junk.gguf"
expect_fail "not a GGUF file" -m "$tmp/junk.gguf" -p hi
head -c 1000 "$SPM" > "$tmp/truncated.gguf" 2> /dev/null
expect_fail "truncated GGUF" -m "$tmp/truncated.gguf" -p hi
expect_fail "GGUF without a tokenizer" -m "$DATA/quant/quant-golden.gguf" -p hi

echo "$pass passed, $failed failed"
[ "$failed" -eq 0 ]
