// Speech-to-text requests of one loaded whisper model: a worker thread of its own (LLM schedulers
// never wait for it) takes uploads in FIFO order, decodes the audio in memory (src/media), computes
// the log-mel spectrogram and transcribes, one request at a time (the Runtime holds one window's
// state). At most max_queue requests wait; submit() refuses more (the route answers 429).
// Waiting jobs hold only the uploaded (compressed) bytes; PCM and mel exist for the running one.
#pragma once

#include "base/status.h"
#include "base/thread_pool.h"
#include "ops/backend.h"
#include "whisper/model.h"
#include "whisper/runtime.h"
#include "whisper/transcribe.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace vkai::server {

// What a whisper loader produces; destroyed in reverse order (runtime before backend and model).
struct LoadedWhisper {
    std::unique_ptr<whisper::Model> model;
    std::unique_ptr<Backend> backend;
    std::unique_ptr<ThreadPool> own_pool; // the log-mel pool when the backend is not the CPU's
    std::unique_ptr<whisper::Runtime> rt;
    int threads = 0;    // CPU threads (<= 0: all cores): the CPU backend, the mel pool
    std::string device; // for logs: the backend and why it was chosen

    // The log-mel spectrogram runs on the CPU: on the CPU backend's threads, or on a pool of its own.
    ThreadPool& mel_pool();
    // The device failed (at load, or device_lost / out_of_memory mid-file): continue on the CPU
    // backend with a new runtime. Returns the cause when already on the CPU.
    Status fall_back_to_cpu(const Status& cause);
};

struct AudioRequest {
    std::string data;     // the uploaded file's bytes
    std::string filename; // for messages
    whisper::TranscribeOptions opt;
    double max_duration_s = 4 * 3600; // decoded audio longer than this is refused
};

class AudioJob {
public:
    explicit AudioJob(AudioRequest r) : req(std::move(r)) {}
    // Blocks until the worker finished (or dropped) the job.
    Result<whisper::Transcript> wait();
    // After wait(): true when the error lies in the upload (undecodable audio): the client's fault.
    bool input_error() const;
    double queued_s() const;  // time waiting for the worker
    double decode_s() const;  // audio decode + mel

private:
    friend class AudioQueue;
    void finish(Result<whisper::Transcript> r, bool input_error);

    AudioRequest req;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool done_ = false, input_error_ = false;
    std::optional<Result<whisper::Transcript>> result_;
    double submitted_ = 0, started_ = 0, decoded_ = 0;
};

struct AudioMetrics {
    int64_t queued = 0;   // waiting
    bool busy = false;    // a job is running
    uint64_t done = 0;    // finished since load (any outcome)
    double audio_s = 0;   // seconds of audio transcribed
};

class AudioQueue {
public:
    AudioQueue(LoadedWhisper& w, int max_queue);
    ~AudioQueue(); // waiting jobs end as cancelled; the running one is finished first
    AudioQueue(const AudioQueue&) = delete;
    AudioQueue& operator=(const AudioQueue&) = delete;

    // nullptr when max_queue jobs are already waiting (or the queue was drained).
    std::shared_ptr<AudioJob> submit(AudioRequest r);
    // Shutdown, before the HTTP threads are joined: waiting jobs end as cancelled, new ones are
    // refused, a running audio decode stops; a running transcription finishes (it has no cancel point).
    void drain();
    AudioMetrics metrics() const;

private:
    void worker();
    void run(AudioJob& job);

    LoadedWhisper& w_;
    const int max_queue_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<AudioJob>> queue_;
    bool stop_ = false, busy_ = false;
    std::atomic<bool> cancel_{false}; // stops a running audio decode at shutdown
    uint64_t done_ = 0;
    double audio_s_ = 0;
    std::thread thread_;
};

} // namespace vkai::server
