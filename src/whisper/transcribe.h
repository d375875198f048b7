// Transcription of a whole recording: the reference's 30 s seek loop over the log-mel spectrogram,
// temperature fallback, no-speech skipping, conditioning on the previous text, language detection.
#pragma once

#include "base/status.h"
#include "whisper/decode.h"
#include "whisper/mel.h"
#include "whisper/runtime.h"

#include <functional>
#include <string>
#include <vector>

namespace vkai::whisper {

struct TranscribeOptions {
    std::string language = "auto"; // a code from kLanguages, or "auto" (detected on the first window)
    bool translate = false;        // task <|translate|> (to English) instead of <|transcribe|>
    bool timestamps = true;        // segment timestamps (else one segment per window)
    int beam_size = 5;             // at temperature 0; 1 = greedy (the reference CLI's default is 5)
    int best_of = 5;               // samples per temperature > 0
    std::vector<float> temperatures = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
    double compression_ratio_threshold = 2.4; // above: too repetitive, retry hotter
    double logprob_threshold = -1.0;          // average log-prob below: retry hotter
    double no_speech_threshold = 0.6;         // with a low log-prob too: the window is silence
    bool condition_on_previous_text = true;
    std::string initial_prompt;
    uint64_t seed = 0;
    // > 1: parallel windows, for speed on a GPU. The audio is cut at fixed 30 s boundaries and up to
    // this many windows are encoded in one pass and decoded greedily in lockstep (temperature 0,
    // no beams); each window's text is not conditioned on the previous one's; temperature fallback
    // runs per window afterwards. 0 or 1: the reference's sequential seek loop (the default).
    // Capped at Runtime::kMaxLogitRows; halved while the device cannot hold that many windows.
    int parallel_windows = 0;
    // Called after every window with the fraction of the audio done (for progress bars).
    std::function<void(double)> progress;
};

struct Segment {
    double start = 0, end = 0; // seconds
    std::string text;
    std::vector<int32_t> tokens;
    int64_t seek = 0; // mel frame where its window began
    float temperature = 0;
    double avg_logprob = 0, compression_ratio = 0, no_speech_prob = 0;
};

struct Transcript {
    std::string language; // code
    std::string task = "transcribe"; // or "translate"
    double duration = 0;  // seconds of audio
    std::vector<Segment> segments;
    std::string text; // all segments' text
    double encode_s = 0, decode_s = 0; // time spent (wall)
    int windows = 0;
    int parallel_windows = 1; // windows per encoder pass actually used
};

// n_samples: the audio's length (mel.n_frames includes 30 s of padding after it).
Result<Transcript> transcribe(Runtime& rt, const Mel& mel, int64_t n_samples, const TranscribeOptions& opt);

// Output formats of the reference CLI. json: {"text"}; verbose_json adds language, duration, segments.
std::string to_txt(const Transcript& t);
std::string to_srt(const Transcript& t);
std::string to_vtt(const Transcript& t);
std::string to_json(const Transcript& t, bool verbose);
// Invalid UTF-8 (a character split between tokens of different segments, random models) becomes U+FFFD.
std::string utf8_repair(std::string_view s);
std::string format_timestamp(double seconds, bool always_hours, char decimal); // "00:01:02,340"

} // namespace vkai::whisper
