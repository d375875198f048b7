#include "formats/whisper_bin.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

namespace vkai::whisper_bin {
namespace {

// A cursor over untrusted bytes: every read is bounds-checked and names its field on failure.
struct Reader {
    std::span<const uint8_t> b;
    uint64_t pos = 0;
    const std::string& file;

    uint64_t left() const { return b.size() - pos; }
    Status need(uint64_t n, const char* what) const {
        if (n > left())
            return fail(Code::corrupt, "%s: truncated at %s (offset %llu): need %llu bytes, %llu left; the file is incomplete or not a whisper .bin",
                        file.c_str(), what, (unsigned long long)pos, (unsigned long long)n, (unsigned long long)left());
        return {};
    }
    Result<int32_t> i32(const char* what) {
        VKAI_TRY(need(4, what));
        int32_t v;
        std::memcpy(&v, b.data() + pos, 4);
        pos += 4;
        return v;
    }
};

bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

} // namespace

const TensorInfo* File::find_tensor(std::string_view n) const {
    for (const auto& t : tensors)
        if (t.name == n) return &t;
    return nullptr;
}

bool allowed_type(DType t) {
    switch (t) {
    case DType::F32: case DType::F16: case DType::Q4_0: case DType::Q4_1: case DType::Q5_0: case DType::Q5_1: case DType::Q8_0: return true;
    default: return false;
    }
}

Result<File> parse(std::span<const uint8_t> bytes, std::string_view name) {
    File f;
    f.name = std::string(name);
    Reader r{bytes, 0, f.name};
    VKAI_ASSIGN_OR_RETURN(int32_t magic, r.i32("magic"));
    if (uint32_t(magic) != kMagic)
        return fail(Code::corrupt, "%s: magic 0x%08x, expected 0x%08x (whisper.cpp ggml .bin)", f.name.c_str(), uint32_t(magic), kMagic);
    static const char* const kNames[] = {"n_vocab", "n_audio_ctx", "n_audio_state", "n_audio_head", "n_audio_layer", "n_text_ctx",
                                         "n_text_state", "n_text_head", "n_text_layer", "n_mels", "ftype"};
    int32_t* fields[] = {&f.hp.n_vocab, &f.hp.n_audio_ctx, &f.hp.n_audio_state, &f.hp.n_audio_head, &f.hp.n_audio_layer, &f.hp.n_text_ctx,
                         &f.hp.n_text_state, &f.hp.n_text_head, &f.hp.n_text_layer, &f.hp.n_mels, &f.hp.ftype};
    // Upper bounds far above any released model (large-v3: 51866 / 1500 / 1280 / 20 / 32 / 448 / 128 mels).
    static const int32_t kMax[] = {1 << 20, 1 << 16, 1 << 15, 1 << 10, 1 << 10, 1 << 16, 1 << 15, 1 << 10, 1 << 10, 1024, 1 << 30};
    for (int i = 0; i < 11; ++i) {
        VKAI_ASSIGN_OR_RETURN(*fields[i], r.i32(kNames[i]));
        const int32_t lo = i == 10 ? 0 : 1;
        if (*fields[i] < lo || *fields[i] > kMax[i])
            return fail(Code::corrupt, "%s: hparam %s = %d, expected %d..%d", f.name.c_str(), kNames[i], *fields[i], lo, kMax[i]);
    }
    if (f.hp.n_audio_state % f.hp.n_audio_head || f.hp.n_text_state % f.hp.n_text_head)
        return fail(Code::corrupt, "%s: state sizes %d/%d are not multiples of the head counts %d/%d", f.name.c_str(), f.hp.n_audio_state,
                    f.hp.n_text_state, f.hp.n_audio_head, f.hp.n_text_head);

    VKAI_ASSIGN_OR_RETURN(int32_t n_mel, r.i32("mel filters n_mel"));
    VKAI_ASSIGN_OR_RETURN(f.n_fft, r.i32("mel filters n_fft"));
    if (n_mel != f.hp.n_mels) return fail(Code::corrupt, "%s: mel filters have %d rows, hparam n_mels is %d", f.name.c_str(), n_mel, f.hp.n_mels);
    if (f.n_fft < 1 || f.n_fft > 4096) return fail(Code::corrupt, "%s: mel filters n_fft = %d, expected 1..4096", f.name.c_str(), f.n_fft);
    const uint64_t n_filter = uint64_t(n_mel) * uint64_t(f.n_fft);
    VKAI_TRY(r.need(n_filter * 4, "mel filters"));
    f.filters.resize(n_filter);
    std::memcpy(f.filters.data(), bytes.data() + r.pos, n_filter * 4);
    r.pos += n_filter * 4;

    VKAI_ASSIGN_OR_RETURN(int32_t n_tok, r.i32("vocabulary count"));
    if (n_tok < 0 || n_tok > f.hp.n_vocab)
        return fail(Code::corrupt, "%s: vocabulary count %d, expected 0..n_vocab (%d)", f.name.c_str(), n_tok, f.hp.n_vocab);
    if (uint64_t(n_tok) * 4 > r.left())
        return fail(Code::corrupt, "%s: vocabulary count %d needs at least %llu bytes, %llu left", f.name.c_str(), n_tok,
                    (unsigned long long)(uint64_t(n_tok) * 4), (unsigned long long)r.left());
    f.tokens.reserve(size_t(n_tok));
    for (int32_t i = 0; i < n_tok; ++i) {
        VKAI_ASSIGN_OR_RETURN(int32_t len, r.i32("token length"));
        if (uint32_t(len) > kMaxTokenBytes) return fail(Code::corrupt, "%s: token %d length %u, limit %u", f.name.c_str(), i, uint32_t(len), kMaxTokenBytes);
        VKAI_TRY(r.need(uint32_t(len), "token bytes"));
        f.tokens.emplace_back(reinterpret_cast<const char*>(bytes.data() + r.pos), size_t(uint32_t(len)));
        r.pos += uint32_t(len);
    }

    std::set<std::string_view> names;
    while (r.left() > 0) {
        TensorInfo t;
        VKAI_ASSIGN_OR_RETURN(t.n_dims, r.i32("tensor n_dims"));
        VKAI_ASSIGN_OR_RETURN(int32_t name_len, r.i32("tensor name length"));
        VKAI_ASSIGN_OR_RETURN(int32_t type, r.i32("tensor type"));
        const size_t idx = f.tensors.size();
        if (t.n_dims < 1 || t.n_dims > 4) return fail(Code::corrupt, "%s: tensor #%zu has n_dims %d, expected 1..4", f.name.c_str(), idx, t.n_dims);
        if (name_len < 1 || name_len > kMaxTensorNameBytes)
            return fail(Code::corrupt, "%s: tensor #%zu name length %d, expected 1..%d", f.name.c_str(), idx, name_len, kMaxTensorNameBytes);
        const DTypeInfo* info = type >= 0 ? dtype_info(uint32_t(type)) : nullptr;
        if (!info || !allowed_type(info->type))
            return fail(Code::unsupported, "%s: tensor #%zu has type id %d; whisper files use F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0", f.name.c_str(), idx, type);
        t.type = info->type;
        uint64_t n = 1;
        for (int d = 0; d < t.n_dims; ++d) {
            VKAI_ASSIGN_OR_RETURN(int32_t dim, r.i32("tensor dims"));
            if (dim < 1) return fail(Code::corrupt, "%s: tensor #%zu dim %d is %d, expected >= 1", f.name.c_str(), idx, d, dim);
            t.ne[d] = dim;
            if (!mul_ok(n, uint64_t(dim), n)) return fail(Code::corrupt, "%s: tensor #%zu element count overflows", f.name.c_str(), idx);
        }
        VKAI_TRY(r.need(uint64_t(name_len), "tensor name"));
        t.name = std::string_view(reinterpret_cast<const char*>(bytes.data() + r.pos), size_t(name_len));
        r.pos += uint64_t(name_len);
        auto rb = row_bytes(t.type, uint64_t(t.ne[0]));
        if (!rb || !mul_ok(*rb, n / uint64_t(t.ne[0]), t.bytes))
            return fail(Code::corrupt, "%s: tensor '%.*s': ne[0] = %lld is not a multiple of the %s block size %u", f.name.c_str(), int(t.name.size()),
                        t.name.data(), (long long)t.ne[0], info->name, info->block);
        if (t.bytes > r.left())
            return fail(Code::corrupt, "%s: tensor '%.*s' (%s, %llu bytes) runs past the end of the file (%llu bytes left); the file is truncated",
                        f.name.c_str(), int(t.name.size()), t.name.data(), info->name, (unsigned long long)t.bytes, (unsigned long long)r.left());
        if (!names.insert(t.name).second) return fail(Code::corrupt, "%s: duplicate tensor '%.*s'", f.name.c_str(), int(t.name.size()), t.name.data());
        t.data = bytes.data() + r.pos;
        r.pos += t.bytes;
        f.tensors.push_back(t);
    }
    return f;
}

Writer::Writer(const HParams& hp, int32_t n_fft, std::vector<float> filters, std::vector<std::string> tokens)
    : hp_(hp), n_fft_(n_fft), filters_(std::move(filters)), tokens_(std::move(tokens)) {}

Status Writer::add_tensor(std::string name, DType type, std::vector<int64_t> ne, Fill fill) {
    if (name.empty() || name.size() > size_t(kMaxTensorNameBytes) || ne.empty() || ne.size() > 4)
        return fail(Code::invalid_argument, "whisper writer: tensor '%s': bad name or rank %zu", name.c_str(), ne.size());
    uint64_t rows = 1;
    for (size_t i = 1; i < ne.size(); ++i) rows *= uint64_t(ne[i]);
    auto rb = row_bytes(type, uint64_t(ne[0]));
    if (!rb) return fail(Code::invalid_argument, "whisper writer: tensor '%s': ne[0] %lld not a multiple of the %s block", name.c_str(), (long long)ne[0], dtype_name(type));
    tensors_.push_back({std::move(name), type, std::move(ne), *rb * rows, std::move(fill)});
    return {};
}

Status Writer::emit(const std::function<Status(const void*, uint64_t)>& out) const {
    auto i32 = [&](int32_t v) { return out(&v, 4); };
    VKAI_TRY(i32(int32_t(kMagic)));
    for (int32_t v : {hp_.n_vocab, hp_.n_audio_ctx, hp_.n_audio_state, hp_.n_audio_head, hp_.n_audio_layer, hp_.n_text_ctx, hp_.n_text_state,
                      hp_.n_text_head, hp_.n_text_layer, hp_.n_mels, hp_.ftype})
        VKAI_TRY(i32(v));
    VKAI_TRY(i32(hp_.n_mels));
    VKAI_TRY(i32(n_fft_));
    VKAI_TRY(out(filters_.data(), filters_.size() * 4));
    VKAI_TRY(i32(int32_t(tokens_.size())));
    for (const auto& t : tokens_) {
        VKAI_TRY(i32(int32_t(t.size())));
        VKAI_TRY(out(t.data(), t.size()));
    }
    std::vector<uint8_t> buf;
    for (const auto& t : tensors_) {
        VKAI_TRY(i32(int32_t(t.ne.size())));
        VKAI_TRY(i32(int32_t(t.name.size())));
        VKAI_TRY(i32(int32_t(t.type)));
        for (int64_t d : t.ne) VKAI_TRY(i32(int32_t(d)));
        VKAI_TRY(out(t.name.data(), t.name.size()));
        buf.assign(t.bytes, 0);
        VKAI_TRY(t.fill(buf.data(), t.bytes).with_context("tensor " + t.name));
        VKAI_TRY(out(buf.data(), t.bytes));
    }
    return {};
}

Result<std::vector<uint8_t>> Writer::write_to_memory() const {
    std::vector<uint8_t> v;
    VKAI_TRY(emit([&](const void* p, uint64_t n) {
        v.insert(v.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
        return Status{};
    }));
    return v;
}

Status Writer::write(const std::string& path) const {
    const std::string tmp = path + ".tmp";
    FILE* fp = std::fopen(tmp.c_str(), "wb");
    if (!fp) return fail(Code::io, "cannot create %s: %s", tmp.c_str(), std::strerror(errno));
    Status st = emit([&](const void* p, uint64_t n) {
        if (n && std::fwrite(p, 1, n, fp) != n) return fail(Code::io, "writing %s: %s", tmp.c_str(), std::strerror(errno));
        return Status{};
    });
    if (std::fclose(fp) != 0 && st.ok()) st = fail(Code::io, "closing %s: %s", tmp.c_str(), std::strerror(errno));
    if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0) st = fail(Code::io, "renaming %s to %s: %s", tmp.c_str(), path.c_str(), std::strerror(errno));
    if (!st.ok()) std::remove(tmp.c_str());
    return st;
}

} // namespace vkai::whisper_bin
