// cpu::mul_mat against ref::mul_mat for every weight type, odd shapes, the SIMD and the portable
// path, 1 and 2 threads. The SIMD path quantizes x to int8 for the quantized types, hence the bound.
#include "base/fp16.h"
#include "base/text.h"
#include "cpu/cpu.h"
#include "ops/ref.h"
#include "../support/test_data.h"
#include "tensor/quant.h"
#include "tensor/quant_blocks.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

using namespace vkai;

namespace {

const DType kTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                        DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q2_K, DType::Q3_K,
                        DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::IQ4_NL, DType::IQ4_XS};

// NMSE bounds. f32/f16/bf16 weights are multiplied in f32 (only summation order differs from the
// double reference). For quantized weights the SIMD path rounds x to int8 per block (relative
// error ~1/254 per element, ~1e-5 NMSE measured on random data); the portable path dequantizes
// the weights exactly and dots in f32, so it meets the float bound.
double bound(DType t, bool simd) {
    switch (t) {
    case DType::F32: return 1e-10;
    case DType::F16:
    case DType::BF16: return 1e-8;
    default: return simd ? 5e-4 : 1e-10;
    }
}

// Weights (k, m): quantize_row of uniform floats when the type quantizes (or is a float type),
// otherwise (or with random_blocks) random bytes with f16 fields in +-[1e-3, 1e-2].
std::vector<uint8_t> make_weights(DType t, int64_t k, int64_t m, uint64_t seed, bool random_blocks) {
    const DTypeInfo& info = dtype_info(t);
    const size_t row = size_t(*row_bytes(t, uint64_t(k)));
    std::vector<uint8_t> w(row * size_t(m) + 1);
    const bool quantizable = !info.quantized || can_quantize(t);
    if (quantizable && !random_blocks) {
        for (int64_t r = 0; r < m; ++r) {
            std::vector<float> v = test::random_floats(k, seed * 1000 + uint64_t(r));
            uint8_t* dst = w.data() + row * size_t(r);
            if (t == DType::F32) {
                std::memcpy(dst, v.data(), size_t(k) * 4);
            } else if (t == DType::F16 || t == DType::BF16) {
                for (int64_t i = 0; i < k; ++i) {
                    uint16_t h = t == DType::F16 ? f32_to_fp16(v[i]) : f32_to_bf16(v[i]);
                    std::memcpy(dst + 2 * i, &h, 2);
                }
            } else {
                quantize_row(t, v.data(), dst, k);
            }
        }
        return w;
    }
    std::mt19937_64 rng(seed);
    for (auto& b : w) b = uint8_t(rng());
    std::uniform_real_distribution<float> mag(1e-3f, 1e-2f);
    const std::vector<size_t> fields = block_f16_fields(t);
    for (size_t blk = 0; blk < w.size() / info.block_bytes; ++blk)
        for (size_t off : fields) {
            float v = mag(rng) * ((rng() & 1) ? 1.0f : -1.0f);
            uint16_t h = f32_to_fp16(v);
            std::memcpy(w.data() + blk * info.block_bytes + off, &h, 2);
        }
    return w;
}

ThreadPool& pool(int threads) {
    static ThreadPool p1(1), p2(2);
    return threads == 1 ? p1 : p2;
}

// Restores the SIMD choice even when an assertion returns early.
struct ScalarScope {
    explicit ScalarScope(bool on) { cpu::force_scalar(on); }
    ~ScalarScope() { cpu::force_scalar(false); }
};
struct LevelScope {
    explicit LevelScope(cpu::SimdLevel max) { cpu::limit_simd(max); }
    ~LevelScope() { cpu::limit_simd(cpu::SimdLevel::avx512vnni); }
};

// Every kernel family this CPU can run, best first (AVX512-VNNI, AVX-VNNI, AVX2, portable).
std::vector<cpu::SimdLevel> levels() {
    std::vector<cpu::SimdLevel> out;
    for (cpu::SimdLevel l : {cpu::SimdLevel::avx512vnni, cpu::SimdLevel::avxvnni, cpu::SimdLevel::avx2, cpu::SimdLevel::scalar}) {
        LevelScope scope(l);
        if (out.empty() || out.back() != cpu::simd_level()) out.push_back(cpu::simd_level());
    }
    return out;
}

// Runs one (type, k, m) case for every n under every variant against the reference. The NMSE is
// taken over the outputs of all n together: a single output can be near zero by cancellation,
// which makes a one-element NMSE meaningless as a bound on the int8 rounding of x.
void check_case(DType t, int64_t k, int64_t m, const std::vector<int64_t>& ns, bool random_blocks, uint64_t seed) {
    std::vector<uint8_t> wbytes = make_weights(t, k, m, seed, random_blocks);
    Tensor w = make_tensor(t, wbytes.data(), k, m);
    std::vector<std::vector<float>> xs;
    std::vector<float> want;
    for (int64_t n : ns) {
        xs.push_back(test::random_floats(k * n, seed * 31 + uint64_t(n)));
        std::vector<float> yv(size_t(m * n));
        Tensor x = make_tensor(DType::F32, xs.back().data(), k, n), y = make_tensor(DType::F32, yv.data(), m, n);
        ref::mul_mat(w, x, y);
        want.insert(want.end(), yv.begin(), yv.end());
    }
    const std::string what = strf("%s k=%lld m=%lld%s", dtype_name(t), (long long)k, (long long)m, random_blocks ? " random blocks" : "");
    for (cpu::SimdLevel level : levels()) {
        LevelScope scope(level);
        std::vector<float> got1;
        for (int threads : {1, 2}) {
            std::vector<float> got;
            for (size_t i = 0; i < ns.size(); ++i) {
                const int64_t n = ns[i];
                std::vector<float> yv(size_t(m * n), NAN);
                Tensor x = make_tensor(DType::F32, xs[i].data(), k, n), y = make_tensor(DType::F32, yv.data(), m, n);
                cpu::mul_mat(w, x, y, pool(threads));
                got.insert(got.end(), yv.begin(), yv.end());
            }
            const int64_t total = int64_t(want.size());
            EXPECT_LE(test::nmse(got.data(), want.data(), total), bound(t, cpu::simd_enabled()))
                << what << " path=" << cpu::simd_name() << " threads=" << threads << "\n"
                << test::first_mismatches(got.data(), want.data(), total, 1e-3f, 1e-2f);
            // Rows are computed the same way whatever the split: results are bit-identical.
            if (threads == 1) got1 = got;
            else EXPECT_EQ(0, std::memcmp(got.data(), got1.data(), got.size() * 4)) << what << ": 1 vs 2 threads differ";
        }
    }
}

std::vector<int64_t> ks_for(DType t) {
    const int64_t b = dtype_info(t).block;
    if (b == 1) return {7, 37, 160, 1024};
    if (b == 32) return {32, 32 * 5, 32 * 8, 32 * 13};
    return {256, 256 * 3, 256 * 8};
}

class MulMat : public ::testing::TestWithParam<DType> {};

TEST_P(MulMat, MatchesReference) {
    const DType t = GetParam();
    ASSERT_TRUE(cpu::supports_mul_mat(t));
    if (dtype_info(t).quantized && !can_quantize(t)) GTEST_SKIP() << "no quantizer (random blocks run in RandomBlocks)";
    uint64_t seed = 1;
    for (int64_t k : ks_for(t))
        for (int64_t m : {1, 7, 33, 67}) check_case(t, k, m, {1, 2, 3, 5, 8, 17}, false, seed++);
}

TEST_P(MulMat, RandomBlocks) {
    const DType t = GetParam();
    if (!dtype_info(t).quantized) GTEST_SKIP() << "float type";
    uint64_t seed = 100;
    for (int64_t k : ks_for(t))
        for (int64_t m : {1, 7, 33}) check_case(t, k, m, {1, 2, 3, 5, 8, 17}, true, seed++);
}

// Enough rows and columns that both threads get chunks and the SIMD path walks several row blocks;
// n = 4, 6, 7, 9 cover the column tiles that the other cases do not.
TEST_P(MulMat, LargeThreaded) {
    const DType t = GetParam();
    const int64_t k = 2048;
    check_case(t, k, 301, {1, 4, 6, 7, 9}, dtype_info(t).quantized && !can_quantize(t), 7);
}

// Every column count from 1 to 70 (full and partial column tiles of 8), on a row length with a
// partial last group of 4 blocks for the 32-element types.
TEST_P(MulMat, EveryColumnCount) {
    const DType t = GetParam();
    const int64_t b = dtype_info(t).block;
    const int64_t k = b == 1 ? 96 : b == 32 ? 32 * 7 : 256 * 3;
    std::vector<int64_t> ns;
    for (int64_t n = 1; n <= 70; ++n) ns.push_back(n);
    check_case(t, k, 19, ns, dtype_info(t).quantized && !can_quantize(t), 21);
}

// A column's result does not depend on the other columns of the call (the server's same seed ->
// same text guarantee): column j alone and inside a batch of 9 (and, for the float types, of 40,
// which takes the GEMM) give the same bits.
TEST_P(MulMat, ColumnIndependentOfBatch) {
    const DType t = GetParam();
    const bool is_float = !dtype_info(t).quantized;
    const int64_t k = is_float ? 523 : dtype_info(t).block == 32 ? 32 * 9 : 256 * 2, m = 37;
    std::vector<uint8_t> wbytes = make_weights(t, k, m, 31, !can_quantize(t));
    Tensor w = make_tensor(t, wbytes.data(), k, m);
    for (int64_t n : is_float ? std::vector<int64_t>{9, 40} : std::vector<int64_t>{9}) {
        std::vector<float> xv = test::random_floats(k * n, 32);
        for (cpu::SimdLevel level : levels()) {
            LevelScope scope(level);
            std::vector<float> all(size_t(m * n));
            Tensor x = make_tensor(DType::F32, xv.data(), k, n), y = make_tensor(DType::F32, all.data(), m, n);
            cpu::mul_mat(w, x, y, pool(2));
            for (int64_t j = 0; j < n; ++j) {
                std::vector<float> one(static_cast<size_t>(m));
                Tensor x1 = make_tensor(DType::F32, xv.data() + j * k, k, 1), y1 = make_tensor(DType::F32, one.data(), m, 1);
                cpu::mul_mat(w, x1, y1, pool(1));
                EXPECT_EQ(0, std::memcmp(one.data(), all.data() + j * m, size_t(m) * 4))
                    << dtype_name(t) << " " << cpu::simd_name() << " n=" << n << " column " << j;
            }
        }
    }
}

// The float GEMM (many columns: cache blocks of rows and columns, register tiles of rows x
// columns) on shapes that leave partial tiles and blocks everywhere: k below, at and off the
// 8- and 32-element steps, m across the 48-row blocks, n across the column tiles. Each column
// must equal the one-column kernel's bits and the reference within the float bound.
TEST(MulMat, FloatGemmOddShapes) {
    for (DType t : {DType::F16, DType::F32, DType::BF16}) {
        uint64_t seed = 300;
        for (int64_t k : {7, 31, 40, 100, 1031})
            for (int64_t m : {1, 5, 49, 97}) {
                std::vector<uint8_t> wbytes = make_weights(t, k, m, seed++, false);
                Tensor w = make_tensor(t, wbytes.data(), k, m);
                for (int64_t n : {16, 17, 23, 40}) {
                    std::vector<float> xv = test::random_floats(k * n, seed++);
                    std::vector<float> want(size_t(m * n));
                    Tensor x = make_tensor(DType::F32, xv.data(), k, n), yr = make_tensor(DType::F32, want.data(), m, n);
                    ref::mul_mat(w, x, yr);
                    for (cpu::SimdLevel level : levels()) {
                        LevelScope scope(level);
                        std::vector<float> got(size_t(m * n), NAN), one(static_cast<size_t>(m));
                        Tensor y = make_tensor(DType::F32, got.data(), m, n);
                        cpu::mul_mat(w, x, y, pool(2));
                        const std::string what = strf("%s k=%lld m=%lld n=%lld %s", dtype_name(t), (long long)k, (long long)m, (long long)n, cpu::simd_name());
                        EXPECT_LE(test::nmse(got.data(), want.data(), m * n), bound(t, cpu::simd_enabled())) << what;
                        for (int64_t j = 0; j < n; ++j) {
                            Tensor x1 = make_tensor(DType::F32, xv.data() + j * k, k, 1), y1 = make_tensor(DType::F32, one.data(), m, 1);
                            cpu::mul_mat(w, x1, y1, pool(1));
                            EXPECT_EQ(0, std::memcmp(one.data(), got.data() + j * m, size_t(m) * 4)) << what << " column " << j;
                        }
                    }
                }
            }
    }
}

// x blocks that are all zero or far below any useful scale (1e-38: 127 / max|x| overflows) must
// contribute nothing instead of garbage.
TEST_P(MulMat, ZeroAndTinyActivations) {
    const DType t = GetParam();
    const int64_t k = 1024, m = 9;
    std::vector<uint8_t> wbytes = make_weights(t, k, m, 11, true);
    if (!dtype_info(t).quantized) wbytes = make_weights(t, k, m, 11, false);
    Tensor w = make_tensor(t, wbytes.data(), k, m);
    std::vector<float> xv = test::random_floats(k, 12);
    for (int64_t i = 0; i < 256; ++i) xv[size_t(i)] = 0.0f;
    for (int64_t i = 256; i < 512; ++i) xv[size_t(i)] = (i % 2 ? 1e-38f : -1e-38f);
    Tensor x = make_tensor(DType::F32, xv.data(), k, 1);
    std::vector<float> want(static_cast<size_t>(m), 0.0f);
    Tensor yr = make_tensor(DType::F32, want.data(), m, 1);
    ref::mul_mat(w, x, yr);
    for (cpu::SimdLevel level : levels()) {
        LevelScope scope(level);
        std::vector<float> got(static_cast<size_t>(m), NAN);
        Tensor y = make_tensor(DType::F32, got.data(), m, 1);
        cpu::mul_mat(w, x, y, pool(2));
        EXPECT_LE(test::nmse(got.data(), want.data(), m), bound(t, cpu::simd_enabled())) << dtype_name(t) << " " << cpu::simd_name();
    }
}

INSTANTIATE_TEST_SUITE_P(Types, MulMat, ::testing::ValuesIn(kTypes),
                         [](const ::testing::TestParamInfo<DType>& i) { return std::string(dtype_name(i.param)); });

// Dims 2 and 3 of x and y are more columns.
TEST(MulMat, BatchedColumns) {
    const int64_t k = 256, m = 19;
    std::vector<uint8_t> wbytes = make_weights(DType::Q4_K, k, m, 5, true);
    Tensor w = make_tensor(DType::Q4_K, wbytes.data(), k, m);
    std::vector<float> xv = test::random_floats(k * 3 * 2, 9);
    Tensor x = make_tensor(DType::F32, xv.data(), k, 3, 2);
    std::vector<float> want(size_t(m * 6)), got(size_t(m * 6), NAN);
    Tensor yr = make_tensor(DType::F32, want.data(), m, 3, 2), y = make_tensor(DType::F32, got.data(), m, 3, 2);
    ref::mul_mat(w, x, yr);
    cpu::mul_mat(w, x, y, pool(2));
    EXPECT_LE(test::nmse(got.data(), want.data(), m * 6), 5e-4);
}

TEST(MulMat, ScalarSwitch) {
    {
        ScalarScope scope(true);
        EXPECT_FALSE(cpu::simd_enabled());
        EXPECT_STREQ(cpu::simd_name(), "scalar");
    }
    {
        LevelScope scope(cpu::SimdLevel::avx2);
        EXPECT_STREQ(cpu::simd_name(), cpu::simd_enabled() ? "avx2" : "scalar");
    }
    const cpu::Features& f = cpu::features();
    const bool vnni512 = f.avx512f && f.avx512vl && f.avx512bw && f.avx512vnni;
    if (cpu::simd_enabled() && (vnni512 || f.avxvnni) && !std::getenv("VKAI_CPU_VNNI")) {
        EXPECT_STREQ(cpu::simd_name(), vnni512 ? "avx512vnni" : "avxvnni");
    }
#if defined(VKAI_CPU_SCALAR_ONLY)
    EXPECT_FALSE(cpu::simd_enabled());
#endif
}

} // namespace
