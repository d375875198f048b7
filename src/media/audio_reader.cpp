// AudioReader on FFmpeg 5.1 (libavformat demux -> libavcodec decode -> libswresample to mono f32).
//
// Hardening, because inputs are untrusted (HTTP uploads):
// - FFmpeg reads only through our ByteSource (custom AVIOContext); io_open is denied, so playlists
//   (hls, concat, dash) and external references cannot make it open other files or URLs.
// - Only demuxers of real audio/video containers are accepted (kContainers), checked after probing,
//   so image, subtitle and exotic game-format demuxers never parse untrusted bytes.
// - Probing is bounded (probesize, analyzeduration) and has a deadline (open_timeout_s) through the
//   interrupt callback and our I/O callbacks; after opening, a byte/seek/packet budget proportional to
//   the input size stops a demuxer that loops.
// - Decoded length is capped (max_duration_s); channel counts and rates are range-checked per frame.
#include "media/audio.h"
#include "media/byte_source.h"
#include "media/riff.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/error.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
}

#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>

namespace vkai::media {
namespace {

constexpr int kMaxChannels = 64;
constexpr int kMinInputRate = 1000;
constexpr int kMaxInputRate = 768000;
constexpr int kMinOutputRate = 1000;
constexpr int kMaxOutputRate = 384000;
constexpr int64_t kProbeSize = 10 << 20;              // bytes the probe and stream-info may read
constexpr int64_t kAnalyzeDuration = 10 * AV_TIME_BASE; // media time stream-info may decode
constexpr int kIoBufferSize = 64 << 10;
constexpr uint64_t kMaxBadPackets = 8; // tolerated before the ratio test (players skip isolated bad frames)

// Demuxer names (matched against any of the comma-separated names FFmpeg gives a demuxer).
constexpr const char* kContainers =
    "wav,w64,mp3,flac,ogg,mov,matroska,aac,ac3,eac3,aiff,caf,amr,amrnb,amrwb,au,avi,asf,mpegts,mpeg,flv,"
    "wv,ape,tta,mpc,mpc8,dts,dtshd,truehd,mlp,voc,rm,nut,loas,oma,tak,dsf,xwma,gsm,sox,ircam,nistsphere,qcp,mxf,dv";

void init_ffmpeg_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        av_log_set_level(AV_LOG_QUIET);
        // One FFmpeg allocation never needs more for audio; a hostile size field fails instead of allocating.
        av_max_alloc(256u << 20);
    });
}

std::string av_error_text(int err) {
    char buf[AV_ERROR_MAX_STRING_SIZE] = {};
    if (av_strerror(err, buf, sizeof buf) < 0) std::snprintf(buf, sizeof buf, "FFmpeg error %d", err);
    return buf;
}

enum class Stop { none, cancelled, timeout, budget };

} // namespace

struct AudioReader::Impl {
    std::string name;
    AudioOptions opt;
    ByteSource src;

    AVIOContext* io = nullptr;
    AVFormatContext* fmt = nullptr;
    AVCodecContext* dec = nullptr;
    SwrContext* swr = nullptr;
    AVPacket* pkt = nullptr;
    AVFrame* frame = nullptr;
    int stream = -1;

    // The input format swr is configured for; a frame that differs rebuilds it.
    AVChannelLayout swr_layout{};
    int swr_rate = 0;
    int swr_format = -1;

    std::vector<float> pending; // converted samples not yet returned
    size_t pending_pos = 0;
    bool demux_eof = false;
    bool done = false;
    Status error; // sticky

    std::optional<double> declared_s; // the container's length of the audio
    bool declared_trusted = false;    // exact enough to call a shorter decode "truncated"
    uint64_t max_samples = 0;
    uint64_t out_samples = 0;   // produced by swr
    uint64_t returned = 0;      // handed to the caller
    uint64_t good_packets = 0, bad_packets = 0, packets = 0;
    int last_decode_error = 0;
    double last_error_s = 0;

    // Hang protection.
    Stop stop = Stop::none;
    bool deadline_on = false;
    std::chrono::steady_clock::time_point deadline;
    uint64_t byte_budget = 0, seek_budget = 0, packet_budget = 0;

    ~Impl() {
        av_frame_free(&frame);
        av_packet_free(&pkt);
        swr_free(&swr);
        av_channel_layout_uninit(&swr_layout);
        avcodec_free_context(&dec);
        avformat_close_input(&fmt); // custom I/O: does not free `io`
        if (io) av_freep(&io->buffer);
        avio_context_free(&io);
    }

    // Nonzero when reading must stop; called by FFmpeg (interrupt callback) and by our I/O callbacks.
    int check_stop() {
        if (stop != Stop::none) return 1;
        if (opt.cancel && opt.cancel->load(std::memory_order_relaxed)) stop = Stop::cancelled;
        else if (deadline_on && std::chrono::steady_clock::now() > deadline) stop = Stop::timeout;
        else if (src.bytes_read() > byte_budget || src.seeks() > seek_budget || packets > packet_budget) stop = Stop::budget;
        return stop != Stop::none;
    }

    Status stop_status() const {
        switch (stop) {
        case Stop::cancelled: return fail(Code::cancelled, "%s: decoding cancelled", name.c_str());
        case Stop::timeout:
            return fail(Code::corrupt, "%s: gave up after %.0f s probing the input (AudioOptions::open_timeout_s)",
                        name.c_str(), opt.open_timeout_s);
        case Stop::budget:
            return fail(Code::corrupt,
                        "%s: the demuxer read %llu bytes with %llu seeks and %llu packets from a %llu-byte input without "
                        "finishing; giving up (looping or hostile input)",
                        name.c_str(), (unsigned long long)src.bytes_read(), (unsigned long long)src.seeks(),
                        (unsigned long long)packets, (unsigned long long)src.size());
        case Stop::none: break;
        }
        return Status();
    }

    // An FFmpeg failure as a Status; a stop we caused wins over FFmpeg's generic code.
    Status av_fail(int err, Code code, const char* what) const {
        if (stop != Stop::none) return stop_status();
        if (err == AVERROR(ENOMEM)) return fail(Code::out_of_memory, "%s: out of memory %s", name.c_str(), what);
        return fail(code, "%s: %s: %s", name.c_str(), what, av_error_text(err).c_str());
    }

    double position_s() const { return double(out_samples) / opt.sample_rate; }

    Status open();
    Status select_stream();
    void find_declared_length(const AVStream* st);
    Status fill();
    Status convert(const AVFrame* f);
    Status configure_swr(const AVFrame* f);
    Status drain_swr();
    Status on_decode_error(int err);
    Status finish();
};

namespace {

int read_cb(void* opaque, uint8_t* buf, int size) {
    auto* s = static_cast<AudioReader::Impl*>(opaque);
    if (s->check_stop()) return AVERROR_EXIT;
    int64_t n = s->src.read(buf, size_t(size));
    if (n < 0) return AVERROR(int(-n));
    return n == 0 ? AVERROR_EOF : int(n);
}

int64_t seek_cb(void* opaque, int64_t offset, int whence) {
    auto* s = static_cast<AudioReader::Impl*>(opaque);
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return int64_t(s->src.size());
    if (s->check_stop()) return AVERROR_EXIT;
    int64_t r = s->src.seek(offset, whence);
    return r < 0 ? AVERROR(EINVAL) : r;
}

int interrupt_cb(void* opaque) { return static_cast<AudioReader::Impl*>(opaque)->check_stop(); }

// Nested opens (playlists, external references) are never allowed.
int deny_io_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) { return AVERROR(EPERM); }

} // namespace

Status AudioReader::Impl::open() {
    init_ffmpeg_once();
    if (opt.sample_rate < kMinOutputRate || opt.sample_rate > kMaxOutputRate)
        return fail(Code::invalid_argument, "%s: output sample rate %d Hz is outside %d..%d", name.c_str(),
                    opt.sample_rate, kMinOutputRate, kMaxOutputRate);
    if (!(opt.max_duration_s > 0) || !(opt.open_timeout_s > 0))
        return fail(Code::invalid_argument, "%s: max_duration_s and open_timeout_s must be > 0", name.c_str());
    if (src.size() == 0) return fail(Code::invalid_argument, "%s: empty input (0 bytes), not audio", name.c_str());
    max_samples = uint64_t(std::min(opt.max_duration_s * opt.sample_rate, 1e15));
    // Generous: a legit demuxer reads the input a few times at most; these only stop loops.
    byte_budget = 16 * src.size() + (256u << 20);
    seek_budget = 65536 + src.size() / 64;
    packet_budget = 2 * src.size() + (1u << 20);

    auto* buf = static_cast<uint8_t*>(av_malloc(kIoBufferSize));
    if (!buf) return fail(Code::out_of_memory, "%s: cannot allocate the I/O buffer", name.c_str());
    io = avio_alloc_context(buf, kIoBufferSize, 0, this, read_cb, nullptr, seek_cb);
    if (!io) {
        av_free(buf);
        return fail(Code::out_of_memory, "%s: cannot allocate the I/O context", name.c_str());
    }
    fmt = avformat_alloc_context();
    if (!fmt) return fail(Code::out_of_memory, "%s: cannot allocate the format context", name.c_str());
    fmt->pb = io;
    fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    fmt->interrupt_callback = {interrupt_cb, this};
    fmt->io_open = deny_io_open;
    fmt->probesize = kProbeSize;
    fmt->max_analyze_duration = kAnalyzeDuration;
    fmt->max_streams = 256;
    fmt->format_whitelist = av_strdup(kContainers);

    deadline_on = true;
    deadline = std::chrono::steady_clock::now() +
               std::chrono::microseconds(int64_t(std::min(opt.open_timeout_s, 1e6) * 1e6));

    const AVInputFormat* ifmt = nullptr;
    int r = av_probe_input_buffer2(io, &ifmt, name.c_str(), fmt, 0, kProbeSize);
    if (r < 0 || !ifmt) return av_fail(r, Code::invalid_argument, "not a recognized audio or video format");
    if (av_match_list(ifmt->name, kContainers, ',') <= 0)
        return fail(Code::unsupported, "%s: looks like %s ('%s'), not an audio or video container vkai reads",
                    name.c_str(), ifmt->long_name ? ifmt->long_name : ifmt->name, ifmt->name);
    r = avformat_open_input(&fmt, name.c_str(), ifmt, nullptr); // frees fmt on failure
    if (r < 0) return av_fail(r, Code::corrupt, "cannot read the container (truncated or invalid data)");
    r = avformat_find_stream_info(fmt, nullptr);
    if (r < 0) return av_fail(r, Code::corrupt, "cannot read the stream info (truncated or invalid data)");
    VKAI_TRY(select_stream());
    deadline_on = false; // decoding a long file legitimately takes long; the budgets still apply

    pkt = av_packet_alloc();
    frame = av_frame_alloc();
    if (!pkt || !frame) return fail(Code::out_of_memory, "%s: cannot allocate a packet/frame", name.c_str());
    return Status();
}

Status AudioReader::Impl::select_stream() {
    const AVCodec* codec = nullptr;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (si == AVERROR_STREAM_NOT_FOUND) {
        unsigned video = 0;
        for (unsigned i = 0; i < fmt->nb_streams; ++i) video += fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO;
        return fail(Code::invalid_argument, "no audio stream in %s (%s container with %u streams, %u video)",
                    name.c_str(), fmt->iformat->name, fmt->nb_streams, video);
    }
    if (si == AVERROR_DECODER_NOT_FOUND) {
        for (unsigned i = 0; i < fmt->nb_streams; ++i)
            if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
                return fail(Code::unsupported, "%s: the audio codec '%s' cannot be decoded by this FFmpeg build",
                            name.c_str(), avcodec_get_name(fmt->streams[i]->codecpar->codec_id));
    }
    if (si < 0 || !codec) return av_fail(si, Code::corrupt, "cannot choose an audio stream");
    stream = si;
    for (unsigned i = 0; i < fmt->nb_streams; ++i)
        if (int(i) != si) fmt->streams[i]->discard = AVDISCARD_ALL; // the demuxer skips video etc.

    AVStream* st = fmt->streams[si];
    const AVCodecParameters* par = st->codecpar;
    // 0 = not known yet (frames will say); anything else must be sane now.
    if (par->ch_layout.nb_channels < 0 || par->ch_layout.nb_channels > kMaxChannels)
        return fail(Code::unsupported, "%s: %d audio channels (the limit is %d)", name.c_str(), par->ch_layout.nb_channels,
                    kMaxChannels);
    if (par->sample_rate != 0 && (par->sample_rate < kMinInputRate || par->sample_rate > kMaxInputRate))
        return fail(Code::unsupported, "%s: sample rate %d Hz is outside %d..%d", name.c_str(), par->sample_rate,
                    kMinInputRate, kMaxInputRate);

    find_declared_length(st);

    dec = avcodec_alloc_context3(codec);
    if (!dec) return fail(Code::out_of_memory, "%s: cannot allocate the decoder", name.c_str());
    int r = avcodec_parameters_to_context(dec, par);
    if (r < 0) return av_fail(r, Code::corrupt, "invalid audio codec parameters");
    dec->thread_count = 1;
    dec->pkt_timebase = st->time_base;
    r = avcodec_open2(dec, codec, nullptr);
    if (r < 0) return av_fail(r, Code::corrupt, "cannot open the audio decoder");
    return Status();
}

// What the container says the audio's length is, and whether it is evidence enough to call a shorter
// decode truncated. A length FFmpeg estimated from the bit rate and the file size is not: it shrinks
// with the file. In order: the stream's own duration, Matroska's per-track DURATION tag, a WAV data
// chunk's size, the container's duration when the audio is its only stream.
void AudioReader::Impl::find_declared_length(const AVStream* st) {
    const bool estimated = fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
    const AVCodecParameters* par = st->codecpar;
    int h = 0, m = 0;
    double sec = 0;
    const AVDictionaryEntry* tag = av_dict_get(st->metadata, "DURATION", nullptr, 0);
    if (!estimated && st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.num > 0 && st->time_base.den > 0) {
        declared_s = double(st->duration) * av_q2d(st->time_base);
        declared_trusted = true;
    } else if (tag && std::sscanf(tag->value, "%d:%d:%lf", &h, &m, &sec) == 3 && h >= 0 && m >= 0 && sec >= 0) {
        declared_s = h * 3600.0 + m * 60.0 + sec;
        declared_trusted = true;
    } else if (av_match_list(fmt->iformat->name, "wav", ',') > 0 && par->block_align > 0 && par->sample_rate > 0) {
        if (auto bytes = riff_data_size(src)) {
            declared_s = double(*bytes / uint64_t(par->block_align)) / par->sample_rate;
            declared_trusted = true;
        }
    }
    if (!declared_s && fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0) {
        declared_s = double(fmt->duration) / AV_TIME_BASE;
        declared_trusted = !estimated && fmt->nb_streams == 1;
    }
    if (declared_s && !(std::isfinite(*declared_s) && *declared_s < 1e9)) {
        declared_s.reset();
        declared_trusted = false;
    }
}

Status AudioReader::Impl::configure_swr(const AVFrame* f) {
    AVChannelLayout in{};
    // Decoders may give only a channel count (unspecified order): use FFmpeg's default layout for it.
    if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&in, f->ch_layout.nb_channels);
    else if (av_channel_layout_copy(&in, &f->ch_layout) < 0) return fail(Code::out_of_memory, "%s: channel layout", name.c_str());
    if (swr && swr_rate == f->sample_rate && swr_format == f->format && av_channel_layout_compare(&in, &swr_layout) == 0) {
        av_channel_layout_uninit(&in);
        return Status();
    }
    if (swr) VKAI_TRY(drain_swr()); // the format changed mid-stream: finish the old converter first
    swr_free(&swr);
    av_channel_layout_uninit(&swr_layout);
    swr_layout = in; // takes ownership
    swr_rate = f->sample_rate;
    swr_format = f->format;

    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    int r = swr_alloc_set_opts2(&swr, &mono, AV_SAMPLE_FMT_FLT, opt.sample_rate, &swr_layout,
                                AVSampleFormat(f->format), f->sample_rate, 0, nullptr);
    if (r < 0 || !swr) return av_fail(r < 0 ? r : AVERROR(ENOMEM), Code::unsupported, "cannot set up the resampler");
    // Normalize the downmix matrix as FFmpeg does for integer output: stereo -> (L+R)/2, never louder.
    av_opt_set_double(swr, "rematrix_maxval", 1.0, 0);
    r = swr_init(swr);
    if (r < 0) {
        char desc[128] = {};
        av_channel_layout_describe(&swr_layout, desc, sizeof desc);
        return fail(Code::unsupported, "%s: cannot convert %s %d Hz %s audio to mono: %s", name.c_str(), desc, f->sample_rate,
                    av_get_sample_fmt_name(AVSampleFormat(f->format)) ? av_get_sample_fmt_name(AVSampleFormat(f->format)) : "?",
                    av_error_text(r).c_str());
    }
    return Status();
}

Status AudioReader::Impl::convert(const AVFrame* f) {
    const int ch = f->ch_layout.nb_channels;
    if (ch < 1 || ch > kMaxChannels)
        return fail(Code::unsupported, "%s: a frame at %.2f s has %d channels (1..%d supported)", name.c_str(), position_s(), ch,
                    kMaxChannels);
    if (f->sample_rate < kMinInputRate || f->sample_rate > kMaxInputRate)
        return fail(Code::unsupported, "%s: a frame at %.2f s has sample rate %d Hz (%d..%d supported)", name.c_str(),
                    position_s(), f->sample_rate, kMinInputRate, kMaxInputRate);
    if (f->nb_samples <= 0) return Status();
    VKAI_TRY(configure_swr(f));

    const int cap = swr_get_out_samples(swr, f->nb_samples);
    if (cap < 0) return av_fail(cap, Code::internal, "resampler");
    const size_t old = pending.size();
    pending.resize(old + size_t(cap));
    auto* out = reinterpret_cast<uint8_t*>(pending.data() + old);
    int n = swr_convert(swr, &out, cap, const_cast<const uint8_t**>(f->extended_data), f->nb_samples);
    if (n < 0) return av_fail(n, Code::corrupt, "resampling");
    pending.resize(old + size_t(n));
    out_samples += uint64_t(n);
    if (out_samples > max_samples)
        return fail(Code::invalid_argument, "%s: longer than the limit of %.0f s (AudioOptions::max_duration_s)", name.c_str(),
                    opt.max_duration_s);
    return Status();
}

Status AudioReader::Impl::drain_swr() {
    if (!swr) return Status();
    const int cap = swr_get_out_samples(swr, 0);
    if (cap <= 0) return Status();
    const size_t old = pending.size();
    pending.resize(old + size_t(cap));
    auto* out = reinterpret_cast<uint8_t*>(pending.data() + old);
    int n = swr_convert(swr, &out, cap, nullptr, 0);
    if (n < 0) return av_fail(n, Code::corrupt, "resampling");
    pending.resize(old + size_t(n));
    out_samples += uint64_t(n);
    return Status();
}

// A packet the decoder rejects is skipped, as players do, unless bad packets are common.
Status AudioReader::Impl::on_decode_error(int err) {
    if (stop != Stop::none || err == AVERROR_EXIT) return stop_status();
    if (err == AVERROR(ENOMEM)) return av_fail(err, Code::out_of_memory, "decoding");
    ++bad_packets;
    last_decode_error = err;
    last_error_s = position_s();
    if (bad_packets > kMaxBadPackets && bad_packets * 10 > good_packets)
        return fail(Code::corrupt, "%s: invalid audio data: %llu of %llu packets failed to decode, the last at %.2f s: %s",
                    name.c_str(), (unsigned long long)bad_packets, (unsigned long long)(good_packets + bad_packets),
                    last_error_s, av_error_text(err).c_str());
    return Status();
}

Status AudioReader::Impl::finish() {
    VKAI_TRY(drain_swr());
    if (out_samples == 0) {
        if (bad_packets)
            return fail(Code::corrupt, "%s: no audio could be decoded (%llu packets failed: %s)", name.c_str(),
                        (unsigned long long)bad_packets, av_error_text(last_decode_error).c_str());
        return fail(Code::invalid_argument, "%s: the audio stream is empty (0 samples)", name.c_str());
    }
    if (declared_s && declared_trusted && !opt.allow_truncated) {
        const double got = position_s();
        if (got + 0.5 + 0.005 * *declared_s < *declared_s)
            return fail(Code::corrupt,
                        "%s: truncated: the container declares %.2f s of audio but the data ends at %.2f s "
                        "(AudioOptions::allow_truncated decodes what is there)",
                        name.c_str(), *declared_s, got);
    }
    return Status();
}

// Decodes until `pending` has samples or the stream ends.
Status AudioReader::Impl::fill() {
    while (pending_pos >= pending.size() && !done) {
        pending.clear();
        pending_pos = 0;
        int r = avcodec_receive_frame(dec, frame);
        if (r == 0) {
            Status st = convert(frame);
            av_frame_unref(frame);
            VKAI_TRY(st);
            continue;
        }
        if (r == AVERROR_EOF || (r == AVERROR(EAGAIN) && demux_eof)) {
            VKAI_TRY(finish());
            done = true;
            break;
        }
        if (r != AVERROR(EAGAIN)) {
            VKAI_TRY(on_decode_error(r));
            continue;
        }
        // The decoder wants input. (Checking here makes cancellation prompt: FFmpeg may not call back for a while.)
        if (check_stop()) return stop_status();
        r = av_read_frame(fmt, pkt);
        if (r < 0) {
            if (stop != Stop::none || check_stop()) return stop_status();
            if (r != AVERROR_EOF && !opt.allow_truncated)
                return fail(Code::corrupt, "%s: truncated or invalid data at %.2f s: %s", name.c_str(), position_s(),
                            av_error_text(r).c_str());
            demux_eof = true;
            r = avcodec_send_packet(dec, nullptr); // flush: the decoder returns its last frames, then EOF
            if (r < 0 && r != AVERROR_EOF) return av_fail(r, Code::corrupt, "flushing the decoder");
            continue;
        }
        ++packets;
        if (pkt->stream_index != stream) {
            av_packet_unref(pkt);
            continue;
        }
        r = avcodec_send_packet(dec, pkt);
        av_packet_unref(pkt);
        if (r < 0) VKAI_TRY(on_decode_error(r));
        else ++good_packets;
    }
    return Status();
}

// ---- AudioReader ----

AudioReader::AudioReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AudioReader::~AudioReader() = default;

Result<std::unique_ptr<AudioReader>> AudioReader::open(const std::string& path, const AudioOptions& opt) {
    auto impl = std::make_unique<Impl>();
    impl->name = path;
    impl->opt = opt;
    VKAI_ASSIGN_OR_RETURN(impl->src, ByteSource::open_file(path));
    VKAI_TRY(impl->open());
    return std::unique_ptr<AudioReader>(new AudioReader(std::move(impl)));
}

Result<std::unique_ptr<AudioReader>> AudioReader::open_memory(std::span<const uint8_t> data, const std::string& name,
                                                              const AudioOptions& opt) {
    auto impl = std::make_unique<Impl>();
    impl->name = name;
    impl->opt = opt;
    impl->src = ByteSource::memory(data);
    VKAI_TRY(impl->open());
    return std::unique_ptr<AudioReader>(new AudioReader(std::move(impl)));
}

Result<size_t> AudioReader::read(float* out, size_t max) {
    Impl& s = *impl_;
    if (!s.error.ok()) return s.error;
    size_t written = 0;
    while (written < max) {
        Status st = s.fill();
        if (!st.ok()) {
            s.error = st;
            if (written == 0) return st;
            break; // return what we have; the error comes with the next call
        }
        const size_t avail = s.pending.size() - s.pending_pos;
        if (avail == 0) break; // end of stream
        const size_t n = std::min(avail, max - written);
        const float* src = s.pending.data() + s.pending_pos;
        // Finite and in [-1, 1]: float decoders overshoot, and f32 PCM files may hold anything.
        for (size_t i = 0; i < n; ++i) {
            float v = src[i];
            out[written + i] = std::isfinite(v) ? std::fmin(1.0f, std::fmax(-1.0f, v)) : 0.0f;
        }
        s.pending_pos += n;
        written += n;
    }
    s.returned += written;
    return written;
}

int AudioReader::sample_rate() const { return impl_->opt.sample_rate; }
std::optional<double> AudioReader::duration_s() const { return impl_->declared_s; }
const std::string& AudioReader::name() const { return impl_->name; }
uint64_t AudioReader::samples_read() const { return impl_->returned; }

std::string AudioReader::describe() const {
    const Impl& s = *impl_;
    const AVCodecParameters* par = s.fmt->streams[s.stream]->codecpar;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s in %s, %d Hz, %d ch", avcodec_get_name(par->codec_id), s.fmt->iformat->name,
                  par->sample_rate, par->ch_layout.nb_channels);
    return buf;
}

} // namespace vkai::media
