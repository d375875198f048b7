// Audio decode (src/media) against jfk.wav's own samples: the WAV itself bit-exact, jfk.mp3 and files
// that the Debian ffmpeg CLI makes from jfk.wav at test time (FLAC, 44.1 kHz stereo WAV, MP4/AAC with a
// video track, MKV/Vorbis with a video track, OGG/Opus) within measured tolerances; the streaming
// reader and memory input equal to the whole-file decode. Hostile inputs are in test_audio_hostile.cpp.
#include "test_audio_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

using namespace vkai;
using namespace vkai::media;
using namespace vkai::test;

namespace {

class AudioDecode : public ::testing::Test {
protected:
    static void SetUpTestSuite() { fixtures().make(); }
    static AudioFixtures& fixtures() {
        static AudioFixtures f;
        return f;
    }
    void SetUp() override { ASSERT_TRUE(fixtures().ok) << fixtures().error; }
    const std::vector<float>& ref() { return fixtures().jfk_ref; }

    // Decodes `path`, aligns it to jfk.wav and checks the match; prints the measurement.
    Match check_against_ref(const std::string& path, double min_snr_db, int max_abs_lag) {
        auto pcm = decode_audio_file(path);
        EXPECT_TRUE(pcm.ok()) << pcm.status().message();
        if (!pcm.ok()) return {};
        Match m = align(*pcm, ref(), 320);
        std::printf("[ measured ] %-28s %zu samples (ref %zu), lag %+d, corr %.6f, SNR %.1f dB, max |err| %.4f\n",
                    path.substr(path.rfind('/') + 1).c_str(), pcm->size(), ref().size(), m.lag, m.corr, m.snr_db, m.max_abs);
        EXPECT_GE(m.snr_db, min_snr_db) << path;
        EXPECT_GE(m.corr, 0.99) << path;
        EXPECT_LE(std::abs(m.lag), max_abs_lag) << path;
        // Same length as the source within 0.1 s (codec frames pad the end).
        EXPECT_NEAR(double(pcm->size()), double(ref().size()), 1600.0) << path;
        return m;
    }
};

TEST_F(AudioDecode, WavIsExactlyItsSamples) {
    auto pcm = decode_audio_file(data_path("whisper/jfk.wav"));
    ASSERT_TRUE(pcm.ok()) << pcm.status().message();
    ASSERT_EQ(pcm->size(), ref().size());
    for (size_t i = 0; i < ref().size(); ++i) ASSERT_EQ((*pcm)[i], ref()[i]) << "sample " << i;
}

TEST_F(AudioDecode, ReaderReportsDurationAndStream) {
    auto r = AudioReader::open(data_path("whisper/jfk.wav"));
    ASSERT_TRUE(r.ok()) << r.status().message();
    ASSERT_TRUE((*r)->duration_s().has_value());
    EXPECT_NEAR(*(*r)->duration_s(), 11.0, 1e-6);
    EXPECT_EQ((*r)->sample_rate(), 16000);
    EXPECT_NE((*r)->describe().find("pcm_s16le"), std::string::npos) << (*r)->describe();
}

// jfk.mp3 (LAME, 16 kHz mono): FFmpeg drops the encoder delay from the LAME tag, so no lag is expected.
TEST_F(AudioDecode, Mp3MatchesWav) { check_against_ref(data_path("whisper/jfk.mp3"), 36.0, 0); }

TEST_F(AudioDecode, FlacIsLossless) {
    auto pcm = decode_audio_file(fixtures().path("jfk.flac"));
    ASSERT_TRUE(pcm.ok()) << pcm.status().message();
    ASSERT_EQ(*pcm, ref());
}

// 16 kHz -> 44.1 kHz stereo s16 (ffmpeg) -> 16 kHz mono (us): two resamplings and a requantization.
TEST_F(AudioDecode, Wav44kStereoResamplesBack) {
    Match m = check_against_ref(fixtures().path("jfk_44k_stereo.wav"), 65.0, 0);
    EXPECT_LE(m.max_abs, 0.005);
}

// Downmix is the normalized mean: left = jfk, right = silence -> jfk / 2, exactly (no resampling here).
TEST_F(AudioDecode, StereoDownmixIsTheMean) {
    auto pcm = decode_audio_file(fixtures().path("jfk_left_only.wav"));
    ASSERT_TRUE(pcm.ok()) << pcm.status().message();
    ASSERT_EQ(pcm->size(), ref().size());
    for (size_t i = 0; i < ref().size(); ++i) ASSERT_EQ((*pcm)[i], ref()[i] * 0.5f) << "sample " << i;
}

TEST_F(AudioDecode, Mp4AacWithVideoTrack) { check_against_ref(fixtures().path("jfk.mp4"), 42.0, 0); }
TEST_F(AudioDecode, MkvVorbisWithVideoTrack) { check_against_ref(fixtures().path("jfk.mkv"), 17.0, 0); }
TEST_F(AudioDecode, OggOpus) { check_against_ref(fixtures().path("jfk.ogg"), 26.0, 0); }

TEST_F(AudioDecode, OtherOutputRate) {
    AudioOptions opt;
    opt.sample_rate = 8000;
    auto pcm = decode_audio_file(data_path("whisper/jfk.wav"), opt);
    ASSERT_TRUE(pcm.ok()) << pcm.status().message();
    EXPECT_NEAR(double(pcm->size()), 88000.0, 2.0);
}

// Chunked pulls of odd sizes give exactly the whole-file decode, for every fixture.
TEST_F(AudioDecode, StreamingEqualsWhole) {
    for (const std::string& path : fixtures().all_inputs()) {
        auto whole = decode_audio_file(path);
        ASSERT_TRUE(whole.ok()) << whole.status().message();
        for (size_t chunk : {size_t(1), size_t(333), size_t(4096)}) {
            if (chunk == 1 && whole->size() > 200000) continue; // one sample at a time: only for 16 kHz files
            auto r = AudioReader::open(path);
            ASSERT_TRUE(r.ok()) << r.status().message();
            std::vector<float> got, buf(chunk);
            for (;;) {
                auto n = (*r)->read(buf.data(), chunk);
                ASSERT_TRUE(n.ok()) << path << ": " << n.status().message();
                ASSERT_LE(*n, chunk);
                if (*n == 0) break;
                got.insert(got.end(), buf.begin(), buf.begin() + std::ptrdiff_t(*n));
            }
            EXPECT_EQ(got, *whole) << path << " chunk " << chunk;
            EXPECT_EQ((*r)->samples_read(), whole->size());
            auto again = (*r)->read(buf.data(), chunk); // stays at the end
            ASSERT_TRUE(again.ok());
            EXPECT_EQ(*again, 0u);
        }
    }
}

TEST_F(AudioDecode, MemoryEqualsFile) {
    for (const std::string& path : fixtures().all_inputs()) {
        auto whole = decode_audio_file(path);
        ASSERT_TRUE(whole.ok()) << whole.status().message();
        std::vector<uint8_t> bytes = read_bytes(path);
        auto mem = decode_audio_memory(bytes, {}, "upload");
        ASSERT_TRUE(mem.ok()) << mem.status().message();
        EXPECT_EQ(*mem, *whole) << path;
    }
}

TEST_F(AudioDecode, SamplesAreFiniteAndInRange) {
    for (const std::string& path : fixtures().all_inputs()) {
        auto pcm = decode_audio_file(path);
        ASSERT_TRUE(pcm.ok()) << pcm.status().message();
        for (float v : *pcm) ASSERT_TRUE(std::isfinite(v) && v >= -1.0f && v <= 1.0f) << path << ": " << v;
    }
}

} // namespace
