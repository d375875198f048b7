// Random-weight whisper models with the real shapes, the real vocabulary and mel filters, written in
// whisper.cpp's ggml .bin layout: for tests and benchmarks (real weights cannot be downloaded here).
#pragma once

#include "base/status.h"
#include "formats/whisper_bin.h"

#include <string>
#include <vector>

namespace vkai::whisper {

struct SynthPreset {
    const char* name;
    whisper_bin::HParams hp;
    const char* description;
};
const std::vector<SynthPreset>& synth_presets();
const SynthPreset* find_synth_preset(const std::string& name);

struct SynthOptions {
    whisper_bin::HParams hp;
    std::string vocab_path; // a whisper .bin (for-tests files work): stored tokens + filters
    std::string type = "F16"; // type of the 2-D matrices: F32 F16 Q8_0 Q5_0 Q5_1 Q4_0 Q4_1
    uint64_t seed = 1;
};

struct SynthReport {
    uint64_t n_params = 0, bytes = 0;
    bool computed_filters = false; // the vocab file's filters had another mel count
};

// The vocabulary file gives the stored (regular) tokens; the special tokens follow from n_vocab
// (large-v3's 51866 adds one language: nothing is stored for it, see vocab.h). Mel filters come from
// the vocab file when its mel count matches, else from mel_filterbank() (librosa's slaney filters).
Result<SynthReport> synth_model(const SynthOptions& opt, const std::string& out_path);

} // namespace vkai::whisper
