// Shared by the test_audio_*.cpp programs: jfk.wav's samples read by a parser of our own (the reference
// must not come from FFmpeg), fixtures made with the ffmpeg CLI in a temporary folder, and alignment of
// a decode to the reference by cross-correlation.
#pragma once

#include "media/audio.h"
#include "support/test_data.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vkai::test {

inline std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& b) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// Samples / 32768 of a 16-bit mono PCM WAV; empty when the file is not one.
inline std::vector<float> read_wav_s16_mono(const std::string& path) {
    std::vector<uint8_t> b = read_bytes(path);
    auto u32 = [&](size_t o) { return uint32_t(b[o]) | uint32_t(b[o + 1]) << 8 | uint32_t(b[o + 2]) << 16 | uint32_t(b[o + 3]) << 24; };
    auto u16 = [&](size_t o) { return uint16_t(b[o] | b[o + 1] << 8); };
    if (b.size() < 12 || std::memcmp(b.data(), "RIFF", 4) != 0 || std::memcmp(b.data() + 8, "WAVE", 4) != 0) return {};
    bool fmt_ok = false;
    for (size_t o = 12; o + 8 <= b.size();) {
        const uint32_t len = u32(o + 4);
        if (std::memcmp(b.data() + o, "fmt ", 4) == 0 && len >= 16 && o + 24 <= b.size())
            fmt_ok = u16(o + 8) == 1 && u16(o + 10) == 1 && u16(o + 22) == 16;
        if (std::memcmp(b.data() + o, "data", 4) == 0 && fmt_ok) {
            const size_t n = std::min<size_t>(len, b.size() - o - 8) / 2;
            std::vector<float> out(n);
            for (size_t i = 0; i < n; ++i) out[i] = float(int16_t(u16(o + 8 + 2 * i))) / 32768.0f;
            return out;
        }
        o += 8 + len + (len & 1);
    }
    return {};
}

// got[i + lag] ~ ref[i]. The lag maximizes the normalized correlation of a 1 s speech excerpt of ref
// (cheap enough under ASan); corr, SNR and max |err| are then over the whole overlap.
struct Match {
    int lag = 0;
    double corr = 0, snr_db = -INFINITY, max_abs = INFINITY;
};

inline Match align(const std::vector<float>& got, const std::vector<float>& ref, int max_lag) {
    Match m;
    const int64_t a = 32000, len = std::min<int64_t>(16000, int64_t(ref.size()) - a); // ref [2 s, 3 s)
    if (len <= 0) return m;
    double best = -2;
    for (int lag = -max_lag; lag <= max_lag; ++lag) {
        if (a + lag < 0 || a + lag + len > int64_t(got.size())) continue;
        double xy = 0, xx = 0, yy = 0;
        for (int64_t i = 0; i < len; ++i) {
            const double x = got[size_t(a + lag + i)], y = ref[size_t(a + i)];
            xy += x * y, xx += x * x, yy += y * y;
        }
        const double c = xy / std::sqrt(xx * yy + 1e-30);
        if (c > best) best = c, m.lag = lag;
    }
    double xy = 0, xx = 0, yy = 0, ee = 0, mx = 0;
    for (int64_t i = 0; i < int64_t(ref.size()); ++i) {
        const int64_t j = i + m.lag;
        if (j < 0 || j >= int64_t(got.size())) continue;
        const double x = got[size_t(j)], y = ref[size_t(i)], e = x - y;
        xy += x * y, xx += x * x, yy += y * y, ee += e * e;
        mx = std::max(mx, std::abs(e));
    }
    m.corr = xy / std::sqrt(xx * yy + 1e-30);
    m.snr_db = 10 * std::log10(yy / (ee + 1e-30));
    m.max_abs = mx;
    return m;
}

// Fixtures made from jfk.wav by the Debian ffmpeg CLI (a test-time tool only; CI runs setup.sh first).
struct AudioFixtures {
    bool ok = false;
    std::string error, dir;
    std::vector<float> jfk_ref;

    std::string path(const std::string& name) const { return dir + "/" + name; }
    // Every decodable input the tests use, shared and made.
    std::vector<std::string> all_inputs() const {
        return {data_path("whisper/jfk.wav"), data_path("whisper/jfk.mp3"), path("jfk.flac"), path("jfk_44k_stereo.wav"),
                path("jfk.mp4"), path("jfk.mkv"), path("jfk.ogg")};
    }

    void make() {
        if (!dir.empty()) return;
        jfk_ref = read_wav_s16_mono(data_path("whisper/jfk.wav"));
        if (jfk_ref.size() != 176000) {
            error = "cannot read " + data_path("whisper/jfk.wav") + " as 11 s of 16 kHz mono s16 (VKAI_DATA?)";
            return;
        }
        if (std::system("command -v ffmpeg > /dev/null 2>&1") != 0) {
            error = "the ffmpeg CLI is missing: run scripts/setup.sh (the test makes its MP4/MKV/OGG/FLAC fixtures with it)";
            return;
        }
        char tmpl[] = "/tmp/vkai-audio-XXXXXX";
        if (!mkdtemp(tmpl)) {
            error = "mkdtemp failed";
            return;
        }
        dir = tmpl;
        char abs[4096];
        if (!realpath(data_path("whisper/jfk.wav").c_str(), abs)) {
            error = "realpath failed";
            return;
        }
        const std::string in = std::string("'") + abs + "'";
        const std::string video = "-f lavfi -i color=black:s=64x48:r=10 ";
        const std::vector<std::string> cmds = {
            "-i " + in + " -c:a flac jfk.flac",
            "-i " + in + " -af 'pan=stereo|c0=c0|c1=c0' -ar 44100 -c:a pcm_s16le jfk_44k_stereo.wav",
            "-i " + in + " -af 'pan=stereo|c0=c0|c1=0*c0' -c:a pcm_s16le jfk_left_only.wav",
            video + "-i " + in + " -shortest -map 0:v -map 1:a -c:v mpeg4 -c:a aac -b:a 96k jfk.mp4",
            video + "-i " + in + " -shortest -map 0:v -map 1:a -c:v mpeg4 -c:a libvorbis jfk.mkv",
            "-i " + in + " -c:a libopus -b:a 48k jfk.ogg",
            video + "-t 2 -c:v mpeg4 video_only.mkv",
            "-f lavfi -i color=red:s=8x8 -frames:v 1 image.png",
        };
        for (const std::string& c : cmds) {
            const std::string cmd = "cd " + dir + " && ffmpeg -nostdin -v error -y " + c + " 2>&1";
            std::string out;
            FILE* p = popen(cmd.c_str(), "r");
            char buf[512];
            while (p && fgets(buf, sizeof buf, p)) out += buf;
            if (!p || pclose(p) != 0) {
                error = "fixture command failed: ffmpeg " + c + "\n" + out;
                return;
            }
        }
        ok = true;
    }

    ~AudioFixtures() {
        if (!dir.empty()) (void)std::system(("rm -rf " + dir).c_str());
    }
};

} // namespace vkai::test
