// Hostile audio input (src/media): zero-length, text, an image, video without audio, truncation at
// every 1/16 of each format, enormous and absurd header fields, corrupted bytes, the duration cap and
// cancellation. Every case must fail with a message that names the input, or decode to finite samples
// in [-1, 1] of bounded length; never crash or hang. Inputs are exact-size heap copies so ASan sees
// any read past the end by our I/O layer.
#include "test_audio_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <random>

using namespace vkai;
using namespace vkai::media;
using namespace vkai::test;

namespace {

constexpr const char* kName = "hostile.bin";

class AudioHostile : public ::testing::Test {
protected:
    static void SetUpTestSuite() { fixtures().make(); }
    static AudioFixtures& fixtures() {
        static AudioFixtures f;
        return f;
    }
    void SetUp() override { ASSERT_TRUE(fixtures().ok) << fixtures().error; }
};

// Decodes a private copy of `bytes`; checks the outcome's invariants; returns the result.
Result<std::vector<float>> decode_checked(const std::vector<uint8_t>& bytes, const std::string& what,
                                          const AudioOptions& opt = {}) {
    std::vector<uint8_t> copy(bytes);
    auto r = decode_audio_memory(copy, opt, kName);
    if (!r.ok()) {
        const std::string& m = r.status().message();
        EXPECT_NE(m.find(kName), std::string::npos) << what << ": message does not name the input: " << m;
        EXPECT_NE(r.status().code(), Code::internal) << what << ": " << m;
    } else {
        EXPECT_LE(double(r->size()), (opt.max_duration_s + 1) * opt.sample_rate) << what;
        for (float v : *r) {
            EXPECT_TRUE(std::isfinite(v) && v >= -1.0f && v <= 1.0f) << what << ": " << v;
            if (!(std::isfinite(v) && v >= -1.0f && v <= 1.0f)) break;
        }
    }
    return r;
}

std::string error_of(const std::vector<uint8_t>& bytes, const std::string& what, const AudioOptions& opt = {}) {
    auto r = decode_checked(bytes, what, opt);
    EXPECT_FALSE(r.ok()) << what << ": decoded " << (r.ok() ? r->size() : 0) << " samples, expected an error";
    return r.ok() ? std::string() : r.status().message();
}

// A canonical 44-byte-header PCM WAV; fields are patched by the tests.
std::vector<uint8_t> make_wav(uint16_t format, uint16_t channels, uint32_t rate, uint16_t bits, uint32_t data_bytes,
                              size_t actual_data_bytes) {
    std::vector<uint8_t> b;
    auto put = [&](const void* p, size_t n) { b.insert(b.end(), (const uint8_t*)p, (const uint8_t*)p + n); };
    auto u32 = [&](uint32_t v) { put(&v, 4); };
    auto u16 = [&](uint16_t v) { put(&v, 2); };
    put("RIFF", 4);
    u32(uint32_t(36 + data_bytes));
    put("WAVEfmt ", 8);
    u32(16);
    u16(format);
    u16(channels);
    u32(rate);
    u32(uint32_t(uint64_t(rate) * channels * bits / 8));
    u16(uint16_t(channels * bits / 8));
    u16(bits);
    put("data", 4);
    u32(data_bytes);
    std::mt19937 rng(7);
    for (size_t i = 0; i < actual_data_bytes; ++i) b.push_back(uint8_t(rng() >> 24) & 0x1f); // quiet noise
    return b;
}

TEST_F(AudioHostile, ZeroLength) {
    std::string m = error_of({}, "empty");
    EXPECT_NE(m.find("empty"), std::string::npos) << m;
    // A missing file is not_found and names the path.
    auto r = decode_audio_file("/nonexistent/dir/x.wav");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::not_found);
    EXPECT_NE(r.status().message().find("/nonexistent/dir/x.wav"), std::string::npos);
}

TEST_F(AudioHostile, TextAndImageAreNotAudio) {
    const std::string text = "This is a transcript, not audio.\nLine two.\n";
    std::string m = error_of(std::vector<uint8_t>(text.begin(), text.end()), "text");
    std::printf("[ message  ] %s\n", m.c_str());
    m = error_of(read_bytes(fixtures().path("image.png")), "png");
    std::printf("[ message  ] %s\n", m.c_str());
    EXPECT_NE(m.find("not an audio or video container"), std::string::npos) << m;
}

TEST_F(AudioHostile, VideoWithoutAudio) {
    std::string m = error_of(read_bytes(fixtures().path("video_only.mkv")), "video only");
    std::printf("[ message  ] %s\n", m.c_str());
    EXPECT_EQ(m.rfind(std::string("no audio stream in ") + kName, 0), 0u) << m;
}

// Truncation at k/16 of the length, k = 1..15. Formats whose container declares the audio's length
// must report it; OGG computes its length from the last page present, so a cut OGG is a valid shorter
// file and may decode (to less than the whole).
TEST_F(AudioHostile, TruncatedEverySixteenth) {
    struct Case {
        std::string path;
        bool must_fail;
    };
    const std::vector<Case> cases = {
        {data_path("whisper/jfk.wav"), true}, {data_path("whisper/jfk.mp3"), true}, {fixtures().path("jfk.flac"), true},
        {fixtures().path("jfk.mp4"), true},   {fixtures().path("jfk.mkv"), true},   {fixtures().path("jfk.ogg"), false},
    };
    for (const Case& c : cases) {
        const std::vector<uint8_t> full = read_bytes(c.path);
        ASSERT_GT(full.size(), 1000u) << c.path;
        std::string summary;
        for (int k = 1; k < 16; ++k) {
            std::vector<uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(full.size() * size_t(k) / 16));
            const std::string what = c.path + " cut at " + std::to_string(k) + "/16";
            auto r = decode_checked(cut, what);
            summary += r.ok() ? "D" : "E";
            if (r.ok()) {
                EXPECT_FALSE(c.must_fail) << what << ": decoded " << r->size() << " samples without an error";
                EXPECT_LT(r->size(), 176000u) << what;
            } else if (k == 8) {
                std::printf("[ message  ] %s\n", r.status().message().c_str());
            }
        }
        std::printf("[ measured ] %-24s cuts 1..15/16: %s (E = error, D = decoded a shorter file)\n",
                    c.path.substr(c.path.rfind('/') + 1).c_str(), summary.c_str());
    }
}

// Every prefix of 1..160 bytes (inside the headers) is an error, never a decode of garbage.
TEST_F(AudioHostile, TinyPrefixes) {
    for (const std::string& path : fixtures().all_inputs()) {
        const std::vector<uint8_t> full = read_bytes(path);
        for (size_t n = 1; n <= 160; ++n) {
            std::vector<uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(n));
            auto r = decode_checked(cut, path + " prefix " + std::to_string(n));
            EXPECT_FALSE(r.ok()) << path << " prefix " << n << " decoded " << r->size() << " samples";
        }
    }
}

// The open deadline (hang protection while probing) gives a clear error.
TEST_F(AudioHostile, OpenDeadline) {
    AudioOptions opt;
    opt.open_timeout_s = 1e-7; // already over when FFmpeg first reads
    auto r = decode_audio_file(data_path("whisper/jfk.mp3"), opt);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("open_timeout_s"), std::string::npos) << r.status().message();
}

// With allow_truncated, a cut file decodes what is there.
TEST_F(AudioHostile, AllowTruncatedDecodesThePrefix) {
    const std::vector<uint8_t> full = read_bytes(data_path("whisper/jfk.wav"));
    std::vector<uint8_t> cut(full.begin(), full.begin() + std::ptrdiff_t(full.size() / 2));
    AudioOptions opt;
    opt.allow_truncated = true;
    auto r = decode_checked(cut, "half wav", opt);
    ASSERT_TRUE(r.ok()) << r.status().message();
    const std::vector<float> ref = fixtures().jfk_ref;
    const size_t header = full.size() - 2 * ref.size(); // jfk.wav has a LIST chunk: 78 header bytes
    ASSERT_EQ(r->size(), (full.size() / 2 - header) / 2);
    for (size_t i = 0; i < r->size(); ++i) ASSERT_EQ((*r)[i], ref[i]) << i;
}

TEST_F(AudioHostile, EnormousHeaderFields) {
    std::vector<std::pair<std::string, std::vector<uint8_t>>> inputs;
    // WAV: data size 256 MiB or 4 GiB with 1 s present; fmt chunk size 4 GiB.
    inputs.push_back({"wav data 256 MiB", make_wav(1, 1, 16000, 16, 256u << 20, 32000)});
    inputs.push_back({"wav data 4 GiB", make_wav(1, 1, 16000, 16, 0xFFFFFFF0u, 32000)}); // "unknown": streamed
    {
        auto b = make_wav(1, 1, 16000, 16, 32000, 32000);
        b[16] = b[17] = b[18] = b[19] = 0xFF; // fmt chunk length
        inputs.push_back({"wav fmt size 4 GiB", b});
    }
    // MP3 with an ID3v2 tag that claims 256 MiB (the largest syncsafe size) in front of jfk.mp3.
    {
        std::vector<uint8_t> b = {'I', 'D', '3', 4, 0, 0, 0x7f, 0x7f, 0x7f, 0x7f};
        auto mp3 = read_bytes(data_path("whisper/jfk.mp3"));
        b.insert(b.end(), mp3.begin(), mp3.end());
        inputs.push_back({"id3v2 256 MiB", b});
    }
    // Matroska: an EBML header element with an 8-byte size of 2^56 - 2.
    {
        std::vector<uint8_t> b = {0x1A, 0x45, 0xDF, 0xA3, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x42, 0x86, 0x81, 0x01};
        b.resize(4096, 0);
        inputs.push_back({"ebml size 2^56", b});
    }
    // Every length field of the real MKV's first 64 bytes set to its maximum (bytes 0xFF).
    {
        auto b = read_bytes(fixtures().path("jfk.mkv"));
        for (size_t i = 4; i < 64; i += 5) b[i] = 0xFF;
        inputs.push_back({"mkv header 0xFF", b});
    }
    for (auto& [what, bytes] : inputs) {
        auto r = decode_checked(bytes, what);
        std::printf("[ outcome  ] %-20s %s\n", what.c_str(),
                    r.ok() ? ("decoded " + std::to_string(r->size()) + " samples").c_str() : r.status().message().c_str());
        if (what == "wav data 256 MiB") {
            EXPECT_FALSE(r.ok()) << what << ": a 256 MiB data chunk with 1 s present is truncated";
        }
    }
}

TEST_F(AudioHostile, AbsurdChannelsAndRates) {
    std::string m = error_of(make_wav(1, 1000, 16000, 16, 32000, 32000), "1000 channels");
    std::printf("[ message  ] %s\n", m.c_str());
    m = error_of(make_wav(1, 1, 4000000000u, 16, 32000, 32000), "rate 4e9");
    std::printf("[ message  ] %s\n", m.c_str());
    m = error_of(make_wav(1, 1, 0, 16, 32000, 32000), "rate 0");
    std::printf("[ message  ] %s\n", m.c_str());
    m = error_of(make_wav(1, 0, 16000, 16, 32000, 32000), "0 channels");
    std::printf("[ message  ] %s\n", m.c_str());
    // Odd but valid: 3 channels of 24-bit at 11025 Hz, and f32 samples holding NaN/Inf/huge values.
    auto ok = decode_checked(make_wav(1, 3, 11025, 24, 3 * 3 * 11025, 3 * 3 * 11025), "3ch s24");
    ASSERT_TRUE(ok.ok()) << ok.status().message();
    EXPECT_NEAR(double(ok->size()), 16000.0, 16.0);
    auto f32 = make_wav(3, 1, 16000, 32, 16000 * 4, 0);
    const float specials[] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, 0.5f, -2.0f};
    for (int i = 0; i < 16000; ++i) {
        float v = specials[i % 7];
        f32.insert(f32.end(), (uint8_t*)&v, (uint8_t*)&v + 4);
    }
    auto fr = decode_checked(f32, "f32 specials");
    ASSERT_TRUE(fr.ok()) << fr.status().message();
    EXPECT_EQ(fr->size(), 16000u);
}

// Random byte damage after the header: an error naming the input or finite samples, never a crash.
TEST_F(AudioHostile, CorruptedBytes) {
    std::mt19937 rng(12345);
    for (const std::string& path : fixtures().all_inputs()) {
        const std::vector<uint8_t> full = read_bytes(path);
        std::string summary;
        for (int trial = 0; trial < 6; ++trial) {
            std::vector<uint8_t> b = full;
            // Trials 0-2 damage 1% of the bytes anywhere, 3-5 overwrite a 256-byte run (headers included).
            if (trial < 3) {
                for (size_t i = 0; i < b.size() / 100; ++i) b[rng() % b.size()] = uint8_t(rng());
            } else {
                size_t at = trial == 3 ? 0 : rng() % (b.size() - 256);
                for (size_t i = 0; i < 256; ++i) b[at + i] = uint8_t(rng());
            }
            auto r = decode_checked(b, path + " trial " + std::to_string(trial));
            summary += r.ok() ? "D" : "E";
        }
        std::printf("[ measured ] %-24s 6 corruptions: %s\n", path.substr(path.rfind('/') + 1).c_str(), summary.c_str());
    }
}

TEST_F(AudioHostile, DurationCap) {
    AudioOptions opt;
    opt.max_duration_s = 5;
    auto r = decode_audio_file(data_path("whisper/jfk.wav"), opt);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("max_duration_s"), std::string::npos) << r.status().message();
}

TEST_F(AudioHostile, CancelAndBadOptions) {
    std::atomic<bool> cancel{false};
    AudioOptions opt;
    opt.cancel = &cancel;
    auto reader = AudioReader::open(data_path("whisper/jfk.mp3"), opt);
    ASSERT_TRUE(reader.ok()) << reader.status().message();
    std::vector<float> buf(1000);
    ASSERT_TRUE((*reader)->read(buf.data(), buf.size()).ok());
    cancel = true;
    Status st;
    for (int i = 0; i < 1000 && st.ok(); ++i) { // pending samples drain first, then the next read stops
        auto n = (*reader)->read(buf.data(), buf.size());
        if (!n.ok()) st = n.status();
        else ASSERT_GT(*n, 0u);
    }
    EXPECT_EQ(st.code(), Code::cancelled) << st.message();

    AudioOptions bad;
    bad.sample_rate = 0;
    auto r = decode_audio_file(data_path("whisper/jfk.wav"), bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Code::invalid_argument);
}

} // namespace
