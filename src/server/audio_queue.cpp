#include "server/audio_queue.h"

#include "base/log.h"
#include "base/timer.h"
#include "cpu/cpu_backend.h"
#ifdef VKAI_HAVE_MEDIA
#include "media/audio.h"
#endif

#include <span>

namespace vkai::server {

ThreadPool& LoadedWhisper::mel_pool() {
    if (backend->name() == "cpu") return static_cast<cpu::CpuBackend&>(*backend).pool();
    if (!own_pool) own_pool = std::make_unique<ThreadPool>(threads);
    return *own_pool;
}

Status LoadedWhisper::fall_back_to_cpu(const Status& cause) {
    if (backend->name() == "cpu") return cause;
    VKAI_LOG_WARN("server: whisper on %s failed (%s); continuing on the cpu", backend->name().c_str(), cause.message().c_str());
    rt.reset(); // before the backend it allocated from
    backend = std::make_unique<cpu::CpuBackend>(threads);
    own_pool.reset();
    device = "cpu (" + device + " failed)";
    VKAI_ASSIGN_OR_RETURN(rt, whisper::Runtime::create(*model, *backend));
    return {};
}

Result<whisper::Transcript> AudioJob::wait() {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return done_; });
    return *result_;
}

bool AudioJob::input_error() const {
    std::lock_guard lk(mu_);
    return input_error_;
}

double AudioJob::queued_s() const {
    std::lock_guard lk(mu_);
    return started_ > 0 ? started_ - submitted_ : 0;
}

double AudioJob::decode_s() const {
    std::lock_guard lk(mu_);
    return decoded_ > 0 ? decoded_ - started_ : 0;
}

void AudioJob::finish(Result<whisper::Transcript> r, bool input_error) {
    {
        std::lock_guard lk(mu_);
        result_.emplace(std::move(r));
        input_error_ = input_error;
        done_ = true;
        req.data = std::string(); // the upload is no longer needed
    }
    cv_.notify_all();
}

AudioQueue::AudioQueue(LoadedWhisper& w, int max_queue) : w_(w), max_queue_(std::max(1, max_queue)) {
    thread_ = std::thread([this] { worker(); });
}

void AudioQueue::drain() {
    std::deque<std::shared_ptr<AudioJob>> dropped;
    {
        std::lock_guard lk(mu_);
        stop_ = true;
        dropped.swap(queue_);
    }
    cancel_ = true;
    cv_.notify_all();
    for (auto& j : dropped) j->finish(fail(Code::cancelled, "the server is shutting down (or the model was unloaded) before the request ran"), false);
}

AudioQueue::~AudioQueue() {
    drain();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<AudioJob> AudioQueue::submit(AudioRequest r) {
    auto job = std::make_shared<AudioJob>(std::move(r));
    {
        std::lock_guard lk(mu_);
        if (stop_ || int64_t(queue_.size()) >= max_queue_) return nullptr;
        job->submitted_ = now_s();
        queue_.push_back(job);
    }
    cv_.notify_all();
    return job;
}

AudioMetrics AudioQueue::metrics() const {
    std::lock_guard lk(mu_);
    AudioMetrics m;
    m.queued = int64_t(queue_.size());
    m.busy = busy_;
    m.done = done_;
    m.audio_s = audio_s_;
    return m;
}

void AudioQueue::worker() {
    for (;;) {
        std::shared_ptr<AudioJob> job;
        {
            std::unique_lock lk(mu_);
            cv_.wait(lk, [&] { return stop_ || !queue_.empty(); });
            if (stop_) return;
            job = std::move(queue_.front());
            queue_.pop_front();
            busy_ = true;
        }
        run(*job);
        std::lock_guard lk(mu_);
        busy_ = false;
        ++done_;
    }
}

void AudioQueue::run(AudioJob& job) {
    {
        std::lock_guard lk(job.mu_);
        job.started_ = now_s();
    }
    const whisper::Model& m = *w_.model;
#ifdef VKAI_HAVE_MEDIA
    media::AudioOptions ao;
    ao.sample_rate = whisper::kSampleRate;
    ao.max_duration_s = job.req.max_duration_s;
    ao.cancel = &cancel_;
    const auto* p = reinterpret_cast<const uint8_t*>(job.req.data.data());
    auto pcm = media::decode_audio_memory(std::span<const uint8_t>(p, job.req.data.size()), ao, job.req.filename);
#else
    Result<std::vector<float>> pcm = fail(Code::unsupported, "%s: this vkai was built without FFmpeg (VKAI_MEDIA=OFF): no audio decoding", job.req.filename.c_str());
#endif
    if (!pcm.ok()) {
        // Cancelled by shutdown is not the client's fault; anything else the decoder says is.
        const bool input = pcm.status().code() != Code::cancelled && pcm.status().code() != Code::out_of_memory;
        job.finish(pcm.status(), input);
        return;
    }
    job.req.data = std::string(); // frees the upload before the spectrogram is computed
    auto mel = whisper::log_mel(*pcm, m.filters(), m.hp().n_mels, w_.mel_pool());
    {
        std::lock_guard lk(job.mu_);
        job.decoded_ = now_s();
    }
    if (!mel.ok()) {
        job.finish(Status(mel.status()).with_context(job.req.filename), false);
        return;
    }
    const int64_t n = int64_t(pcm->size());
    pcm->clear();
    pcm->shrink_to_fit();
    auto tr = whisper::transcribe(*w_.rt, *mel, n, job.req.opt);
    // A GPU that fails mid-file: the same request again on the CPU (the server never dies on a device).
    if (!tr.ok() && (tr.status().code() == Code::device_lost || tr.status().code() == Code::out_of_memory) && w_.fall_back_to_cpu(tr.status()).ok())
        tr = whisper::transcribe(*w_.rt, *mel, n, job.req.opt);
    if (tr.ok()) {
        std::lock_guard lk(mu_);
        audio_s_ += tr->duration;
    } else {
        VKAI_LOG_ERROR("server: transcription of %s failed: %s", job.req.filename.c_str(), tr.status().message().c_str());
    }
    job.finish(std::move(tr), false);
}

} // namespace vkai::server
