// Audio input: any container/codec FFmpeg's libraries read (WAV, MP3, FLAC, OGG/Opus, M4A/AAC,
// MP4/MKV/WebM with video) decoded in-process to mono f32 PCM at one sample rate (16 kHz for whisper).
// The best audio stream is picked, video is ignored, channels are downmixed (FFmpeg's standard matrix,
// normalized: stereo -> (L+R)/2) and resampled with libswresample. Samples are finite and in [-1, 1].
//
// Input is untrusted: every failure is a Status naming the input ("no audio stream in X",
// "X: truncated: ..."), never a crash or a hang (probe limits, an I/O budget, a deadline on opening).
// FFmpeg's headers stay in src/media/*.cpp; FFmpeg's own logging is silenced.
#pragma once

#include "base/status.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vkai::media {

struct AudioOptions {
    int sample_rate = 16000;          // output rate, 1000..384000
    double max_duration_s = 24 * 3600; // decoding more than this is an error (a hostile file cannot fill memory)
    double open_timeout_s = 30;       // deadline for probing + reading stream info (hang protection)
    // When the container declares the audio's length (WAV data size, FLAC STREAMINFO, MP4 mdhd, MP3 Xing
    // frame count, MKV duration of an audio-only file) and the data ends clearly before it, decoding
    // fails with "truncated". Set to accept what is there instead.
    bool allow_truncated = false;
    const std::atomic<bool>* cancel = nullptr; // when set and true, reading stops with Code::cancelled
};

// Streaming decoder: pulls PCM in chunks so a 2-hour file never needs all its samples at once.
// Memory held: FFmpeg's demux/decode state plus at most one decoded frame of output.
class AudioReader {
public:
    ~AudioReader();
    AudioReader(const AudioReader&) = delete;
    AudioReader& operator=(const AudioReader&) = delete;

    static Result<std::unique_ptr<AudioReader>> open(const std::string& path, const AudioOptions& opt = {});
    // Reads from memory (an HTTP upload). `data` must stay alive and unchanged while the reader exists.
    // `name` is what error messages call the input.
    static Result<std::unique_ptr<AudioReader>> open_memory(std::span<const uint8_t> data, const std::string& name,
                                                            const AudioOptions& opt = {});

    // Writes up to `max` (> 0) samples to `out`; returns how many, 0 at the end. Errors are sticky; an error
    // found after some samples were written this call is returned by the next call.
    Result<size_t> read(float* out, size_t max);

    int sample_rate() const;               // output rate (AudioOptions::sample_rate)
    std::optional<double> duration_s() const; // the container's declared length, when it has one
    const std::string& name() const;
    std::string describe() const; // "mp3 (mp3float), 16000 Hz, 1 ch" of the chosen input stream
    uint64_t samples_read() const; // output samples returned so far

    struct Impl;

private:
    explicit AudioReader(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Whole-file forms (they pull through an AudioReader).
Result<std::vector<float>> decode_audio_file(const std::string& path, const AudioOptions& opt = {});
Result<std::vector<float>> decode_audio_memory(std::span<const uint8_t> data, const AudioOptions& opt = {},
                                               const std::string& name = "<memory>");

} // namespace vkai::media
