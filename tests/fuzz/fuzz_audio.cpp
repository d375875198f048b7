// libFuzzer target for audio decode from memory (src/media: our I/O layer, probing limits, stream
// choice, resampling, the length checks) with FFmpeg's real demuxers and decoders behind it.
// Whatever decodes must be finite samples in [-1, 1] within the duration cap; a failure must be a
// Status with a message naming the input. Any abort counts as a crash.
#include "media/audio.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <vector>

using namespace vkai;
using namespace vkai::media;

namespace {
void check(bool cond) {
    if (!cond) std::abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    AudioOptions opt;
    opt.max_duration_s = 120; // bounds the work per input
    opt.open_timeout_s = 5;
    // Byte 0 picks the options so both the strict and the allow_truncated paths and odd rates are fuzzed.
    if (size > 0) {
        opt.allow_truncated = data[0] & 1;
        opt.sample_rate = (data[0] & 2) ? 8000 : 16000;
    }
    std::vector<uint8_t> copy(data, data + size); // exact-size block: ASan sees reads past the end
    auto r = decode_audio_memory(copy, opt, "fuzz.bin");
    if (!r.ok()) {
        check(r.status().code() != Code::ok && r.status().code() != Code::internal);
        check(r.status().message().find("fuzz.bin") != std::string::npos);
        return 0;
    }
    check(!r->empty() && r->size() <= size_t((opt.max_duration_s + 1) * opt.sample_rate));
    for (float v : *r) check(std::isfinite(v) && v >= -1.0f && v <= 1.0f);

    // The streaming reader must agree with the whole decode.
    auto rd = AudioReader::open_memory(copy, "fuzz.bin", opt);
    check(rd.ok());
    std::vector<float> buf(4093);
    size_t total = 0;
    for (;;) {
        auto n = (*rd)->read(buf.data(), buf.size());
        check(n.ok());
        if (*n == 0) break;
        for (size_t i = 0; i < *n; ++i) check(total + i < r->size() && buf[i] == (*r)[total + i]);
        total += *n;
    }
    check(total == r->size());
    return 0;
}
