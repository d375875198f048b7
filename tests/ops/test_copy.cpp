// copy and get_rows: conversions are deterministic (round to nearest even, quantize_row), so
// cpu:: must match ref:: byte for byte, and ref:: must match quantize_row/dequantize_row directly.
#include "op_harness.h"

#include <limits>

using namespace vkai;
using namespace vkai::test;

namespace {

// f32 values where conversions differ if rounding is wrong: ties, overflow, subnormals, NaN.
const float kSpecial[] = {
    0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 1e6f, -1e6f,
    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
    1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048,                     // f16 ties to even (down, up)
    1.0f + 1.0f / 256, 1.0f + 3.0f / 256,                       // bf16 ties to even
    6.1035156e-05f, 6.0e-08f, 2.9e-08f, 1e-10f, -3.0e-06f,      // f16 normal/subnormal edges
    1e-40f, -1e-39f, 3.4e38f, 1.17549435e-38f,                  // f32 subnormal, bf16 overflow edge
};

struct CopyCase {
    DType src, dst;
    int64_t n, rows;
    bool special = false;  // fill with kSpecial (plain source types only)
    bool reshape = false;  // dst is (n, 2, rows / 2)
    int64_t pad = 0;       // on both sides, in elements or blocks
    std::string vars() const {
        return strf("copy %s -> %s n=%lld rows=%lld special=%d reshape=%d pad=%lld", dtype_name(src), dtype_name(dst), (long long)n,
                    (long long)rows, special, reshape, (long long)pad);
    }
};

constexpr DType F32 = DType::F32, F16 = DType::F16, BF16 = DType::BF16, Q8_0 = DType::Q8_0, Q4_0 = DType::Q4_0,
                Q4_K = DType::Q4_K, Q6_K = DType::Q6_K;

const CopyCase kCopyCases[] = {
    {F32, F16, 1, 1},
    {F32, F16, 31, 3, true},
    {F32, F16, 4096 + 5, 10, false, true}, // threaded
    {F16, F32, 7, 5, false, false, 2},
    {F16, F32, 4096 + 5, 9},
    {F32, BF16, 7, 4, true, true},
    {F32, BF16, 64 + 3, 3, false, false, 1},
    {BF16, F32, 31, 2},
    {F16, BF16, 17, 3},
    {BF16, F16, 33, 2, false, false, 3},
    {F32, F32, 13, 4, false, true, 2},
    {F16, F16, 9, 2},
    {F32, Q8_0, 32, 1},
    {F32, Q8_0, 96, 4, false, true},
    {F32, Q8_0, 4096, 12},                 // threaded quantization
    {F16, Q8_0, 64, 3, false, false, 1},
    {F32, Q4_K, 256, 2},
    {F32, Q4_K, 4096, 3, false, false, 1},
    {BF16, Q4_K, 512, 2},
    {Q8_0, F32, 96, 3},
    {Q4_K, F32, 512, 2, false, false, 1},
    {Q4_K, F16, 256, 3},
    {Q4_0, Q8_0, 64, 4},                   // dequantize then quantize
    {Q8_0, Q8_0, 64, 4, false, true},      // same type: a byte copy
};

void fill_special(Owned& t) {
    std::vector<float> row(size_t(t.t.ne[0]));
    size_t k = 0;
    for (int64_t r = 0; r < t.rows(); ++r) {
        for (float& v : row) v = kSpecial[k++ % std::size(kSpecial)];
        t.set_row(r, row.data());
    }
}

TEST(copy, cases) {
    for (const CopyCase& c : kCopyCases) {
        SCOPED_TRACE(c.vars());
        Owned src(c.src, c.n, c.rows, 1, 1, c.pad);
        if (c.special) fill_special(src);
        else src.fill(10, -3.0f, 3.0f);
        auto make_dst = [&] { return c.reshape ? Owned(c.dst, c.n, 2, c.rows / 2, 1, c.pad) : Owned(c.dst, c.n, c.rows, 1, 1, c.pad); };
        Owned want = make_dst();
        ref::copy(src.t, want.t);
        EXPECT_TRUE(want.padding_intact());

        // The reference is: dequantize_row, then round to nearest (f16, bf16) or quantize_row; a byte
        // copy when the types are equal. Owned::set_row stores a float row that way.
        std::vector<uint8_t> direct;
        std::vector<float> f(size_t(c.n));
        Owned one(c.dst, c.n);
        for (int64_t r = 0; r < src.rows(); ++r) {
            if (c.src == c.dst) {
                direct.insert(direct.end(), src.row(r), src.row(r) + src.row_bytes());
                continue;
            }
            dequantize_row(c.src, src.row(r), f.data(), c.n);
            one.set_row(0, f.data());
            direct.insert(direct.end(), one.row(0), one.row(0) + one.row_bytes());
        }
        EXPECT_TRUE(same_bytes(want.packed(), direct)) << "ref::copy vs dequantize_row + store";

        for_each_variant([&](ThreadPool& pool) {
            Owned got = make_dst();
            cpu::copy(src.t, got.t, pool);
            EXPECT_TRUE(same_bytes(got.packed(), want.packed()));
            EXPECT_TRUE(got.padding_intact());
        });
    }
}

struct GetRowsCase {
    DType type;
    int64_t n_embd, table_rows, n_ids;
    int64_t pad = 0; // table rows, in elements or blocks
    std::string vars() const {
        return strf("get_rows %s n_embd=%lld table_rows=%lld n_ids=%lld pad=%lld", dtype_name(type), (long long)n_embd,
                    (long long)table_rows, (long long)n_ids, (long long)pad);
    }
};

const GetRowsCase kGetRowsCases[] = {
    {F32, 1, 3, 4},
    {F32, 7, 10, 5, 2},
    {F32, 4096 + 5, 16, 12},  // threaded
    {F16, 31, 9, 6},
    {F16, 64 + 3, 5, 7, 1},
    {F16, 4096, 8, 20},       // threaded
    {BF16, 13, 4, 9},
    {Q4_0, 32, 6, 5},
    {Q4_0, 128, 17, 9, 1},
    {Q8_0, 4096, 11, 16},     // threaded dequantization
    {Q6_K, 256, 5, 4},
    {Q6_K, 1024, 7, 10, 1},
};

TEST(get_rows, cases) {
    for (const GetRowsCase& c : kGetRowsCases) {
        SCOPED_TRACE(c.vars());
        Owned table(c.type, c.n_embd, c.table_rows, 1, 1, c.pad);
        table.fill(12, -2.0f, 2.0f);
        // Random ids with repeats, and both ends of the table.
        std::vector<float> r = random_floats(c.n_ids, 13, 0.0f, float(c.table_rows));
        std::vector<int32_t> ids(size_t(c.n_ids));
        for (size_t j = 0; j < ids.size(); ++j) ids[j] = std::min(int32_t(r[j]), int32_t(c.table_rows - 1));
        ids[0] = int32_t(c.table_rows - 1);
        ids.back() = 0;

        Owned want(DType::F32, c.n_embd, c.n_ids);
        ref::get_rows(table.t, ids.data(), c.n_ids, want.t);
        std::vector<float> row(size_t(c.n_embd));
        for (int64_t j = 0; j < c.n_ids; ++j) {
            dequantize_row(c.type, table.row(ids[size_t(j)]), row.data(), c.n_embd);
            ASSERT_EQ(std::memcmp(row.data(), want.frow(j), row.size() * 4), 0) << "ref row " << j << " is not table row " << ids[size_t(j)];
        }

        for_each_variant([&](ThreadPool& pool) {
            Owned got(DType::F32, c.n_embd, c.n_ids, 1, 1, 2);
            cpu::get_rows(table.t, ids.data(), c.n_ids, got.t, pool);
            EXPECT_TRUE(same_bytes(got.packed(), want.packed()));
            EXPECT_TRUE(got.padding_intact());
        });
    }
}

} // namespace
