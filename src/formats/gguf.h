// GGUF v2/v3 reader and writer. The reader parses untrusted bytes: every count, length, offset,
// dimension and type is checked against the buffer, with overflow-safe arithmetic, and errors
// name the field, the expected and the actual value. Parsed values are views into the buffer
// (zero copy): keep the buffer (usually a MappedFile) alive while the File is used.
#pragma once

#include "base/mapped_file.h"
#include "base/status.h"
#include "tensor/dtype.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vkai::gguf {

enum class ValueType : uint32_t {
    u8 = 0, i8 = 1, u16 = 2, i16 = 3, u32 = 4, i32 = 5, f32 = 6, boolean = 7,
    string = 8, array = 9, u64 = 10, i64 = 11, f64 = 12,
};
const char* value_type_name(ValueType t); // "u32", "string", ...; "?" for an unknown id
uint64_t value_type_size(ValueType t);     // bytes of a scalar element; 0 for string and array

// Hard limits beyond the file size (a hostile file can claim a billion strings in 8 GB).
constexpr uint64_t kMaxStringBytes = 1ull << 30;
constexpr uint64_t kMaxArrayItems = 1ull << 30;
constexpr int kMaxArrayDepth = 8;
constexpr uint64_t kMaxTensorNameBytes = 256;

// A metadata value. Scalars are decoded; strings and arrays point into the file.
struct Value {
    ValueType type = ValueType::u8;
    uint64_t u = 0;      // u8..u64 and boolean
    int64_t i = 0;       // i8..i64
    double f = 0;        // f32, f64
    std::string_view str; // string
    // array: elem_type and count; scalar elements stay raw little-endian bytes (`raw`),
    // string and nested-array elements are decoded into `items`.
    ValueType elem_type = ValueType::u8;
    uint64_t count = 0;
    const uint8_t* raw = nullptr;
    std::vector<Value> items;

    bool is_int() const; // any integer type (not boolean)
    // Element i of a scalar array as a number (caller checks i < count and elem type).
    // Out-of-range i or a string/array element type yields 0 (never reads outside `raw`).
    // u64 elements above INT64_MAX wrap in int_at; use uint_at for them.
    int64_t int_at(uint64_t i) const;
    uint64_t uint_at(uint64_t i) const;
    double float_at(uint64_t i) const;
};

struct KV {
    std::string_view key;
    Value value;
};

struct TensorInfo {
    std::string_view name;
    DType type = DType::F32;
    int n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1}; // ggml order: ne[0] innermost
    uint64_t offset = 0;          // from the start of the data section
    uint64_t bytes = 0;           // exact size of the tensor's data
    const uint8_t* data = nullptr; // = file bytes + data_offset + offset, inside the buffer
    int64_t nelements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class File {
public:
    std::string name;   // as given to parse(): used in getter error messages
    uint32_t version = 0;
    uint64_t alignment = 32;
    uint64_t data_offset = 0; // start of the data section in the buffer
    std::vector<KV> kvs;
    std::vector<TensorInfo> tensors;
    std::span<const uint8_t> bytes;

    const Value* find(std::string_view key) const;
    const TensorInfo* find_tensor(std::string_view name) const;

    // Typed getters: not_found when the key is absent, corrupt when the type does not match.
    // Integer getters accept any integer type whose value fits.
    Result<uint64_t> get_uint(std::string_view key) const;
    Result<int64_t> get_int(std::string_view key) const;
    Result<double> get_float(std::string_view key) const; // f32/f64 (and integers)
    Result<bool> get_bool(std::string_view key) const;
    Result<std::string_view> get_string(std::string_view key) const;
    Result<const Value*> get_array(std::string_view key, ValueType elem_type) const;
    std::string get_string_or(std::string_view key, std::string_view fallback) const;

    std::string_view architecture() const; // general.architecture or ""
};

// name is used in error messages only (usually the path). Accepts v2 and v3 (v1 and big-endian
// files are unsupported). Rejects: duplicate or empty keys, unknown value types, arrays nested
// deeper than kMaxArrayDepth, general.alignment that is not a u32 power of two, n_dims outside
// 1..4, negative dims, element counts or byte sizes that overflow, unknown tensor types, ne[0]
// not a multiple of the block size, unaligned offsets, data past the end of the file, tensors
// whose bytes overlap, duplicate or empty tensor names. Zero-element tensors are allowed.
// Memory: every count is checked against the bytes left before anything is sized by it; the
// decoded `items` of a string array cost ~12x the file bytes they describe at worst.
Result<File> parse(std::span<const uint8_t> bytes, std::string_view name = "gguf");

// A mapped file plus its parsed view; the usual way to open a model.
struct Model {
    MappedFile file;
    File gguf;
};
Result<Model> open(const std::string& path);

// Streams a GGUF v3 file. Metadata values are owned copies; tensor data comes from a
// callback at write time, so multi-GB files (vkai synth) never sit in memory whole.
class Writer {
public:
    explicit Writer(uint64_t alignment = 32);

    void set_u8(std::string_view key, uint8_t v);
    void set_i8(std::string_view key, int8_t v);
    void set_u16(std::string_view key, uint16_t v);
    void set_i16(std::string_view key, int16_t v);
    void set_u32(std::string_view key, uint32_t v);
    void set_i32(std::string_view key, int32_t v);
    void set_u64(std::string_view key, uint64_t v);
    void set_i64(std::string_view key, int64_t v);
    void set_f32(std::string_view key, float v);
    void set_f64(std::string_view key, double v);
    void set_bool(std::string_view key, bool v);
    void set_string(std::string_view key, std::string_view v);
    // Arrays of scalars from raw little-endian element bytes, and arrays of strings.
    void set_array(std::string_view key, ValueType elem_type, const void* elems, uint64_t count);
    void set_string_array(std::string_view key, const std::vector<std::string>& v);
    // Copies a value read from another file (any type, nested arrays included).
    void set_value(std::string_view key, const Value& v);
    // Setting a key again replaces its value. Setters cannot fail; an invalid key or value
    // (empty key, too-long string, inconsistent array) is reported by write()/write_to_memory().
    // general.alignment, if set (as u32), overrides the constructor's alignment.

    // fill(dst) writes exactly `bytes` = row_bytes(type, ne[0]) * rows; returns !ok to abort.
    using Fill = std::function<Status(uint8_t* dst, uint64_t bytes)>;
    Status add_tensor(std::string_view name, DType type, std::vector<int64_t> ne, Fill fill);

    // Writes path + ".tmp", then renames it to path: a failed write leaves no file behind.
    Status write(const std::string& path) const;
    Result<std::vector<uint8_t>> write_to_memory() const; // for tests

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

} // namespace vkai::gguf
