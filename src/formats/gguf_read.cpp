// GGUF reader: turns untrusted bytes into a File of views, or a Status naming the bad field.
// Invariant: no allocation is sized by a file count before that count is checked against the bytes left.
#include "formats/gguf.h"

#include "base/text.h"

#include <algorithm>
#include <cstdarg>
#include <cstring>
#include <unordered_set>

namespace vkai::gguf {

const char* value_type_name(ValueType t) {
    switch (t) {
    case ValueType::u8: return "u8";
    case ValueType::i8: return "i8";
    case ValueType::u16: return "u16";
    case ValueType::i16: return "i16";
    case ValueType::u32: return "u32";
    case ValueType::i32: return "i32";
    case ValueType::f32: return "f32";
    case ValueType::boolean: return "bool";
    case ValueType::string: return "string";
    case ValueType::array: return "array";
    case ValueType::u64: return "u64";
    case ValueType::i64: return "i64";
    case ValueType::f64: return "f64";
    }
    return "?";
}

uint64_t value_type_size(ValueType t) {
    switch (t) {
    case ValueType::u8: case ValueType::i8: case ValueType::boolean: return 1;
    case ValueType::u16: case ValueType::i16: return 2;
    case ValueType::u32: case ValueType::i32: case ValueType::f32: return 4;
    case ValueType::u64: case ValueType::i64: case ValueType::f64: return 8;
    case ValueType::string: case ValueType::array: return 0;
    }
    return 0;
}

bool Value::is_int() const {
    switch (type) {
    case ValueType::u8: case ValueType::i8: case ValueType::u16: case ValueType::i16:
    case ValueType::u32: case ValueType::i32: case ValueType::u64: case ValueType::i64: return true;
    default: return false;
    }
}

namespace {

template <class T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof v); // unaligned-safe; GGUF is little-endian like every host we build for
    return v;
}

// Raw element i of a scalar array as the widest type of its kind; ok=false for non-scalars.
struct Elem {
    bool ok = false, is_signed = false, is_float = false;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
};

Elem elem_at(const Value& v, uint64_t idx) {
    Elem e;
    uint64_t sz = value_type_size(v.elem_type);
    if (v.type != ValueType::array || !v.raw || sz == 0 || idx >= v.count) return e;
    const uint8_t* p = v.raw + idx * sz;
    e.ok = true;
    switch (v.elem_type) {
    case ValueType::u8: case ValueType::boolean: e.u = p[0]; break;
    case ValueType::u16: e.u = load<uint16_t>(p); break;
    case ValueType::u32: e.u = load<uint32_t>(p); break;
    case ValueType::u64: e.u = load<uint64_t>(p); break;
    case ValueType::i8: e.is_signed = true; e.i = load<int8_t>(p); break;
    case ValueType::i16: e.is_signed = true; e.i = load<int16_t>(p); break;
    case ValueType::i32: e.is_signed = true; e.i = load<int32_t>(p); break;
    case ValueType::i64: e.is_signed = true; e.i = load<int64_t>(p); break;
    case ValueType::f32: e.is_float = true; e.f = load<float>(p); break;
    case ValueType::f64: e.is_float = true; e.f = load<double>(p); break;
    default: e.ok = false;
    }
    return e;
}

} // namespace

int64_t Value::int_at(uint64_t idx) const {
    Elem e = elem_at(*this, idx);
    if (e.is_float) return (e.f >= -9.2e18 && e.f <= 9.2e18) ? int64_t(e.f) : 0; // no UB on NaN/huge
    return e.is_signed ? e.i : int64_t(e.u);
}

uint64_t Value::uint_at(uint64_t idx) const {
    Elem e = elem_at(*this, idx);
    if (e.is_float) return (e.f >= 0 && e.f <= 1.8e19) ? uint64_t(e.f) : 0;
    return e.is_signed ? uint64_t(e.i) : e.u;
}

double Value::float_at(uint64_t idx) const {
    Elem e = elem_at(*this, idx);
    if (e.is_float) return e.f;
    return e.is_signed ? double(e.i) : double(e.u);
}

namespace {

constexpr uint64_t kHeaderBytes = 4 + 4 + 8 + 8;
// Smallest possible encodings, used to bound counts by the bytes left before anything is sized.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;                 // key len, 1-byte key, type, u8 value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8; // name len, 1-byte name, n_dims, ne[0], type, offset
constexpr uint64_t kMinArrayBytes = 4 + 8;                      // nested array: element type + count

bool valid_value_type(uint32_t t) { return t <= uint32_t(ValueType::f64); }

class Parser {
public:
    Parser(std::span<const uint8_t> b, std::string_view name) : p_(b.data()), size_(b.size()), name_(name) {}
    Result<File> run();

private:
    uint64_t left() const { return size_ - pos_; }

    // Errors from the helpers carry only the detail; run() prefixes the field and the file name.
    Status truncated(const char* what, uint64_t need) const {
        return fail(Code::corrupt, "%s needs %llu bytes at offset %llu but only %llu are left (file is %llu bytes); the file is truncated or corrupt",
                    what, (unsigned long long)need, (unsigned long long)pos_, (unsigned long long)left(),
                    (unsigned long long)size_);
    }
    Status located(Status st, const std::string& where) const {
        st.with_context(where);
        st.with_context(std::string(name_));
        return st;
    }
    template <class T>
    Status read(T& v, const char* what) {
        if (left() < sizeof v) return truncated(what, sizeof v);
        std::memcpy(&v, p_ + pos_, sizeof v);
        pos_ += sizeof v;
        return {};
    }
    Status read_string(std::string_view& s, const char* what, uint64_t max);
    Status read_value(ValueType t, Value& v, int depth);
    Status read_array(Value& v, int depth);
    Status read_tensor_info(TensorInfo& t, uint64_t alignment);

    const uint8_t* p_;
    uint64_t size_;
    uint64_t pos_ = 0;
    std::string_view name_;
};

Status Parser::read_string(std::string_view& s, const char* what, uint64_t max) {
    uint64_t len = 0;
    VKAI_TRY(read(len, what));
    if (len > max)
        return fail(Code::corrupt, "%s is %llu bytes long; the limit is %llu", what, (unsigned long long)len,
                    (unsigned long long)max);
    if (len > left()) {
        pos_ -= 8; // report the offset of the length field
        Status st = fail(Code::corrupt, "%s of %llu bytes at offset %llu runs past the end of the file (%llu bytes); the file is truncated or corrupt",
                         what, (unsigned long long)len, (unsigned long long)pos_, (unsigned long long)size_);
        return st;
    }
    s = std::string_view(reinterpret_cast<const char*>(p_ + pos_), size_t(len));
    pos_ += len;
    return {};
}

Status Parser::read_value(ValueType t, Value& v, int depth) {
    v.type = t;
    switch (t) {
    case ValueType::u8: { uint8_t x{}; VKAI_TRY(read(x, "u8 value")); v.u = x; return {}; }
    case ValueType::u16: { uint16_t x{}; VKAI_TRY(read(x, "u16 value")); v.u = x; return {}; }
    case ValueType::u32: { uint32_t x{}; VKAI_TRY(read(x, "u32 value")); v.u = x; return {}; }
    case ValueType::u64: { uint64_t x{}; VKAI_TRY(read(x, "u64 value")); v.u = x; return {}; }
    case ValueType::i8: { int8_t x{}; VKAI_TRY(read(x, "i8 value")); v.i = x; return {}; }
    case ValueType::i16: { int16_t x{}; VKAI_TRY(read(x, "i16 value")); v.i = x; return {}; }
    case ValueType::i32: { int32_t x{}; VKAI_TRY(read(x, "i32 value")); v.i = x; return {}; }
    case ValueType::i64: { int64_t x{}; VKAI_TRY(read(x, "i64 value")); v.i = x; return {}; }
    case ValueType::f32: { float x{}; VKAI_TRY(read(x, "f32 value")); v.f = x; return {}; }
    case ValueType::f64: { double x{}; VKAI_TRY(read(x, "f64 value")); v.f = x; return {}; }
    case ValueType::boolean: {
        uint8_t x{};
        VKAI_TRY(read(x, "bool value"));
        if (x > 1) return fail(Code::corrupt, "bool value is %u at offset %llu; expected 0 or 1", x, (unsigned long long)(pos_ - 1));
        v.u = x;
        return {};
    }
    case ValueType::string: return read_string(v.str, "string", kMaxStringBytes);
    case ValueType::array: return read_array(v, depth);
    }
    return fail(Code::corrupt, "value type %u is not a GGUF value type (0..12)", uint32_t(t));
}

Status Parser::read_array(Value& v, int depth) {
    if (depth >= kMaxArrayDepth)
        return fail(Code::corrupt, "arrays nested more than %d levels deep at offset %llu", kMaxArrayDepth, (unsigned long long)pos_);
    uint32_t et = 0;
    VKAI_TRY(read(et, "array element type"));
    if (!valid_value_type(et))
        return fail(Code::corrupt, "array element type %u at offset %llu is not a GGUF value type (0..12)", et,
                    (unsigned long long)(pos_ - 4));
    uint64_t n = 0;
    VKAI_TRY(read(n, "array length"));
    v.elem_type = ValueType(et);
    if (n > kMaxArrayItems)
        return fail(Code::corrupt, "array of %llu %s items exceeds the limit of %llu items", (unsigned long long)n,
                    value_type_name(v.elem_type), (unsigned long long)kMaxArrayItems);
    uint64_t esz = value_type_size(v.elem_type);
    // Lower bound of the bytes the items occupy; n <= 2^30 and each bound <= 12, so no overflow.
    uint64_t min_item = esz ? esz : (v.elem_type == ValueType::string ? 8 : kMinArrayBytes);
    if (n * min_item > left())
        return fail(Code::corrupt, "array of %llu %s items needs %s%llu bytes at offset %llu but only %llu are left; the file is truncated or corrupt",
                    (unsigned long long)n, value_type_name(v.elem_type), esz ? "" : "at least ",
                    (unsigned long long)(n * min_item), (unsigned long long)pos_, (unsigned long long)left());
    v.count = n;
    if (esz) {
        v.raw = p_ + pos_;
        if (v.elem_type == ValueType::boolean)
            for (uint64_t i = 0; i < n; ++i)
                if (v.raw[i] > 1) return fail(Code::corrupt, "bool item %llu is %u; expected 0 or 1", (unsigned long long)i, v.raw[i]);
        pos_ += n * esz;
        return {};
    }
    v.items.resize(size_t(n)); // bounded above: n * min_item <= bytes left
    for (uint64_t i = 0; i < n; ++i) {
        Status st = read_value(v.elem_type, v.items[size_t(i)], depth + 1);
        if (!st.ok()) return st.with_context(strf("array item %llu", (unsigned long long)i));
    }
    return {};
}

Status Parser::read_tensor_info(TensorInfo& t, uint64_t alignment) {
    uint32_t nd = 0;
    VKAI_TRY(read(nd, "n_dims"));
    if (nd < 1 || nd > 4) return fail(Code::corrupt, "n_dims is %u; expected 1 to 4", nd);
    t.n_dims = int(nd);
    int64_t n = 1;
    for (uint32_t d = 0; d < nd; ++d) {
        uint64_t ne = 0;
        VKAI_TRY(read(ne, "dimension"));
        if (ne > uint64_t(INT64_MAX))
            return fail(Code::corrupt, "ne[%u] is %llu; a dimension must be below 2^63", d, (unsigned long long)ne);
        t.ne[d] = int64_t(ne);
        if (__builtin_mul_overflow(n, t.ne[d], &n))
            return fail(Code::corrupt, "shape [%lld, %lld, %lld, %lld] has more than 2^63-1 elements", (long long)t.ne[0],
                        (long long)t.ne[1], (long long)t.ne[2], (long long)t.ne[3]);
    }
    uint32_t type = 0;
    VKAI_TRY(read(type, "type"));
    const DTypeInfo* info = dtype_info(type);
    if (!info) return fail(Code::unsupported, "type id %u is not a tensor type vkai knows", type);
    t.type = info->type;
    if (t.ne[0] % int64_t(info->block) != 0)
        return fail(Code::corrupt, "ne[0] = %lld is not a multiple of the %s block size %u", (long long)t.ne[0], info->name,
                    info->block);
    std::optional<uint64_t> row = row_bytes(t.type, uint64_t(t.ne[0]));
    uint64_t rows = uint64_t(t.ne[1]) * uint64_t(t.ne[2]) * uint64_t(t.ne[3]); // <= element count: no overflow
    if (!row || __builtin_mul_overflow(*row, rows, &t.bytes))
        return fail(Code::corrupt, "byte size of shape [%lld, %lld, %lld, %lld] in %s overflows 64 bits", (long long)t.ne[0],
                    (long long)t.ne[1], (long long)t.ne[2], (long long)t.ne[3], info->name);
    VKAI_TRY(read(t.offset, "data offset"));
    if (t.offset % alignment != 0)
        return fail(Code::corrupt, "data offset %llu is not a multiple of the alignment %llu", (unsigned long long)t.offset,
                    (unsigned long long)alignment);
    return {};
}

Result<File> Parser::run() {
    File f;
    f.name = std::string(name_);
    f.bytes = std::span<const uint8_t>(p_, size_t(size_));
    if (size_ < 4 || std::memcmp(p_, "GGUF", 4) != 0) {
        if (size_ < 4)
            return fail(Code::corrupt, "%.*s: file is %llu bytes; too short for a GGUF file (24-byte header)", int(name_.size()),
                        name_.data(), (unsigned long long)size_);
        return fail(Code::corrupt, "%.*s: not a GGUF file (starts with bytes %02x %02x %02x %02x; expected \"GGUF\")",
                    int(name_.size()), name_.data(), p_[0], p_[1], p_[2], p_[3]);
    }
    if (size_ < kHeaderBytes)
        return fail(Code::corrupt, "%.*s: file is %llu bytes; the GGUF header needs 24; the file is truncated",
                    int(name_.size()), name_.data(), (unsigned long long)size_);
    pos_ = 4;
    uint32_t version = 0;
    VKAI_TRY(read(version, "version"));
    if (version == 1)
        return fail(Code::unsupported, "%.*s: GGUF version 1 is not supported (2 and 3 are); convert the model again with a current tool",
                    int(name_.size()), name_.data());
    if (version == 0x01000000u || version == 0x02000000u || version == 0x03000000u) // 1..3 byte-swapped
        return fail(Code::unsupported, "%.*s: big-endian GGUF (version reads as 0x%08x); only little-endian files are supported",
                    int(name_.size()), name_.data(), version);
    if (version == 0 || version > 3)
        return fail(Code::unsupported, "%.*s: GGUF version %u is not supported (2 and 3 are)", int(name_.size()), name_.data(),
                    version);
    f.version = version;
    uint64_t n_tensors = 0, n_kv = 0;
    VKAI_TRY(read(n_tensors, "tensor count"));
    VKAI_TRY(read(n_kv, "metadata count"));
    // Bound both counts by the bytes left before any loop or allocation uses them (G1, G2, G4).
    if (n_kv > left() / kMinKvBytes || n_tensors > left() / kMinTensorInfoBytes ||
        n_kv * kMinKvBytes + n_tensors * kMinTensorInfoBytes > left())
        return fail(Code::corrupt, "%.*s: header claims %llu tensors and %llu metadata keys but only %llu bytes follow; the file is truncated or corrupt",
                    int(name_.size()), name_.data(), (unsigned long long)n_tensors, (unsigned long long)n_kv,
                    (unsigned long long)left());

    std::unordered_set<std::string_view> seen;
    for (uint64_t i = 0; i < n_kv; ++i) {
        KV kv;
        std::string where = strf("metadata key #%llu", (unsigned long long)i);
        Status st = read_string(kv.key, "key", kMaxStringBytes);
        if (!st.ok()) return located(st, where);
        if (kv.key.empty()) return located(fail(Code::corrupt, "empty key"), where);
        where += " '" + printable(kv.key, 80) + "'";
        if (!seen.insert(kv.key).second) return located(fail(Code::corrupt, "duplicate key"), where);
        uint32_t type = 0;
        st = read(type, "value type");
        if (st.ok() && !valid_value_type(type))
            st = fail(Code::corrupt, "value type %u at offset %llu is not a GGUF value type (0..12)", type,
                      (unsigned long long)(pos_ - 4));
        if (st.ok()) st = read_value(ValueType(type), kv.value, 0);
        if (!st.ok()) return located(st, where);
        f.kvs.push_back(std::move(kv));
    }

    if (const Value* a = f.find("general.alignment")) {
        if (a->type != ValueType::u32)
            return fail(Code::corrupt, "%.*s: metadata key 'general.alignment' has type %s; expected u32", int(name_.size()),
                        name_.data(), value_type_name(a->type));
        if (a->u == 0 || (a->u & (a->u - 1)) != 0)
            return fail(Code::corrupt, "%.*s: general.alignment is %llu; expected a power of two", int(name_.size()),
                        name_.data(), (unsigned long long)a->u);
        f.alignment = a->u;
    }

    seen.clear();
    for (uint64_t i = 0; i < n_tensors; ++i) {
        TensorInfo t;
        std::string where = strf("tensor #%llu", (unsigned long long)i);
        Status st = read_string(t.name, "tensor name", kMaxTensorNameBytes);
        if (st.ok() && t.name.empty()) st = fail(Code::corrupt, "empty tensor name");
        if (!st.ok()) return located(st, where);
        where = strf("tensor '%s' (#%llu)", printable(t.name, 80).c_str(), (unsigned long long)i);
        if (!seen.insert(t.name).second) return located(fail(Code::corrupt, "duplicate tensor name"), where);
        st = read_tensor_info(t, f.alignment);
        if (!st.ok()) return located(st, where);
        f.tensors.push_back(t);
    }

    // The data section starts at the next multiple of the alignment; pos_ <= size_ < 2^63.
    uint64_t data_offset = (pos_ + f.alignment - 1) / f.alignment * f.alignment;
    f.data_offset = f.tensors.empty() ? std::min(data_offset, size_) : data_offset;
    for (size_t i = 0; i < f.tensors.size(); ++i) {
        TensorInfo& t = f.tensors[i];
        uint64_t start = 0, end = 0;
        if (__builtin_add_overflow(data_offset, t.offset, &start) || __builtin_add_overflow(start, t.bytes, &end) || end > size_)
            return fail(Code::corrupt, "%.*s: tensor '%s' (#%zu): data [offset %llu, %llu bytes] ends past the end of the file (%llu bytes, data section at %llu); the file is truncated or corrupt",
                        int(name_.size()), name_.data(), printable(t.name, 80).c_str(), i, (unsigned long long)t.offset,
                        (unsigned long long)t.bytes, (unsigned long long)size_, (unsigned long long)data_offset);
        t.data = p_ + start;
    }
    // Tensors may come in any order but must not share bytes (a hostile file could alias weights).
    std::vector<uint32_t> order(f.tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = uint32_t(i);
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return f.tensors[a].offset < f.tensors[b].offset; });
    const TensorInfo* prev = nullptr;
    for (uint32_t idx : order) {
        const TensorInfo& t = f.tensors[idx];
        if (t.bytes == 0) continue;
        if (prev && prev->offset + prev->bytes > t.offset)
            return fail(Code::corrupt, "%.*s: tensor '%s' (#%u): data [offset %llu, %llu bytes] overlaps tensor '%s' [offset %llu, %llu bytes]",
                        int(name_.size()), name_.data(), printable(t.name, 80).c_str(), idx, (unsigned long long)t.offset,
                        (unsigned long long)t.bytes, printable(prev->name, 80).c_str(), (unsigned long long)prev->offset,
                        (unsigned long long)prev->bytes);
        prev = &t;
    }
    return f;
}

} // namespace

Result<File> parse(std::span<const uint8_t> bytes, std::string_view name) { return Parser(bytes, name).run(); }

Result<Model> open(const std::string& path) {
    Model m;
    VKAI_ASSIGN_OR_RETURN(m.file, MappedFile::open(path));
    VKAI_ASSIGN_OR_RETURN(m.gguf, parse(m.file.bytes(), path)); // views stay valid: moving a MappedFile keeps the mapping
    return m;
}

const Value* File::find(std::string_view key) const {
    for (const auto& kv : kvs)
        if (kv.key == key) return &kv.value;
    return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view n) const {
    for (const auto& t : tensors)
        if (t.name == n) return &t;
    return nullptr;
}

namespace {

Status missing(const File& f, std::string_view key) {
    return fail(Code::not_found, "%s: metadata key '%.*s' is missing", f.name.c_str(), int(key.size()), key.data());
}

Status wrong_type(const File& f, std::string_view key, const Value& v, const char* expected) {
    return fail(Code::corrupt, "%s: metadata key '%.*s' has type %s; expected %s", f.name.c_str(), int(key.size()), key.data(),
                value_type_name(v.type), expected);
}

bool is_signed(ValueType t) {
    return t == ValueType::i8 || t == ValueType::i16 || t == ValueType::i32 || t == ValueType::i64;
}

} // namespace

Result<uint64_t> File::get_uint(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return missing(*this, key);
    if (!v->is_int()) return wrong_type(*this, key, *v, "an unsigned integer");
    if (is_signed(v->type)) {
        if (v->i < 0)
            return fail(Code::corrupt, "%s: metadata key '%.*s' is %lld; expected a value >= 0", name.c_str(), int(key.size()),
                        key.data(), (long long)v->i);
        return uint64_t(v->i);
    }
    return v->u;
}

Result<int64_t> File::get_int(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return missing(*this, key);
    if (!v->is_int()) return wrong_type(*this, key, *v, "an integer");
    if (is_signed(v->type)) return v->i;
    if (v->u > uint64_t(INT64_MAX))
        return fail(Code::corrupt, "%s: metadata key '%.*s' is %llu; expected a value below 2^63", name.c_str(), int(key.size()),
                    key.data(), (unsigned long long)v->u);
    return int64_t(v->u);
}

Result<double> File::get_float(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return missing(*this, key);
    if (v->type == ValueType::f32 || v->type == ValueType::f64) return v->f;
    if (v->is_int()) return is_signed(v->type) ? double(v->i) : double(v->u);
    return wrong_type(*this, key, *v, "a number");
}

Result<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return missing(*this, key);
    if (v->type != ValueType::boolean) return wrong_type(*this, key, *v, "bool");
    return v->u != 0;
}

Result<std::string_view> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    if (!v) return missing(*this, key);
    if (v->type != ValueType::string) return wrong_type(*this, key, *v, "string");
    return v->str;
}

Result<const Value*> File::get_array(std::string_view key, ValueType elem_type) const {
    const Value* v = find(key);
    if (!v) return missing(*this, key);
    if (v->type != ValueType::array) return wrong_type(*this, key, *v, strf("array of %s", value_type_name(elem_type)).c_str());
    if (v->elem_type != elem_type)
        return fail(Code::corrupt, "%s: metadata key '%.*s' is an array of %s; expected an array of %s", name.c_str(),
                    int(key.size()), key.data(), value_type_name(v->elem_type), value_type_name(elem_type));
    return v;
}

std::string File::get_string_or(std::string_view key, std::string_view fallback) const {
    const Value* v = find(key);
    return std::string(v && v->type == ValueType::string ? v->str : fallback);
}

std::string_view File::architecture() const {
    const Value* v = find("general.architecture");
    return v && v->type == ValueType::string ? v->str : std::string_view();
}

} // namespace vkai::gguf
