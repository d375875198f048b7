#include "whisper/transcribe.h"

#include "base/text.h"
#include "base/timer.h"

#include <algorithm>
#include <cmath>

namespace vkai::whisper {

std::string utf8_repair(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        if (ok && len > 1) { // reject overlong forms, surrogates and code points past U+10FFFF
            uint32_t cp = c & (0x7f >> len);
            for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
            static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= kMin[len] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        }
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\xef\xbf\xbd"; // U+FFFD
            ++i;
        }
    }
    return out;
}

namespace {

bool needs_fallback(const DecodeResult& r, const TranscribeOptions& opt) {
    bool fallback = r.compression_ratio > opt.compression_ratio_threshold || r.avg_logprob < opt.logprob_threshold;
    if (r.no_speech_prob > opt.no_speech_threshold && r.avg_logprob < opt.logprob_threshold) fallback = false; // silence
    return fallback;
}

bool is_silence(const DecodeResult& r, const TranscribeOptions& opt) {
    return r.no_speech_prob > opt.no_speech_threshold && r.avg_logprob <= opt.logprob_threshold;
}

// Segments of one decoded window that starts at mel frame `seek` and holds segment_size frames of
// audio; returns where the reference's seek loop continues (the last complete timestamp pair).
int64_t add_segments(Transcript& out, const Vocab& v, const DecodeResult& res, int64_t seek, int64_t segment_size) {
    const double time_offset = double(seek) * kHop / kSampleRate;
    const double segment_duration = double(segment_size) * kHop / kSampleRate;
    const auto& toks = res.tokens;
    auto is_ts = [&](size_t i) { return v.is_timestamp(toks[i]); };
    auto add_segment = [&](double start, double end, std::vector<int32_t> seg_tokens) {
        Segment s;
        s.start = start;
        s.end = end;
        s.seek = seek;
        s.temperature = res.temperature;
        s.avg_logprob = res.avg_logprob;
        s.compression_ratio = res.compression_ratio;
        s.no_speech_prob = res.no_speech_prob;
        s.text = utf8_repair(v.decode(seg_tokens));
        s.tokens = std::move(seg_tokens);
        if (!s.text.empty()) out.segments.push_back(std::move(s));
    };
    const int64_t seek_before = seek;
    std::vector<size_t> slices; // ends of segments: after each pair of consecutive timestamps
    for (size_t i = 1; i < toks.size(); ++i)
        if (is_ts(i - 1) && is_ts(i)) slices.push_back(i);
    const bool single_ts_ending = toks.size() >= 2 && !is_ts(toks.size() - 2) && is_ts(toks.size() - 1);
    if (!slices.empty()) {
        if (single_ts_ending) slices.push_back(toks.size());
        size_t last = 0;
        for (size_t cur : slices) {
            std::vector<int32_t> sl(toks.begin() + long(last), toks.begin() + long(cur));
            const double start = time_offset + (sl.front() - v.timestamp_begin()) * 0.02;
            const double end = time_offset + (sl.back() - v.timestamp_begin()) * 0.02;
            add_segment(start, end, sl);
            last = cur;
        }
        if (single_ts_ending) seek += segment_size;
        else seek += int64_t(toks[last - 1] - v.timestamp_begin()) * 2; // 2 mel frames per 0.02 s position
    } else {
        double duration = segment_duration;
        for (size_t i = toks.size(); i-- > 0;)
            if (is_ts(i)) {
                if (toks[i] != v.timestamp_begin()) duration = (toks[i] - v.timestamp_begin()) * 0.02;
                break;
            }
        add_segment(time_offset, time_offset + duration, toks);
        seek += segment_size;
    }
    if (seek <= seek_before) seek = seek_before + segment_size; // a window that ends at <|0.00|> must still advance
    return seek;
}

} // namespace

Result<Transcript> transcribe(Runtime& rt, const Mel& mel, int64_t n_samples, const TranscribeOptions& opt) {
    const Vocab& v = rt.model().vocab();
    if (opt.temperatures.empty()) return fail(Code::invalid_argument, "transcribe: no temperatures");
    if (opt.beam_size < 1 || opt.beam_size > 16) return fail(Code::invalid_argument, "beam size %d outside 1..16", opt.beam_size);
    if (opt.best_of < 1 || opt.best_of > 16) return fail(Code::invalid_argument, "best_of %d outside 1..16", opt.best_of);
    if (opt.parallel_windows < 0) return fail(Code::invalid_argument, "parallel windows %d < 0", opt.parallel_windows);
    Transcript out;
    out.duration = double(n_samples) / kSampleRate;
    out.task = opt.translate ? "translate" : "transcribe";
    const int64_t content_frames = std::max<int64_t>(0, std::min<int64_t>(mel.n_frames - kChunkFrames, n_samples / kHop));

    int lang = 0;
    bool detect = false;
    if (opt.language == "auto" || opt.language.empty()) {
        detect = v.multilingual();
        out.language = "en";
    } else {
        lang = v.language_index(opt.language);
        if (lang < 0) return fail(Code::invalid_argument, "unknown language '%s' (codes like en, de, pt, ja; or auto)", opt.language.c_str());
        if (!v.multilingual() && lang != 0) return fail(Code::invalid_argument, "this model is English-only; -l %s needs a multilingual model", opt.language.c_str());
        out.language = opt.language;
    }
    if (opt.translate && !v.multilingual()) return fail(Code::invalid_argument, "this model is English-only: it cannot translate");

    std::vector<int32_t> all_tokens;
    if (!opt.initial_prompt.empty()) {
        VKAI_ASSIGN_OR_RETURN(auto ids, v.encode(" " + opt.initial_prompt));
        all_tokens = ids;
    }
    size_t prompt_reset_since = 0;
    const int n_max_prompt = rt.model().hp().n_text_ctx / 2 - 1;
    // The task of a window; the prompt is the last text tokens since prompt_reset_since.
    auto make_task = [&](int slot) {
        DecodeTask task;
        task.sot_seq = {v.sot()};
        if (v.multilingual()) {
            task.sot_seq.push_back(v.language(lang));
            task.sot_seq.push_back(opt.translate ? v.translate() : v.transcribe());
        }
        if (!opt.timestamps) task.sot_seq.push_back(v.notimestamps());
        task.timestamps = opt.timestamps;
        if (all_tokens.size() > prompt_reset_since) {
            task.prompt.push_back(v.startofprev());
            const size_t n = std::min(all_tokens.size() - prompt_reset_since, size_t(n_max_prompt));
            task.prompt.insert(task.prompt.end(), all_tokens.end() - long(n), all_tokens.end());
        }
        task.beam_size = opt.beam_size;
        task.best_of = opt.best_of;
        task.sample_len = rt.model().hp().n_text_ctx / 2;
        task.slot = slot;
        return task;
    };
    // Decodes at each fallback temperature from index `first` on, until one is acceptable.
    auto decode_fallback = [&](DecodeTask task, size_t first, int64_t seek, DecodeResult& res) -> Status {
        for (size_t ti = first; ti < opt.temperatures.size(); ++ti) {
            task.temperature = opt.temperatures[ti];
            task.seed = opt.seed + uint64_t(seek) * 31 + ti;
            VKAI_ASSIGN_OR_RETURN(res, decode_window(rt, task));
            if (!needs_fallback(res, opt)) break;
        }
        return {};
    };
    auto progress = [&](int64_t done) {
        if (opt.progress) opt.progress(double(std::min(done, content_frames)) / double(std::max<int64_t>(content_frames, 1)));
    };

    if (opt.parallel_windows > 1) {
        // Parallel windows: fixed 30 s boundaries, the text of one window does not condition the next
        // (only the initial prompt does), so a batch of windows is encoded and decoded at once.
        int batch = std::min(opt.parallel_windows, Runtime::kMaxLogitRows);
        int64_t seek = 0;
        while (seek < content_frames) {
            std::vector<int64_t> offsets;
            for (int64_t o = seek; o < content_frames && int(offsets.size()) < batch; o += kChunkFrames) offsets.push_back(o);
            double t0 = now_s();
            Status st = rt.encode_batch(mel, offsets.data(), int(offsets.size()));
            if (!st.ok() && st.code() == Code::out_of_memory && batch > 1) { // fewer windows per pass
                batch = std::max(1, int(offsets.size()) / 2);
                continue;
            }
            VKAI_TRY(st);
            out.encode_s += now_s() - t0;
            out.windows += int(offsets.size());
            out.parallel_windows = std::max(out.parallel_windows, int(offsets.size()));
            t0 = now_s();
            if (detect) {
                VKAI_ASSIGN_OR_RETURN(lang, detect_language(rt));
                out.language = kLanguages[lang];
                detect = false;
            }
            std::vector<DecodeTask> tasks;
            for (size_t i = 0; i < offsets.size(); ++i) tasks.push_back(make_task(int(i)));
            std::vector<DecodeResult> results;
            if (opt.temperatures[0] == 0.0f) {
                VKAI_ASSIGN_OR_RETURN(results, decode_windows_greedy(rt, tasks));
                for (size_t i = 0; i < results.size(); ++i)
                    if (needs_fallback(results[i], opt)) VKAI_TRY(decode_fallback(tasks[i], 1, offsets[i], results[i]));
            } else {
                results.resize(offsets.size());
                for (size_t i = 0; i < offsets.size(); ++i) VKAI_TRY(decode_fallback(tasks[i], 0, offsets[i], results[i]));
            }
            out.decode_s += now_s() - t0;
            for (size_t i = 0; i < offsets.size(); ++i) {
                const int64_t size = std::min<int64_t>(kChunkFrames, content_frames - offsets[i]);
                if (!is_silence(results[i], opt)) add_segments(out, v, results[i], offsets[i], size);
            }
            seek = offsets.back() + kChunkFrames;
            progress(seek);
        }
    }

    int64_t seek = opt.parallel_windows > 1 ? content_frames : 0;
    while (seek < content_frames) {
        const int64_t segment_size = std::min<int64_t>(kChunkFrames, content_frames - seek);
        double t0 = now_s();
        VKAI_TRY(rt.encode(mel, seek));
        out.encode_s += now_s() - t0;
        ++out.windows;
        t0 = now_s();
        if (detect) {
            VKAI_ASSIGN_OR_RETURN(lang, detect_language(rt));
            out.language = kLanguages[lang];
            detect = false;
        }
        DecodeResult res;
        VKAI_TRY(decode_fallback(make_task(0), 0, seek, res));
        out.decode_s += now_s() - t0;

        if (is_silence(res, opt)) {
            seek += segment_size; // silence: skip the window
            progress(seek);
            continue;
        }
        const size_t first_seg = out.segments.size();
        seek = add_segments(out, v, res, seek, segment_size);
        if (!opt.condition_on_previous_text || res.temperature > 0.5f) prompt_reset_since = all_tokens.size();
        for (size_t i = first_seg; i < out.segments.size(); ++i)
            for (int32_t id : out.segments[i].tokens)
                if (id < v.eot()) all_tokens.push_back(id); // text tokens only condition the next window
        progress(seek);
    }
    for (auto& s : out.segments) {
        s.start = std::min(s.start, out.duration);
        s.end = std::min(std::max(s.end, s.start), out.duration);
        out.text += s.text;
    }
    return out;
}

std::string format_timestamp(double seconds, bool always_hours, char decimal) {
    const int64_t ms = int64_t(std::llround(std::max(0.0, seconds) * 1000.0));
    const int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, r = ms % 1000;
    if (always_hours || h > 0) return strf("%02lld:%02lld:%02lld%c%03lld", (long long)h, (long long)m, (long long)s, decimal, (long long)r);
    return strf("%02lld:%02lld%c%03lld", (long long)m, (long long)s, decimal, (long long)r);
}

namespace {
std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\n\r"), e = s.find_last_not_of(" \t\n\r");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
// Subtitle cue text: "-->" would end the cue header early in some players.
std::string cue(const std::string& s) {
    std::string t = trim(s), out;
    for (size_t i = 0; i < t.size(); ++i) {
        if (t.compare(i, 3, "-->") == 0) {
            out += "->";
            i += 2;
        } else {
            out += t[i];
        }
    }
    return out;
}
} // namespace

std::string to_txt(const Transcript& t) {
    std::string out;
    for (const auto& s : t.segments) out += trim(s.text) + "\n";
    return out;
}

std::string to_srt(const Transcript& t) {
    std::string out;
    int i = 1;
    for (const auto& s : t.segments)
        out += strf("%d\n%s --> %s\n%s\n\n", i++, format_timestamp(s.start, true, ',').c_str(), format_timestamp(s.end, true, ',').c_str(), cue(s.text).c_str());
    return out;
}

std::string to_vtt(const Transcript& t) {
    std::string out = "WEBVTT\n\n";
    for (const auto& s : t.segments)
        out += strf("%s --> %s\n%s\n\n", format_timestamp(s.start, false, '.').c_str(), format_timestamp(s.end, false, '.').c_str(), cue(s.text).c_str());
    return out;
}

std::string to_json(const Transcript& t, bool verbose) {
    // Token bytes may split a UTF-8 character between segments; json_escape keeps the output valid.
    std::string out = "{\"text\":\"" + json_escape(t.text) + "\"";
    if (verbose) {
        out += strf(",\"task\":\"%s\",\"language\":\"%s\",\"duration\":%.3f,\"segments\":[", t.task.c_str(), json_escape(t.language).c_str(), t.duration);
        for (size_t i = 0; i < t.segments.size(); ++i) {
            const auto& s = t.segments[i];
            std::string toks;
            for (size_t j = 0; j < s.tokens.size(); ++j) toks += strf("%s%d", j ? "," : "", s.tokens[j]);
            out += strf("%s{\"id\":%zu,\"seek\":%lld,\"start\":%.3f,\"end\":%.3f,\"text\":\"%s\",\"tokens\":[%s],\"temperature\":%.1f,"
                        "\"avg_logprob\":%.6f,\"compression_ratio\":%.6f,\"no_speech_prob\":%.6f}",
                        i ? "," : "", i, (long long)s.seek, s.start, s.end, json_escape(s.text).c_str(), toks.c_str(), s.temperature,
                        s.avg_logprob, s.compression_ratio, s.no_speech_prob);
        }
        out += "]";
    }
    return out + "}\n";
}

} // namespace vkai::whisper
