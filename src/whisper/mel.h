// Whisper's log-mel spectrogram, as the reference computes it: 16 kHz mono audio followed by 30 s
// of zeros, 400-point periodic Hann window, hop 160, centered frames (reflect padding), |STFT|^2,
// mel filterbank, log10(max(., 1e-10)), clamp to (global max - 8), (x + 4) / 4. The last STFT frame
// is dropped, so n samples give (n + 480000) / 160 frames.
#pragma once

#include "base/status.h"
#include "base/thread_pool.h"

#include <complex>
#include <cstdint>
#include <span>
#include <vector>

namespace vkai::whisper {

constexpr int kSampleRate = 16000;
constexpr int kNFft = 400;
constexpr int kHop = 160;
constexpr int kNFreq = kNFft / 2 + 1;    // 201
constexpr int kChunkSeconds = 30;
constexpr int kChunkSamples = kSampleRate * kChunkSeconds; // 480000
constexpr int kChunkFrames = kChunkSamples / kHop;         // 3000 mel frames per window

// In-place complex FFT of any length (mixed radix: factors 2..7 recursively, plain DFT otherwise).
void fft(std::vector<std::complex<double>>& x);

// librosa.filters.mel(sr, n_fft, n_mels) defaults (slaney mel scale, slaney area norm, fmin 0,
// fmax sr/2), as whisper's mel_filters.npz: (n_mels rows of n_fft/2+1 bins), row-major.
std::vector<float> mel_filterbank(int n_mels, int sample_rate = kSampleRate, int n_fft = kNFft);

struct Mel {
    int n_mels = 0;
    int64_t n_frames = 0;
    std::vector<float> data; // (n_mels rows of n_frames), row-major: data[m * n_frames + t]
    float at(int m, int64_t t) const { return data[size_t(m) * size_t(n_frames) + size_t(t)]; }
};

// filters: n_mels rows of kNFreq. audio: samples in [-1, 1] at 16 kHz (may be empty).
Result<Mel> log_mel(std::span<const float> audio, std::span<const float> filters, int n_mels, ThreadPool& pool);

} // namespace vkai::whisper
