// Decoding one 30 s window after Runtime::encode(): the logit rules of the reference decoder
// (suppressed tokens, blank suppression at the first step, timestamp rules), then greedy, beam
// search (temperature 0, beam_size > 1) or sampling (temperature > 0, best_of candidates).
#pragma once

#include "base/status.h"
#include "whisper/runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace vkai::whisper {

struct DecodeTask {
    std::vector<int32_t> prompt;  // <|startofprev|> + previous text tokens, or empty
    std::vector<int32_t> sot_seq; // <|startoftranscript|> [<|lang|> <|task|>] [<|notimestamps|>]
    bool timestamps = true;
    float temperature = 0.0f;
    int beam_size = 5;   // used at temperature 0; <= 1 means greedy
    int best_of = 5;     // samples at temperature > 0
    int sample_len = 224; // most sampled tokens (half the text context, as the reference)
    uint64_t seed = 0;
    int slot = 0;         // the encoded window to attend to (Runtime::encode_batch)
};

struct DecodeResult {
    std::vector<int32_t> tokens; // sampled tokens, without the final <|endoftext|>
    std::string text;            // regular tokens' bytes
    double sum_logprob = 0, avg_logprob = 0; // avg = sum / (tokens + 1), the +1 for <|endoftext|>
    double no_speech_prob = 0;   // P(<|nospeech|>) at the <|startoftranscript|> position
    double compression_ratio = 0; // text bytes / zlib-compressed bytes
    float temperature = 0;
};

// The tokens the reference suppresses always: punctuation/symbol-only tokens that are not speech,
// and the task/control specials.
std::vector<int32_t> suppressed_tokens(const Vocab& v);

double compression_ratio(const std::string& text);

Result<DecodeResult> decode_window(Runtime& rt, const DecodeTask& task);

// Greedy decoding (temperature 0, no beams) of several windows in lockstep, one Runtime::decode_batch
// step per token for all of them: task i attends to its slot. The results are those decode_window
// gives each task at temperature 0 with beam_size 1 (same logit rules, no_speech, log-probs).
Result<std::vector<DecodeResult>> decode_windows_greedy(Runtime& rt, const std::vector<DecodeTask>& tasks);

// Language probabilities from the logits at <|startoftranscript|> (multilingual models only):
// returns the index into kLanguages of the most likely language; probs gets one per language.
Result<int> detect_language(Runtime& rt, std::vector<float>* probs = nullptr);

} // namespace vkai::whisper
