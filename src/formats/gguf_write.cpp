// GGUF v3 writer: metadata is encoded at set time, tensor data is streamed through Fill callbacks
// at write time in one pass, and a file appears under its final name only when complete.
#include "formats/gguf.h"

#include "base/text.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <unistd.h>

namespace vkai::gguf {

namespace {

using Bytes = std::vector<uint8_t>;

template <class T>
void put(Bytes& out, T v) {
    uint8_t b[sizeof v];
    std::memcpy(b, &v, sizeof v); // hosts are little-endian, like the format
    out.insert(out.end(), b, b + sizeof v);
}

void put_string(Bytes& out, std::string_view s) {
    put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

// Encodes a value's payload (without its type tag). Checks what the reader would reject, so a
// Writer never produces a file vkai cannot read back.
Status encode(const Value& v, Bytes& out, int depth) {
    switch (v.type) {
    case ValueType::u8: case ValueType::boolean: put<uint8_t>(out, uint8_t(v.u)); return {};
    case ValueType::u16: put<uint16_t>(out, uint16_t(v.u)); return {};
    case ValueType::u32: put<uint32_t>(out, uint32_t(v.u)); return {};
    case ValueType::u64: put<uint64_t>(out, v.u); return {};
    case ValueType::i8: put<int8_t>(out, int8_t(v.i)); return {};
    case ValueType::i16: put<int16_t>(out, int16_t(v.i)); return {};
    case ValueType::i32: put<int32_t>(out, int32_t(v.i)); return {};
    case ValueType::i64: put<int64_t>(out, v.i); return {};
    case ValueType::f32: put<float>(out, float(v.f)); return {};
    case ValueType::f64: put<double>(out, v.f); return {};
    case ValueType::string:
        if (v.str.size() > kMaxStringBytes) return fail(Code::invalid_argument, "string of %zu bytes exceeds the GGUF limit", v.str.size());
        put_string(out, v.str);
        return {};
    case ValueType::array: {
        if (depth >= kMaxArrayDepth) return fail(Code::invalid_argument, "arrays nested more than %d levels deep", kMaxArrayDepth);
        if (v.count > kMaxArrayItems) return fail(Code::invalid_argument, "array of %llu items exceeds the GGUF limit", (unsigned long long)v.count);
        put<uint32_t>(out, uint32_t(v.elem_type));
        put<uint64_t>(out, v.count);
        uint64_t esz = value_type_size(v.elem_type);
        if (esz) {
            if (v.count && !v.raw) return fail(Code::invalid_argument, "array of %llu items has no element bytes", (unsigned long long)v.count);
            if (v.count) out.insert(out.end(), v.raw, v.raw + v.count * esz);
            return {};
        }
        if (v.elem_type != ValueType::string && v.elem_type != ValueType::array)
            return fail(Code::invalid_argument, "array element type %u is not a GGUF value type", uint32_t(v.elem_type));
        if (v.items.size() != v.count)
            return fail(Code::invalid_argument, "array claims %llu items but holds %zu", (unsigned long long)v.count, v.items.size());
        for (const Value& item : v.items) {
            if (item.type != v.elem_type)
                return fail(Code::invalid_argument, "array of %s holds a %s item", value_type_name(v.elem_type), value_type_name(item.type));
            VKAI_TRY(encode(item, out, depth + 1));
        }
        return {};
    }
    }
    return fail(Code::invalid_argument, "value type %u is not a GGUF value type", uint32_t(v.type));
}

struct TensorEntry {
    std::string name;
    DType type;
    std::vector<int64_t> ne;
    uint64_t bytes;
    Writer::Fill fill;
};

struct KvEntry {
    std::string key;
    ValueType type;
    Bytes payload;
};

using Sink = std::function<Status(const uint8_t* p, uint64_t n)>;

Status write_zeros(const Sink& out, uint64_t n) {
    static const uint8_t zeros[4096] = {};
    while (n > 0) {
        uint64_t k = n < sizeof zeros ? n : sizeof zeros;
        VKAI_TRY(out(zeros, k));
        n -= k;
    }
    return {};
}

} // namespace

struct Writer::Impl {
    uint64_t alignment = 32;
    std::vector<KvEntry> kvs;
    std::vector<TensorEntry> tensors;
    Status error; // first error of a setter (they return void); reported by write()

    void set(std::string_view key, const Value& v) {
        if (!error.ok()) return;
        if (key.empty()) {
            error = fail(Code::invalid_argument, "metadata key is empty");
            return;
        }
        Bytes payload;
        Status st = encode(v, payload, 0);
        if (!st.ok()) {
            error = st.with_context(strf("metadata key '%s'", printable(key, 80).c_str()));
            return;
        }
        for (auto& kv : kvs)
            if (kv.key == key) { // setting a key twice replaces its value: keys stay unique
                kv.type = v.type;
                kv.payload = std::move(payload);
                return;
            }
        kvs.push_back({std::string(key), v.type, std::move(payload)});
    }

    Status emit(const Sink& out) const;
};

Writer::Writer(uint64_t alignment) : impl_(std::make_shared<Impl>()) { impl_->alignment = alignment; }

namespace {
Value scalar(ValueType t) {
    Value v;
    v.type = t;
    return v;
}
} // namespace

void Writer::set_u8(std::string_view k, uint8_t x) { Value v = scalar(ValueType::u8); v.u = x; impl_->set(k, v); }
void Writer::set_u16(std::string_view k, uint16_t x) { Value v = scalar(ValueType::u16); v.u = x; impl_->set(k, v); }
void Writer::set_u32(std::string_view k, uint32_t x) { Value v = scalar(ValueType::u32); v.u = x; impl_->set(k, v); }
void Writer::set_u64(std::string_view k, uint64_t x) { Value v = scalar(ValueType::u64); v.u = x; impl_->set(k, v); }
void Writer::set_i8(std::string_view k, int8_t x) { Value v = scalar(ValueType::i8); v.i = x; impl_->set(k, v); }
void Writer::set_i16(std::string_view k, int16_t x) { Value v = scalar(ValueType::i16); v.i = x; impl_->set(k, v); }
void Writer::set_i32(std::string_view k, int32_t x) { Value v = scalar(ValueType::i32); v.i = x; impl_->set(k, v); }
void Writer::set_i64(std::string_view k, int64_t x) { Value v = scalar(ValueType::i64); v.i = x; impl_->set(k, v); }
void Writer::set_f32(std::string_view k, float x) { Value v = scalar(ValueType::f32); v.f = x; impl_->set(k, v); }
void Writer::set_f64(std::string_view k, double x) { Value v = scalar(ValueType::f64); v.f = x; impl_->set(k, v); }
void Writer::set_bool(std::string_view k, bool x) { Value v = scalar(ValueType::boolean); v.u = x ? 1 : 0; impl_->set(k, v); }
void Writer::set_string(std::string_view k, std::string_view x) { Value v = scalar(ValueType::string); v.str = x; impl_->set(k, v); }
void Writer::set_value(std::string_view k, const Value& v) { impl_->set(k, v); }

void Writer::set_array(std::string_view k, ValueType elem_type, const void* elems, uint64_t count) {
    if (value_type_size(elem_type) == 0) {
        if (impl_->error.ok())
            impl_->error = fail(Code::invalid_argument, "metadata key '%s': set_array takes scalar elements, not %s (use set_string_array or set_value)",
                                printable(k, 80).c_str(), value_type_name(elem_type));
        return;
    }
    Value v = scalar(ValueType::array);
    v.elem_type = elem_type;
    v.count = count;
    v.raw = static_cast<const uint8_t*>(elems);
    impl_->set(k, v);
}

void Writer::set_string_array(std::string_view k, const std::vector<std::string>& strs) {
    Value v = scalar(ValueType::array);
    v.elem_type = ValueType::string;
    v.count = strs.size();
    v.items.resize(strs.size());
    for (size_t i = 0; i < strs.size(); ++i) {
        v.items[i].type = ValueType::string;
        v.items[i].str = strs[i];
    }
    impl_->set(k, v);
}

Status Writer::add_tensor(std::string_view name, DType type, std::vector<int64_t> ne, Fill fill) {
    std::string where = strf("tensor '%s'", printable(name, 80).c_str());
    if (name.empty()) return fail(Code::invalid_argument, "tensor name is empty");
    if (name.size() > kMaxTensorNameBytes)
        return fail(Code::invalid_argument, "%s: name is %zu bytes; the limit is %llu", where.c_str(), name.size(),
                    (unsigned long long)kMaxTensorNameBytes);
    for (const auto& t : impl_->tensors)
        if (t.name == name) return fail(Code::invalid_argument, "%s: added twice", where.c_str());
    const DTypeInfo* info = dtype_info(uint32_t(type));
    if (!info) return fail(Code::invalid_argument, "%s: unknown type id %u", where.c_str(), uint32_t(type));
    if (ne.empty() || ne.size() > 4) return fail(Code::invalid_argument, "%s: %zu dimensions; expected 1 to 4", where.c_str(), ne.size());
    int64_t n = 1;
    for (int64_t d : ne)
        if (d < 0 || __builtin_mul_overflow(n, d, &n))
            return fail(Code::invalid_argument, "%s: bad shape (negative dimension or more than 2^63-1 elements)", where.c_str());
    std::optional<uint64_t> row = row_bytes(type, uint64_t(ne[0]));
    if (!row) return fail(Code::invalid_argument, "%s: ne[0] = %lld is not a multiple of the %s block size %u", where.c_str(),
                          (long long)ne[0], info->name, info->block);
    uint64_t rows = 1;
    for (size_t d = 1; d < ne.size(); ++d) rows *= uint64_t(ne[d]);
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(*row, rows, &bytes)) return fail(Code::invalid_argument, "%s: byte size overflows", where.c_str());
    impl_->tensors.push_back({std::string(name), type, std::move(ne), bytes, std::move(fill)});
    return {};
}

Status Writer::Impl::emit(const Sink& out) const {
    VKAI_TRY(error);
    // general.alignment, when set, is the alignment; otherwise the constructor's, recorded
    // in the file unless it is the default 32.
    uint64_t align = alignment;
    bool add_align_key = alignment != 32;
    for (const auto& kv : kvs)
        if (kv.key == "general.alignment") {
            if (kv.type != ValueType::u32) return fail(Code::invalid_argument, "general.alignment must be a u32, not %s", value_type_name(kv.type));
            uint32_t a = 0;
            std::memcpy(&a, kv.payload.data(), 4);
            align = a;
            add_align_key = false;
        }
    if (align == 0 || (align & (align - 1)) != 0 || align > 0x80000000u)
        return fail(Code::invalid_argument, "alignment %llu is not a power of two below 2^32", (unsigned long long)align);

    Bytes meta;
    meta.insert(meta.end(), {'G', 'G', 'U', 'F'});
    put<uint32_t>(meta, 3);
    put<uint64_t>(meta, tensors.size());
    put<uint64_t>(meta, kvs.size() + (add_align_key ? 1 : 0));
    for (const auto& kv : kvs) {
        put_string(meta, kv.key);
        put<uint32_t>(meta, uint32_t(kv.type));
        meta.insert(meta.end(), kv.payload.begin(), kv.payload.end());
    }
    if (add_align_key) {
        put_string(meta, "general.alignment");
        put<uint32_t>(meta, uint32_t(ValueType::u32));
        put<uint32_t>(meta, uint32_t(align));
    }
    uint64_t offset = 0, max_bytes = 0;
    for (const auto& t : tensors) {
        put_string(meta, t.name);
        put<uint32_t>(meta, uint32_t(t.ne.size()));
        for (int64_t d : t.ne) put<uint64_t>(meta, uint64_t(d));
        put<uint32_t>(meta, uint32_t(t.type));
        put<uint64_t>(meta, offset);
        uint64_t padded = (t.bytes + align - 1) / align * align;
        if (t.bytes > UINT64_MAX - align || __builtin_add_overflow(offset, padded, &offset))
            return fail(Code::invalid_argument, "tensor '%s': data section exceeds 2^64 bytes", t.name.c_str());
        if (t.bytes > max_bytes) max_bytes = t.bytes;
    }
    meta.resize((meta.size() + align - 1) / align * align, 0);
    VKAI_TRY(out(meta.data(), meta.size()));

    // One reusable buffer, zeroed per tensor so a Fill that writes less never leaks old bytes.
    std::unique_ptr<uint8_t, decltype(&std::free)> buf(nullptr, &std::free);
    if (max_bytes > 0) {
        buf.reset(static_cast<uint8_t*>(max_bytes <= SIZE_MAX ? std::malloc(size_t(max_bytes)) : nullptr));
        if (!buf) return fail(Code::out_of_memory, "cannot allocate %s for a tensor's data", format_bytes(max_bytes).c_str());
    }
    for (const auto& t : tensors) {
        if (t.bytes > 0) {
            std::memset(buf.get(), 0, size_t(t.bytes));
            if (t.fill) {
                Status st = t.fill(buf.get(), t.bytes);
                if (!st.ok()) return st.with_context(strf("tensor '%s'", t.name.c_str()));
            }
            VKAI_TRY(out(buf.get(), t.bytes));
        }
        VKAI_TRY(write_zeros(out, (t.bytes + align - 1) / align * align - t.bytes));
    }
    return {};
}

Status Writer::write(const std::string& path) const {
    std::string tmp = path + ".tmp";
    FILE* fp = std::fopen(tmp.c_str(), "wb");
    if (!fp) return fail(Code::io, "cannot create '%s': %s", tmp.c_str(), std::strerror(errno));
    Sink sink = [&](const uint8_t* p, uint64_t n) -> Status {
        if (std::fwrite(p, 1, size_t(n), fp) != size_t(n))
            return fail(Code::io, "writing '%s': %s", tmp.c_str(), std::strerror(errno));
        return {};
    };
    Status st = impl_->emit(sink);
    if (st.ok() && std::fflush(fp) != 0) st = fail(Code::io, "writing '%s': %s", tmp.c_str(), std::strerror(errno));
    if (std::fclose(fp) != 0 && st.ok()) st = fail(Code::io, "closing '%s': %s", tmp.c_str(), std::strerror(errno));
    if (st.ok() && std::rename(tmp.c_str(), path.c_str()) != 0)
        st = fail(Code::io, "renaming '%s' to '%s': %s", tmp.c_str(), path.c_str(), std::strerror(errno));
    if (!st.ok()) ::unlink(tmp.c_str()); // never leave a half-written file behind
    return st;
}

Result<std::vector<uint8_t>> Writer::write_to_memory() const {
    Bytes data;
    Sink sink = [&](const uint8_t* p, uint64_t n) -> Status {
        data.insert(data.end(), p, p + n);
        return {};
    };
    VKAI_TRY(impl_->emit(sink));
    return data;
}

} // namespace vkai::gguf
