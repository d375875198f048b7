// Hostile GGUF input: truncation at every length, extreme values in every header and tensor field,
// byte flips, and one named test per attack class of docs/reliability.md §1 (G1-G8, T1-T7).
// Every case must fail with a message naming the file, or parse consistently; never crash or balloon.
#include "formats/gguf.h"
#include "../support/test_data.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

// Counts allocations while a parse runs, so "never allocate huge memory" is checked, not hoped.
namespace {
std::atomic<bool> g_track{false};
std::atomic<uint64_t> g_largest{0}, g_total{0};
} // namespace

// The replacement pairs malloc with free, which GCC's inliner cannot see through.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(size_t n) {
    if (g_track.load(std::memory_order_relaxed)) {
        g_total += n;
        uint64_t prev = g_largest.load();
        while (n > prev && !g_largest.compare_exchange_weak(prev, n)) {}
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace vkai;
using namespace vkai::gguf;

namespace {

constexpr const char* kName = "bad.gguf";

// Parses a private copy of exactly `bytes` (so ASan sees any read past the end) and checks the
// outcome: an error names the file; a success is internally consistent. Returns ok().
bool parse_checked(const std::vector<uint8_t>& input, const char* what = "") {
    std::vector<uint8_t> copy(input); // exact-size heap block
    g_largest = 0;
    g_total = 0;
    g_track = true;
    auto r = parse(copy, kName);
    g_track = false;
    const uint64_t n = copy.size();
    EXPECT_LE(g_largest.load(), 16 * n + 65536) << what << ": largest allocation while parsing " << n << " bytes";
    EXPECT_LE(g_total.load(), 64 * n + (1u << 20)) << what << ": total allocation while parsing " << n << " bytes";
    if (!r.ok()) {
        const std::string& m = r.status().message();
        EXPECT_EQ(m.rfind(std::string(kName) + ": ", 0), 0u) << what << ": message does not name the file: " << m;
        EXPECT_GT(m.size(), strlen(kName) + 10) << what;
        EXPECT_NE(r.status().code(), Code::internal) << what << ": " << m;
        return false;
    }
    const File& f = *r;
    EXPECT_TRUE(f.alignment && (f.alignment & (f.alignment - 1)) == 0) << what;
    EXPECT_LE(f.data_offset, n) << what;
    for (const auto& t : f.tensors) {
        EXPECT_TRUE(t.n_dims >= 1 && t.n_dims <= 4) << what;
        int64_t els = 1;
        for (int d = 0; d < 4; ++d) {
            EXPECT_GE(t.ne[d], 0) << what;
            EXPECT_FALSE(__builtin_mul_overflow(els, t.ne[d], &els)) << what;
        }
        auto row = row_bytes(t.type, uint64_t(t.ne[0]));
        EXPECT_TRUE(row.has_value()) << what;
        if (row) {
            EXPECT_EQ(t.bytes, *row * uint64_t(t.ne[1] * t.ne[2] * t.ne[3])) << what;
        }
        EXPECT_GE(t.data, copy.data()) << what;
        EXPECT_LE(uint64_t(t.data - copy.data()) + t.bytes, n) << what;
    }
    // Touch every byte the views cover so ASan would flag a view that points outside the copy.
    uint64_t sum = 0;
    for (const auto& kv : f.kvs) {
        for (char c : kv.key) sum += uint8_t(c);
        for (char c : kv.value.str) sum += uint8_t(c);
        for (uint64_t i = 0; kv.value.raw && i < kv.value.count; ++i) sum += uint64_t(kv.value.int_at(i));
        for (const auto& item : kv.value.items)
            for (char c : item.str) sum += uint8_t(c);
    }
    for (const auto& t : f.tensors)
        if (t.bytes) sum += t.data[0] + t.data[t.bytes - 1];
    volatile uint64_t sink = sum;
    (void)sink;
    return true;
}

std::string parse_error(const std::vector<uint8_t>& bytes) {
    auto r = parse(bytes, kName);
    return r.ok() ? std::string("(parsed ok)") : r.status().message();
}

void expect_error(const std::vector<uint8_t>& bytes, const char* needle) {
    EXPECT_FALSE(parse_checked(bytes, needle));
    std::string m = parse_error(bytes);
    EXPECT_NE(m.find(needle), std::string::npos) << "expected '" << needle << "' in: " << m;
}

// Raw little-endian builder for files the Writer refuses to produce.
struct Raw {
    std::vector<uint8_t> b;
    Raw& u8(uint8_t v) { b.push_back(v); return *this; }
    Raw& u32(uint32_t v) { return put(&v, 4); }
    Raw& u64(uint64_t v) { return put(&v, 8); }
    Raw& str(std::string_view s) { u64(s.size()); return put(s.data(), s.size()); }
    Raw& put(const void* p, size_t n) {
        auto* c = static_cast<const uint8_t*>(p);
        b.insert(b.end(), c, c + n);
        return *this;
    }
    Raw& header(uint64_t nt, uint64_t nkv, uint32_t version = 3) {
        put("GGUF", 4);
        u32(version);
        u64(nt);
        return u64(nkv);
    }
    Raw& kv_u32(std::string_view k, uint32_t v) { str(k); u32(uint32_t(ValueType::u32)); return u32(v); }
    Raw& tensor(std::string_view name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name);
        u32(uint32_t(ne.size()));
        for (uint64_t d : ne) u64(d);
        u32(type);
        return u64(offset);
    }
    Raw& pad_data(size_t data_bytes, size_t align = 32) {
        b.resize((b.size() + align - 1) / align * align, 0);
        b.resize(b.size() + data_bytes, 0x5a);
        return *this;
    }
};

// A small valid file with every kind of field the mutation tests target.
std::vector<uint8_t> small_file() {
    Writer w;
    w.set_string("general.architecture", "llama");
    uint32_t ids[3] = {1, 2, 3};
    w.set_array("a.u32", ValueType::u32, ids, 3);
    w.set_string_array("a.str", {"ab", "cde"});
    w.set_u32("general.alignment", 32);
    w.set_bool("flag", true);
    EXPECT_TRUE(w.add_tensor("t0", DType::F32, {8, 2}, nullptr).ok());
    EXPECT_TRUE(w.add_tensor("t1", DType::Q4_0, {32, 2}, nullptr).ok());
    auto r = w.write_to_memory();
    EXPECT_TRUE(r.ok());
    return r.ok() ? std::move(r).value() : std::vector<uint8_t>{};
}

struct Field {
    std::string what;
    size_t off;
    int width; // 4 or 8 bytes
};

// Walks a known-valid file (no checks needed) and records where each field lives.
std::vector<Field> locate(const std::vector<uint8_t>& b) {
    std::vector<Field> out;
    size_t pos = 8;
    auto rd64 = [&](size_t at) { uint64_t v; std::memcpy(&v, &b[at], 8); return v; };
    auto rd32 = [&](size_t at) { uint32_t v; std::memcpy(&v, &b[at], 4); return v; };
    uint64_t nt = rd64(8), nkv = rd64(16);
    out.push_back({"n_tensors", 8, 8});
    out.push_back({"n_kv", 16, 8});
    pos = 24;
    for (uint64_t i = 0; i < nkv; ++i) {
        std::string n = "kv" + std::to_string(i);
        out.push_back({n + ".key_len", pos, 8});
        uint64_t klen = rd64(pos);
        std::string key(reinterpret_cast<const char*>(&b[pos + 8]), klen);
        pos += 8 + klen;
        out.push_back({n + ".type", pos, 4});
        auto t = ValueType(rd32(pos));
        pos += 4;
        if (t == ValueType::string) {
            out.push_back({n + ".str_len", pos, 8});
            pos += 8 + rd64(pos);
        } else if (t == ValueType::array) {
            auto et = ValueType(rd32(pos));
            out.push_back({n + ".elem_type", pos, 4});
            out.push_back({n + ".count", pos + 4, 8});
            uint64_t cnt = rd64(pos + 4);
            pos += 12;
            if (et == ValueType::string) {
                for (uint64_t j = 0; j < cnt; ++j) {
                    out.push_back({n + ".item_len" + std::to_string(j), pos, 8});
                    pos += 8 + rd64(pos);
                }
            } else {
                pos += cnt * value_type_size(et);
            }
        } else {
            if (key == "general.alignment") out.push_back({"alignment", pos, 4});
            pos += value_type_size(t);
        }
    }
    for (uint64_t i = 0; i < nt; ++i) {
        std::string n = "tensor" + std::to_string(i);
        out.push_back({n + ".name_len", pos, 8});
        pos += 8 + rd64(pos);
        out.push_back({n + ".n_dims", pos, 4});
        uint32_t nd = rd32(pos);
        pos += 4;
        for (uint32_t d = 0; d < nd; ++d, pos += 8) out.push_back({n + ".ne" + std::to_string(d), pos, 8});
        out.push_back({n + ".type", pos, 4});
        out.push_back({n + ".offset", pos + 4, 8});
        pos += 12;
    }
    return out;
}

void set_field(std::vector<uint8_t>& b, const Field& f, uint64_t v) {
    if (f.width == 4) {
        uint32_t x = uint32_t(v);
        std::memcpy(&b[f.off], &x, 4);
    } else {
        std::memcpy(&b[f.off], &v, 8);
    }
}

const uint64_t kExtremes[] = {0, 1, 2, 3, 5, 7, 13, 31, 33, 64, 255, 0x7fffffffu, 0x80000000u, 0xffffffffu,
                              1ull << 32, (1ull << 42) + 1, 1ull << 62, 0x7fffffffffffffffull, 1ull << 63,
                              0xffffffffffffffffull, 0xfffffffffffffff0ull};

} // namespace

TEST(GgufCorrupt, SmallFileIsValid) {
    std::vector<uint8_t> b = small_file();
    EXPECT_TRUE(parse_checked(b));
    EXPECT_EQ(locate(b).size(), 32u);
}

TEST(GgufCorrupt, TruncateSmallFileAtEveryLength) {
    std::vector<uint8_t> b = small_file();
    auto full = parse(b, kName);
    ASSERT_TRUE(full.ok());
    uint64_t data_end = 0;
    for (const auto& t : full->tensors) data_end = std::max<uint64_t>(data_end, full->data_offset + t.offset + t.bytes);
    for (size_t len = 0; len < b.size(); ++len) {
        std::vector<uint8_t> cut(b.begin(), b.begin() + len);
        EXPECT_EQ(parse_checked(cut, "truncated"), len >= data_end) << "length " << len;
    }
}

TEST(GgufCorrupt, TruncateRealFile) {
    const char* rel = "llm/stories260K-Q4_K_M.gguf";
    if (!test::have_data(rel)) GTEST_SKIP();
    auto m = open(test::data_path(rel));
    ASSERT_TRUE(m.ok()) << m.status().message();
    std::vector<uint8_t> b(m->file.bytes().begin(), m->file.bytes().end());
    uint64_t data_end = 0;
    for (const auto& t : m->gguf.tensors) data_end = std::max<uint64_t>(data_end, m->gguf.data_offset + t.offset + t.bytes);
    // Every length through the metadata and tensor infos, then a dense sample of the data section.
    for (size_t len = 0; len <= m->gguf.data_offset; ++len) {
        std::vector<uint8_t> cut(b.begin(), b.begin() + len);
        ASSERT_FALSE(parse_checked(cut, "truncated")) << "length " << len;
    }
    for (size_t len = m->gguf.data_offset + 1; len < b.size(); len += 509) {
        std::vector<uint8_t> cut(b.begin(), b.begin() + len);
        EXPECT_EQ(parse_checked(cut, "truncated"), len >= data_end) << "length " << len;
    }
    std::vector<uint8_t> cut(b.begin(), b.end() - 1);
    EXPECT_EQ(parse_checked(cut), b.size() - 1 >= data_end);
    std::string msg = parse_error(std::vector<uint8_t>(b.begin(), b.begin() + 5000));
    EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
}

TEST(GgufCorrupt, ExtremeValuesInEveryField) {
    const std::vector<uint8_t> b = small_file();
    for (const Field& f : locate(b)) {
        for (uint64_t v : kExtremes) {
            std::vector<uint8_t> m = b;
            set_field(m, f, v);
            std::string what = f.what + "=" + std::to_string(v);
            parse_checked(m, what.c_str());
        }
    }
}

TEST(GgufCorrupt, FieldsThatMustBeRejected) {
    const std::vector<uint8_t> b = small_file();
    std::vector<Field> fields = locate(b);
    auto field = [&](const std::string& name) {
        for (const auto& f : fields)
            if (f.what == name) return f;
        ADD_FAILURE() << "no field " << name;
        return fields[0];
    };
    struct Case {
        const char* field;
        uint64_t value;
        const char* needle;
    };
    const Case cases[] = {
        {"n_tensors", 1ull << 62, "claims"},
        {"n_kv", 0xffffffffffffffffull, "claims"},
        {"kv0.key_len", 0, "empty key"},
        {"kv0.key_len", 1ull << 63, "limit"},
        {"kv0.type", 13, "not a GGUF value type"},
        {"kv0.type", 0xffffffffu, "not a GGUF value type"},
        {"kv0.str_len", 0xffffffffffffffffull, "limit"},
        {"kv0.str_len", 1000, "past the end"},
        {"kv1.elem_type", 13, "element type 13"},
        {"kv1.count", 1ull << 62, "limit"},
        {"kv1.count", 1000000, "truncated"},
        {"kv2.count", 100000, "at least 800000 bytes"},
        {"kv2.item_len0", 0x7fffffffffffffffull, "limit"},
        {"alignment", 0, "power of two"},
        {"alignment", 48, "power of two"},
        {"tensor0.n_dims", 0, "n_dims is 0"},
        {"tensor0.n_dims", 5, "n_dims is 5"},
        {"tensor0.ne0", 1ull << 63, "below 2^63"},
        {"tensor0.ne1", 1ull << 40, "ends past the end"},
        {"tensor0.ne1", 0x7fffffffffffffffull, "2^63-1 elements"},
        {"tensor0.type", 0xffffffffu, "type id"},
        {"tensor1.ne0", 33, "block size"},
        {"tensor0.offset", 1, "multiple of the alignment"},
        {"tensor1.offset", 0, "overlaps"},
        {"tensor1.offset", 0xffffffffffffffe0ull, "ends past the end"},
        {"tensor0.name_len", 1000, "limit"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string(c.field) + "=" + std::to_string(c.value));
        std::vector<uint8_t> m = b;
        set_field(m, field(c.field), c.value);
        expect_error(m, c.needle);
    }
}

TEST(GgufCorrupt, EveryByteFlipped) {
    const std::vector<uint8_t> b = small_file();
    for (size_t i = 0; i < b.size(); ++i)
        for (uint8_t v : {uint8_t(0), uint8_t(0xff), uint8_t(0x80), uint8_t(b[i] + 1)}) {
            std::vector<uint8_t> m = b;
            m[i] = v;
            parse_checked(m, "flip");
        }
}

// ---- reliability.md §1.1: header and key-value section ----

TEST(GgufAttack, G1_HugeTensorCount) {
    for (uint64_t n : {1ull << 62, 1ull << 63, 0xffffffffffffffffull, 0x0800000000000000ull, 1000ull})
        expect_error(Raw().header(n, 0).pad_data(64).b, "claims");
}

TEST(GgufAttack, G2_HugeKvCount) {
    for (uint64_t n : {1ull << 62, 1ull << 63, 0xffffffffffffffffull, 100ull})
        expect_error(Raw().header(0, n).kv_u32("a", 1).b, "claims");
}

TEST(GgufAttack, G3_StringLengthNear2To64) {
    for (uint64_t len : {0xffffffffffffffffull, 0xfffffffffffffffeull, 1ull << 63, (1ull << 30) + 1})
        expect_error(Raw().header(0, 1).u64(len).put("abcdefgh", 8).b, "limit");
    // A string value (not a key) with a length that wraps when 1 is added.
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::string)).u64(~0ull).b, "limit");
    // Within the cap but past the end of the file.
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::string)).u64(1000).put("xy", 2).b, "past the end");
}

TEST(GgufAttack, G4_HugeLengthsNeitherHangNorAllocate) {
    // The 43-byte shape: tiny file, counts and lengths of 2^62 .. 2^63.
    std::vector<uint8_t> f = Raw().header(1ull << 63, 1ull << 63).u64(1ull << 63).u8(0).u8(0).b;
    EXPECT_LE(f.size(), 43u);
    expect_error(f, "claims");
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::array)).u32(uint32_t(ValueType::u8)).u64(1ull << 62).b, "limit");
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::array)).u32(uint32_t(ValueType::string)).u64(1ull << 29).b,
                 "truncated");
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::array)).u32(uint32_t(ValueType::array)).u64(1ull << 29).b,
                 "truncated");
}

TEST(GgufAttack, G5_ArrayAmplificationRejected) {
    // 10 f64 (80 bytes) declared in a file with far fewer bytes left.
    Raw r;
    r.header(0, 1).str("k").u32(uint32_t(ValueType::array)).u32(uint32_t(ValueType::f64)).u64(10);
    r.u64(0).u64(0);
    EXPECT_LT(r.b.size(), 80u);
    expect_error(r.b, "needs 80 bytes");
    // N strings need at least 8N bytes: 100 claimed with 40 bytes left is rejected before allocating.
    Raw s;
    s.header(0, 1).str("k").u32(uint32_t(ValueType::array)).u32(uint32_t(ValueType::string)).u64(100);
    s.b.resize(s.b.size() + 40, 0);
    expect_error(s.b, "at least 800 bytes");
}

TEST(GgufAttack, G6_BadAlignment) {
    for (uint32_t a : {0u, 3u, 48u, 0xffffffffu})
        expect_error(Raw().header(0, 1).kv_u32("general.alignment", a).b, "power of two");
    // 2^31 is a power of two: accepted as metadata, but then no tensor can fit the file.
    EXPECT_TRUE(parse_checked(Raw().header(0, 1).kv_u32("general.alignment", 0x80000000u).b));
    expect_error(Raw().header(1, 1).kv_u32("general.alignment", 0x80000000u).tensor("t", {4}, 0, 0).pad_data(16).b,
                 "ends past the end");
    // Stored as i32, u64 or string instead of u32.
    expect_error(Raw().header(0, 1).str("general.alignment").u32(uint32_t(ValueType::i32)).u32(32).b, "expected u32");
    expect_error(Raw().header(0, 1).str("general.alignment").u32(uint32_t(ValueType::u64)).u64(32).b, "expected u32");
    expect_error(Raw().header(0, 1).str("general.alignment").u32(uint32_t(ValueType::string)).str("32").b, "expected u32");
    // A valid non-default alignment is honoured.
    Raw ok;
    ok.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, 0, 0).pad_data(16, 64);
    auto f = parse(ok.b, kName);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f->alignment, 64u);
    EXPECT_EQ(f->data_offset % 64, 0u);
}

TEST(GgufAttack, G7_KeysAndValueTypes) {
    expect_error(Raw().header(0, 2).kv_u32("a", 1).kv_u32("a", 2).b, "duplicate key");
    expect_error(Raw().header(0, 1).kv_u32("", 1).b, "empty key");
    expect_error(Raw().header(0, 1).str("k").u32(13).u32(0).b, "value type 13");
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::array)).u32(99).u64(0).b, "element type 99");
    expect_error(Raw().header(0, 1).str("k").u32(uint32_t(ValueType::boolean)).u8(2).b, "expected 0 or 1");
    // Arrays of arrays are read up to kMaxArrayDepth levels; deeper nesting is rejected.
    auto nested = [](int levels) {
        Raw r;
        r.header(0, 1).str("k").u32(uint32_t(ValueType::array));
        for (int i = 0; i < levels - 1; ++i) r.u32(uint32_t(ValueType::array)).u64(1);
        r.u32(uint32_t(ValueType::u8)).u64(1).u8(7);
        return r.b;
    };
    EXPECT_TRUE(parse_checked(nested(kMaxArrayDepth)));
    expect_error(nested(kMaxArrayDepth + 1), "nested more than");
    expect_error(nested(100000 / 12), "nested more than");
}

TEST(GgufAttack, G8_BadVersions) {
    expect_error(Raw().header(0, 0, 0).b, "version 0");
    expect_error(Raw().header(0, 0, 1).b, "version 1 is not supported");
    expect_error(Raw().header(0, 0, 4).b, "version 4");
    expect_error(Raw().header(0, 0, 0xffffffffu).b, "not supported");
    expect_error(Raw().header(0, 0, 0x03000000u).b, "big-endian");
    expect_error(Raw().header(0, 0, 0x02000000u).b, "big-endian");
    expect_error({'G', 'G', 'U'}, "too short");
    expect_error({'G', 'G', 'M', 'L', 3, 0, 0, 0}, "not a GGUF file");
    std::vector<uint8_t> short_header = Raw().header(0, 0).b;
    short_header.resize(20);
    expect_error(short_header, "header needs 24");
    expect_error({}, "too short");
    EXPECT_TRUE(parse_checked(Raw().header(0, 0, 2).b));
    EXPECT_TRUE(parse_checked(Raw().header(0, 0, 3).b));
}

// ---- reliability.md §1.2: tensor infos and data ----

TEST(GgufAttack, T1_TooManyDims) {
    for (uint32_t nd : {0u, 5u, 64u, 0xffffffffu}) {
        Raw r;
        r.header(1, 0).str("t").u32(nd);
        for (int i = 0; i < 6; ++i) r.u64(1);
        r.u32(0).u64(0).pad_data(64);
        expect_error(r.b, "n_dims");
    }
}

TEST(GgufAttack, T2_NegativeZeroAndOverflowingDims) {
    expect_error(Raw().header(1, 0).tensor("t", {4, 0x8000000000000000ull}, 0, 0).pad_data(64).b, "below 2^63");
    expect_error(Raw().header(1, 0).tensor("t", {~0ull}, 0, 0).pad_data(64).b, "below 2^63");
    expect_error(Raw().header(1, 0).tensor("t", {1ull << 32, 1ull << 32}, 0, 0).pad_data(64).b, "more than 2^63-1 elements");
    // Zero-element tensors are allowed, and have no bytes.
    std::vector<uint8_t> z = Raw().header(2, 0).tensor("z", {0, 7}, 0, 0).tensor("y", {4}, 0, 0).pad_data(16).b;
    auto f = parse(z, kName);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f->tensors[0].bytes, 0u);
    EXPECT_EQ(f->tensors[0].nelements(), 0);
    EXPECT_EQ(f->tensors[1].bytes, 16u);
}

TEST(GgufAttack, T3_DimThatWrapsTheByteSize) {
    // 2^42+1 rows of 2^21 floats: elements fit int64 only just not; byte counts must not wrap.
    expect_error(Raw().header(1, 0).tensor("t", {(1ull << 42) + 1, 1ull << 21}, 0, 0).pad_data(64).b, "2^63-1 elements");
    // 2^42+1 elements of f32: 16 TiB claimed in a tiny file.
    expect_error(Raw().header(1, 0).tensor("t", {(1ull << 42) + 1}, 0, 0).pad_data(64).b, "ends past the end");
    expect_error(Raw().header(1, 0).tensor("t", {32, (1ull << 42) + 1}, uint32_t(DType::Q4_0), 0).pad_data(64).b,
                 "ends past the end");
}

TEST(GgufAttack, T4_UnknownTypeAndBlockMismatch) {
    for (uint32_t type : {4u, 5u, 31u, 40u, 1000u, 0xffffffffu, 0x80000000u}) {
        std::vector<uint8_t> b = Raw().header(1, 0).tensor("t", {32}, type, 0).pad_data(256).b;
        expect_error(b, "type id");
        EXPECT_EQ(parse(b, kName).status().code(), Code::unsupported);
    }
    expect_error(Raw().header(1, 0).tensor("t", {16}, uint32_t(DType::Q4_0), 0).pad_data(64).b, "block size 32");
    expect_error(Raw().header(1, 0).tensor("t", {255, 2}, uint32_t(DType::Q4_K), 0).pad_data(1024).b, "block size 256");
}

TEST(GgufAttack, T5_ByteSizeAndOffsetOverflow) {
    // 2^61 f64 elements = 2^64 bytes: the element count fits int64, the byte size does not fit u64.
    expect_error(Raw().header(1, 0).tensor("t", {1ull << 61}, uint32_t(DType::F64), 0).pad_data(64).b, "overflows");
    // offset + bytes wraps past 2^64.
    expect_error(Raw().header(1, 0).tensor("t", {64}, 0, 0xffffffffffffffe0ull).pad_data(256).b, "ends past the end");
    expect_error(Raw().header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {1ull << 60}, 0, 32).pad_data(64).b, "ends past the end");
}

TEST(GgufAttack, T6_OffsetsOutOfBoundsMisalignedOrOverlapping) {
    expect_error(Raw().header(1, 0).tensor("t", {16}, 0, 32).pad_data(64).b, "ends past the end");
    expect_error(Raw().header(1, 0).tensor("t", {4}, 0, 4).pad_data(64).b, "multiple of the alignment");
    expect_error(Raw().header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {16}, 0, 32).pad_data(128).b, "overlaps");
    // Out-of-order but disjoint tensors are fine.
    auto f = parse(Raw().header(2, 0).tensor("a", {8}, 0, 32).tensor("b", {8}, 0, 0).pad_data(64).b, kName);
    ASSERT_TRUE(f.ok()) << f.status().message();
    EXPECT_EQ(f->tensors[0].data - f->tensors[1].data, 32);
    // Tensors present but the file ends before the data section starts.
    std::vector<uint8_t> b = Raw().header(1, 0).tensor("t", {0}, 0, 0).b;
    expect_error(b, "ends past the end");
    // Full error text names the tensor, its index, the offset, the size and the file size.
    std::string m = parse_error(Raw().header(1, 0).tensor("blk.0.attn_q.weight", {1024}, 0, 0).pad_data(2048).b);
    EXPECT_NE(m.find("bad.gguf: tensor 'blk.0.attn_q.weight' (#0): data [offset 0, 4096 bytes] ends past the end of the file"),
              std::string::npos)
        << m;
}

TEST(GgufAttack, T7_TensorNames) {
    std::string max_name(kMaxTensorNameBytes, 'n');
    EXPECT_TRUE(parse_checked(Raw().header(1, 0).tensor(max_name, {4}, 0, 0).pad_data(16).b));
    expect_error(Raw().header(1, 0).tensor(max_name + "x", {4}, 0, 0).pad_data(16).b, "limit");
    expect_error(Raw().header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad_data(64).b, "duplicate tensor name");
    expect_error(Raw().header(1, 0).tensor("", {4}, 0, 0).pad_data(16).b, "empty tensor name");
}
