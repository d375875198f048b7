// A minimal reader of 16-bit PCM mono WAV files for the whisper tests (the golden generator reads
// jfk.wav the same way: int16 / 32768). Test code only: the CLI decodes audio with src/media.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vkai::test {

// Empty on any format it does not handle (the tests then fail on the size).
inline std::vector<float> read_wav16_mono(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<uint8_t> b((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) || std::memcmp(b.data() + 8, "WAVE", 4)) return {};
    size_t p = 12;
    bool fmt_ok = false;
    while (p + 8 <= b.size()) {
        uint32_t len;
        std::memcpy(&len, b.data() + p + 4, 4);
        const uint8_t* body = b.data() + p + 8;
        if (len > b.size() - p - 8) return {};
        if (!std::memcmp(b.data() + p, "fmt ", 4) && len >= 16) {
            uint16_t fmt, ch, bits;
            std::memcpy(&fmt, body, 2);
            std::memcpy(&ch, body + 2, 2);
            std::memcpy(&bits, body + 14, 2);
            fmt_ok = fmt == 1 && ch == 1 && bits == 16;
        } else if (!std::memcmp(b.data() + p, "data", 4)) {
            if (!fmt_ok) return {};
            std::vector<float> out(len / 2);
            for (size_t i = 0; i < out.size(); ++i) {
                int16_t v;
                std::memcpy(&v, body + 2 * i, 2);
                out[i] = float(v) / 32768.0f;
            }
            return out;
        }
        p += 8 + len + (len & 1);
    }
    return {};
}

} // namespace vkai::test
