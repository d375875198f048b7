// Whole-input decode: pulls an AudioReader to the end in chunks.
#include "media/audio.h"

namespace vkai::media {
namespace {

Result<std::vector<float>> read_all(AudioReader& reader) {
    std::vector<float> pcm;
    // Reserve from the declared length (capped: a hostile header must not allocate much up front).
    if (auto d = reader.duration_s(); d && *d > 0)
        pcm.reserve(size_t(std::min(*d * reader.sample_rate() + 1, 64.0 * 60 * reader.sample_rate())));
    constexpr size_t kChunk = 1 << 16;
    for (;;) {
        const size_t old = pcm.size();
        pcm.resize(old + kChunk);
        VKAI_ASSIGN_OR_RETURN(size_t n, reader.read(pcm.data() + old, kChunk));
        pcm.resize(old + n);
        if (n == 0) break;
    }
    pcm.shrink_to_fit();
    return pcm;
}

} // namespace

Result<std::vector<float>> decode_audio_file(const std::string& path, const AudioOptions& opt) {
    VKAI_ASSIGN_OR_RETURN(auto reader, AudioReader::open(path, opt));
    return read_all(*reader);
}

Result<std::vector<float>> decode_audio_memory(std::span<const uint8_t> data, const AudioOptions& opt, const std::string& name) {
    VKAI_ASSIGN_OR_RETURN(auto reader, AudioReader::open_memory(data, name, opt));
    return read_all(*reader);
}

} // namespace vkai::media
