// /v1/audio/transcriptions and /v1/audio/translations (each also without /v1): OpenAI's multipart
// upload (file, model, language, prompt, response_format, temperature, timestamp_granularities[])
// answered in OpenAI's shapes (json {"text"}, verbose_json with segments, text, srt, vtt). The audio
// is decoded in memory and transcribed by the whisper model's AudioQueue, never by an LLM's worker.
#include "server/api_common.h"

#include "base/log.h"
#include "base/text.h"
#include "base/timer.h"
#ifdef VKAI_HAVE_MEDIA
#include "media/audio.h"
#endif
#include "whisper/transcribe.h"
#include "whisper/vocab.h"

#include <charconv>
#include <cmath>
#include <map>
#include <span>

namespace vkai::server {

namespace {

constexpr size_t kMaxFieldBytes = 64u << 10;  // a text field (the prompt is the longest)
constexpr double kMaxAudioSeconds = 4 * 3600; // decoded length limit per request
constexpr size_t kFormSlack = 1u << 20;       // multipart headers and text fields beside the file

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(uint8_t(c)));
    return s;
}

std::string quote(std::string_view s) { return "'" + printable(s, 80) + "'"; }
std::string fmt_num(double v) { return strf("%g", v); }

struct Form {
    FormPart* file = nullptr;
    std::map<std::string, std::string> fields;
    std::vector<std::string> granularities;

    std::string get(const std::string& k, const std::string& fallback = "") const {
        auto it = fields.find(k);
        return it == fields.end() ? fallback : it->second;
    }
};

Form read_form(const HttpRequest& req) {
    const std::string ct = req.header("Content-Type");
    if (lower(ct).rfind("multipart/form-data", 0) != 0)
        bad_request("expected a multipart/form-data body with the audio in a 'file' part, got Content-Type " + quote(ct.empty() ? "(none)" : ct));
    Form f;
    for (FormPart& p : req.parts) {
        if (p.name == "file") {
            if (f.file) bad_request("more than one 'file' part: send one audio file per request");
            f.file = &p;
            continue;
        }
        if (!p.filename.empty()) bad_request("field " + quote(p.name) + " must be a text field, not a file upload (only 'file' carries a file)");
        if (p.content.size() > kMaxFieldBytes)
            bad_request("field " + quote(p.name) + " is " + std::to_string(p.content.size()) + " bytes long, limit " + std::to_string(kMaxFieldBytes));
        if (p.name == "timestamp_granularities[]" || p.name == "timestamp_granularities") {
            f.granularities.push_back(p.content);
            continue;
        }
        if (!f.fields.emplace(p.name, p.content).second) bad_request("field " + quote(p.name) + " is given more than once");
    }
    if (!f.file) bad_request("no 'file' part: upload the audio as the multipart/form-data field 'file'");
    return f;
}

double number_field(const Form& f, const char* key, double fallback, double lo, double hi) {
    auto it = f.fields.find(key);
    if (it == f.fields.end() || it->second.empty()) return fallback;
    const std::string& s = it->second;
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v) || v < lo || v > hi)
        bad_request(std::string("'") + key + "' must be a number in [" + fmt_num(lo) + ", " + fmt_num(hi) + "], got " + quote(s));
    return v;
}

int int_field(const Form& f, const char* key, int fallback, int lo, int hi) {
    auto it = f.fields.find(key);
    if (it == f.fields.end() || it->second.empty()) return fallback;
    const std::string& s = it->second;
    int v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi)
        bad_request(std::string("'") + key + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + quote(s));
    return v;
}

std::shared_ptr<Engine> acquire_whisper(ServerState& st, const std::string& name) {
    if (!st.models->find(name, ModelKind::whisper)) {
        if (name.empty())
            throw ApiError(404, "not_found_error", "no whisper model is configured: start vkai serve with -m MODEL.bin (or a whisper GGUF)");
        throw ApiError(404, "not_found_error", "model " + quote(name) + " not found; GET /v1/models lists the ids");
    }
    auto e = st.models->acquire(name, ModelKind::whisper);
    if (!e.ok() && e.status().code() == Code::invalid_argument) bad_request(e.status().message());
    if (!e.ok()) throw ApiError(503, "unavailable_error", e.status().message());
    return *e;
}

// A language code (en), a name (english) or auto; returns the code or "auto".
std::string parse_language(const std::string& in, const whisper::Vocab& v, const std::string& model) {
    const std::string l = lower(in);
    if (l.empty() || l == "auto") return "auto";
    int idx = v.language_index(l);
    for (int i = 0; idx < 0 && i < v.n_languages(); ++i)
        if (l == whisper::language_name(i)) idx = i;
    if (idx < 0) {
        if (!v.multilingual()) bad_request("model " + quote(model) + " is English-only: 'language' must be en or auto, got " + quote(in));
        bad_request("'language' " + quote(in) + " is not a language this model knows (ISO-639-1 codes like en, de, pt, ja, or auto)");
    }
    return whisper::kLanguages[idx];
}

std::string trim(std::string_view s) {
    const size_t b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
    return b == std::string_view::npos ? "" : std::string(s.substr(b, e - b + 1));
}

json usage_json(const whisper::Transcript& t) { return {{"type", "duration"}, {"seconds", int64_t(std::ceil(t.duration))}}; }

std::string language_name(const std::string& code) {
    for (int i = 0; i < 100; ++i)
        if (code == whisper::kLanguages[i]) return whisper::language_name(i);
    return code;
}

json verbose_json(const whisper::Transcript& t) {
    json segs = json::array();
    for (size_t i = 0; i < t.segments.size(); ++i) {
        const auto& s = t.segments[i];
        segs.push_back({{"id", i},
                        {"seek", s.seek},
                        {"start", s.start},
                        {"end", s.end},
                        {"text", whisper::utf8_repair(s.text)},
                        {"tokens", s.tokens},
                        {"temperature", s.temperature},
                        {"avg_logprob", s.avg_logprob},
                        {"compression_ratio", s.compression_ratio},
                        {"no_speech_prob", s.no_speech_prob}});
    }
    return {{"task", t.task},
            {"language", language_name(t.language)},
            {"duration", t.duration},
            {"text", trim(whisper::utf8_repair(t.text))},
            {"segments", segs},
            {"usage", usage_json(t)}};
}

void audio(ServerState& st, const HttpRequest& req, HttpResponse& res, bool translate) {
#ifndef VKAI_HAVE_MEDIA
    throw ApiError(501, "not_supported_error", "this vkai was built without FFmpeg (VKAI_MEDIA=OFF): it cannot decode audio");
#endif
    Form form = read_form(req);
    FormPart& file = *form.file;
    const std::string fname = file.filename.empty() ? "the upload" : file.filename;
    if (file.content.empty()) bad_request("the uploaded file " + quote(fname) + " is empty (0 bytes)");
    if (file.content.size() > st.opt.max_audio_bytes)
        throw ApiError(413, "invalid_request_error",
                       "the uploaded file is " + std::to_string(file.content.size()) + " bytes, larger than the limit of " +
                           std::to_string(st.opt.max_audio_bytes) + " bytes (--max-audio-mb)");
    const std::string format = form.get("response_format", "json");
    if (format != "json" && format != "text" && format != "srt" && format != "vtt" && format != "verbose_json")
        bad_request("'response_format' must be json, text, srt, vtt or verbose_json, got " + quote(format));
    for (const auto& g : form.granularities) {
        if (g == "word") bad_request("timestamp_granularities[] 'word' is not supported (segment timestamps only)");
        if (g != "segment") bad_request("timestamp_granularities[] must be 'segment' or 'word', got " + quote(g));
        if (format != "verbose_json") bad_request("timestamp_granularities[] needs response_format verbose_json");
    }
    const double temperature = number_field(form, "temperature", 0.0, 0.0, 1.0);
    whisper::TranscribeOptions opt;
    opt.translate = translate;
    opt.initial_prompt = form.get("prompt");
    // Extensions (whisper.cpp server names): greedy by default, as its server; best_of at fallbacks.
    opt.beam_size = int_field(form, "beam_size", 1, 1, 16);
    opt.best_of = int_field(form, "best_of", 5, 1, 16);
    // OpenAI: 0 lets the model raise the temperature on failed windows; t > 0 starts there.
    opt.temperatures.clear();
    for (double t = temperature; t <= 1.0 + 1e-9; t += 0.2) opt.temperatures.push_back(float(std::min(t, 1.0)));
    const std::string model = form.get("model");

    std::shared_ptr<Engine> eng = acquire_whisper(st, model);
    const whisper::Vocab& vocab = eng->stt.model->vocab();
    if (!translate) opt.language = parse_language(form.get("language"), vocab, eng->spec.id);
    if (translate && !vocab.multilingual()) bad_request("model " + quote(eng->spec.id) + " is English-only: it cannot translate");

    // Not audio at all (an image, text, random bytes): refused before waiting in the queue. Files
    // that only fail later (truncated audio) are refused by the worker with the same status.
#ifdef VKAI_HAVE_MEDIA
    {
        const auto* p = reinterpret_cast<const uint8_t*>(file.content.data());
        media::AudioOptions ao;
        ao.max_duration_s = kMaxAudioSeconds;
        auto probe = media::AudioReader::open_memory(std::span<const uint8_t>(p, file.content.size()), fname, ao);
        if (!probe.ok()) bad_request("the uploaded file is not audio this server can decode: " + probe.status().message());
        if (auto d = (*probe)->duration_s(); d && *d > kMaxAudioSeconds)
            bad_request("the uploaded audio is " + fmt_num(*d) + " s long, longer than the limit of " + fmt_num(kMaxAudioSeconds) + " s");
    }
#endif
    AudioRequest ar;
    ar.data = std::move(file.content);
    ar.filename = fname;
    ar.opt = std::move(opt);
    ar.max_duration_s = kMaxAudioSeconds;
    const double t0 = now_s();
    auto job = eng->audio->submit(std::move(ar));
    if (!job) {
        st.rejected_busy++;
        throw ApiError(429, "unavailable_error", "too many transcriptions are waiting for model " + quote(eng->spec.id) + "; retry later");
    }
    auto tr = job->wait();
    if (!tr.ok()) {
        if (job->input_error()) bad_request("the uploaded audio could not be decoded: " + tr.status().message());
        if (tr.status().code() == Code::cancelled) throw ApiError(503, "unavailable_error", tr.status().message());
        throw ApiError(500, "server_error", "transcription failed: " + tr.status().message());
    }
    VKAI_LOG_INFO("server: %s %s: %.1f s of audio, %zu segments, language %s; waited %.2f s, decode+mel %.2f s, encode %.2f s, decode %.2f s, "
                  "total %.2f s",
                  eng->spec.id.c_str(), translate ? "translated" : "transcribed", tr->duration, tr->segments.size(), tr->language.c_str(),
                  job->queued_s(), job->decode_s(), tr->encode_s, tr->decode_s, now_s() - t0);

    if (format == "json") {
        res.body = dump(json{{"text", trim(whisper::utf8_repair(tr->text))}, {"usage", usage_json(*tr)}});
    } else if (format == "verbose_json") {
        res.body = dump(verbose_json(*tr));
    } else if (format == "text") {
        res.content_type = "text/plain; charset=utf-8";
        res.body = trim(whisper::utf8_repair(tr->text)) + "\n";
    } else if (format == "srt") {
        res.content_type = "text/plain; charset=utf-8";
        res.body = whisper::utf8_repair(whisper::to_srt(*tr));
    } else {
        res.content_type = "text/vtt; charset=utf-8";
        res.body = whisper::utf8_repair(whisper::to_vtt(*tr));
    }
}

} // namespace

std::vector<Route> audio_routes(ServerState& st) {
    auto route = [&st](const char* path, bool translate) {
        Route r;
        r.method = "POST";
        r.path = path;
        r.handler = [&st, translate](const HttpRequest& req, HttpResponse& res) {
            handle(st, req, res, [&](const HttpRequest& q, HttpResponse& o) { audio(st, q, o, translate); });
        };
        r.max_body = st.opt.max_audio_bytes + kFormSlack;
        r.max_body_flag = "--max-audio-mb";
        return r;
    };
    return {route("/v1/audio/transcriptions", false), route("/audio/transcriptions", false), route("/v1/audio/translations", true),
            route("/audio/translations", true)};
}

} // namespace vkai::server
