// Scalar reference quantization without the golden file: float specials, zero rows, outliers,
// round trips for every encodable type and row length, ternary packing, and the support table.
#include "../support/test_data.h"
#include "base/fp16.h"
#include "tensor/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <set>
#include <vector>

using namespace vkai;

namespace {

// What the scalar reference implements. Keep in sync with quant.cpp's table on purpose: a type
// appearing or disappearing there must be a decision, not an accident.
const std::set<DType> kDequantizable = {
    DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,   DType::Q5_0,   DType::Q5_1,
    DType::Q8_0, DType::Q8_1, DType::Q2_K, DType::Q3_K, DType::Q4_K,   DType::Q5_K,   DType::Q6_K,
    DType::Q8_K, DType::IQ4_NL, DType::IQ4_XS, DType::TQ1_0, DType::TQ2_0,
};
const std::set<DType>& kQuantizable = kDequantizable;

std::vector<uint8_t> quantize(DType t, const std::vector<float>& x) {
    std::vector<uint8_t> q(*row_bytes(t, x.size()));
    quantize_row(t, x.data(), q.data(), int64_t(x.size()));
    return q;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
    std::vector<uint8_t> q = quantize(t, x);
    std::vector<float> y(x.size());
    dequantize_row(t, q.data(), y.data(), int64_t(x.size()));
    return y;
}

std::vector<float> gaussian(int64_t n, uint64_t seed, float sigma = 1.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    return v;
}

// Upper bounds on the normalized MSE of a round trip of Gaussian data (generous: about twice
// what the encoders reach), so a broken bit layout or scale search fails loudly.
double nmse_bound(DType t) {
    switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 3e-7;
    case DType::BF16: return 3e-5;
    case DType::Q8_0: case DType::Q8_1: case DType::Q8_K: return 1e-4;
    case DType::Q6_K: return 6e-4;
    case DType::Q5_0: case DType::Q5_1: case DType::Q5_K: return 3e-3;
    case DType::Q4_0: case DType::Q4_1: case DType::Q4_K: case DType::IQ4_NL: case DType::IQ4_XS: return 1.2e-2;
    case DType::Q3_K: return 5e-2;
    case DType::Q2_K: return 0.15;
    case DType::TQ1_0: case DType::TQ2_0: return 0.5;
    default: return 0;
    }
}

TEST(Quant, SupportTable) {
    for (uint32_t id = 0; id < 64; ++id) {
        const DTypeInfo* info = dtype_info(id);
        if (!info) continue;
        SCOPED_TRACE(info->name);
        EXPECT_EQ(can_dequantize(info->type), kDequantizable.count(info->type) == 1);
        EXPECT_EQ(can_quantize(info->type), kQuantizable.count(info->type) == 1);
    }
    // Grid-codebook IQ types and MXFP4 are knowingly absent.
    for (DType t : {DType::IQ2_XXS, DType::IQ2_XS, DType::IQ2_S, DType::IQ3_XXS, DType::IQ3_S, DType::IQ1_S, DType::IQ1_M,
                    DType::MXFP4})
        EXPECT_FALSE(can_dequantize(t)) << dtype_name(t);
}

TEST(Quant, F16Specials) {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> x = {
        0.0f, -0.0f, inf, -inf, 65504.0f, 65520.0f /* rounds to inf */, 65519.0f /* rounds to 65504 */,
        std::ldexp(1.0f, -24) /* smallest subnormal */, std::ldexp(1.0f, -25) /* tie: rounds to even 0 */,
        std::ldexp(3.0f, -25) /* tie: rounds up to 2^-23 */, std::ldexp(1.0f, -14) /* smallest normal */,
        1.0f + std::ldexp(1.0f, -11) /* tie: even -> 1 */, 1.0f + std::ldexp(3.0f, -11) /* tie: up */,
        std::numeric_limits<float>::quiet_NaN(),
    };
    const std::vector<float> want = {
        0.0f, -0.0f, inf, -inf, 65504.0f, inf, 65504.0f, std::ldexp(1.0f, -24), 0.0f, std::ldexp(1.0f, -23),
        std::ldexp(1.0f, -14), 1.0f, 1.0f + std::ldexp(1.0f, -9),
    };
    std::vector<float> y = round_trip(DType::F16, x);
    for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(y[i], want[i]) << "element " << i;
        EXPECT_EQ(std::signbit(y[i]), std::signbit(want[i])) << "element " << i;
    }
    EXPECT_TRUE(std::isnan(y.back()));
    // Every half value decodes and re-encodes to itself (NaNs stay NaN).
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = fp16_to_f32(uint16_t(h));
        if (std::isnan(f)) {
            EXPECT_TRUE(std::isnan(fp16_to_f32(f32_to_fp16(f))));
            continue;
        }
        ASSERT_EQ(f32_to_fp16(f), h) << std::hex << h;
    }
}

TEST(Quant, BF16Specials) {
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> x = {
        inf, -inf, -0.0f, 1.0f + std::ldexp(1.0f, -8) /* tie: even -> 1 */, 1.0f + std::ldexp(3.0f, -8) /* tie: up */,
        std::ldexp(1.0f, -130) /* subnormal float, exact in bf16 */, std::numeric_limits<float>::max() /* rounds to inf */,
        std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::signaling_NaN(),
    };
    std::vector<float> y = round_trip(DType::BF16, x);
    EXPECT_EQ(y[0], inf);
    EXPECT_EQ(y[1], -inf);
    EXPECT_TRUE(y[2] == 0.0f && std::signbit(y[2]));
    EXPECT_EQ(y[3], 1.0f);
    EXPECT_EQ(y[4], 1.0f + std::ldexp(1.0f, -6));
    EXPECT_EQ(y[5], std::ldexp(1.0f, -130));
    EXPECT_EQ(y[6], inf);
    EXPECT_TRUE(std::isnan(y[7]));
    EXPECT_TRUE(std::isnan(y[8])); // a signalling NaN must not round into infinity
}

TEST(Quant, ZeroRowsDecodeToZero) {
    for (DType t : kQuantizable) {
        SCOPED_TRACE(dtype_name(t));
        const int64_t n = 2 * 256;
        std::vector<float> y = round_trip(t, std::vector<float>(size_t(n), 0.0f));
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(y[i], 0.0f) << "element " << i;
    }
}

// One huge value among ordinary ones: everything stays finite, and the outlier itself (which
// dominates the error) is reproduced closely by every type but the ternary ones.
TEST(Quant, OutlierStaysFinite) {
    for (DType t : kQuantizable) {
        SCOPED_TRACE(dtype_name(t));
        for (float big : {1e4f, -3e5f, 1e30f}) {
            std::vector<float> x = gaussian(256, 7);
            x[37] = big;
            std::vector<float> y = round_trip(t, x);
            if (t == DType::F16 && std::fabs(big) > 65504) continue; // f16 has no such value: inf is right
            for (size_t i = 0; i < y.size(); ++i) ASSERT_TRUE(std::isfinite(y[i])) << "big " << big << " element " << i;
            if (std::fabs(big) > 1e6f || t == DType::TQ1_0 || t == DType::TQ2_0) continue; // clipped
            // The offset m of Q4_1/Q5_1 is an fp16 value: blocks below -65504 are clipped.
            if ((t == DType::Q4_1 || t == DType::Q5_1) && big < -65504) continue;
            EXPECT_NEAR(y[37], big, std::fabs(big) * 0.02) << "big " << big;
        }
    }
}

// Non-finite input is not meaningful, but must not crash or reach undefined behaviour
// (float->int conversions of NaN); run under UBSan in CI.
TEST(Quant, NonFiniteInputIsSafe) {
    for (DType t : kQuantizable) {
        SCOPED_TRACE(dtype_name(t));
        std::vector<float> x = gaussian(256, 3);
        x[5] = std::numeric_limits<float>::quiet_NaN();
        x[100] = std::numeric_limits<float>::infinity();
        x[200] = -std::numeric_limits<float>::infinity();
        round_trip(t, x);
        std::fill(x.begin(), x.end(), std::numeric_limits<float>::quiet_NaN());
        round_trip(t, x);
    }
}

TEST(Quant, RoundTripEveryLength) {
    for (DType t : kQuantizable) {
        SCOPED_TRACE(dtype_name(t));
        const int64_t block = dtype_info(t).block;
        for (int64_t k : {1, 2, 3, 5, 8}) {
            const int64_t n = block * k;
            std::vector<float> x = gaussian(n, uint64_t(100 + k), 0.05f);
            std::vector<float> y = round_trip(t, x);
            const double err = test::nmse(y.data(), x.data(), n);
            EXPECT_LE(err, nmse_bound(t)) << "n = " << n;
            // Block b of a row must not depend on other blocks: re-encode the last block alone.
            std::vector<float> tail(x.end() - block, x.end());
            std::vector<float> ty = round_trip(t, tail);
            EXPECT_EQ(std::memcmp(ty.data(), y.data() + n - block, size_t(block) * 4), 0) << "n = " << n;
        }
    }
}

// Scaled copies of the same data: the encoders' choices are scale-invariant up to fp16
// rounding, so the relative error stays flat from tiny to large magnitudes.
TEST(Quant, ErrorIndependentOfMagnitude) {
    for (DType t : {DType::Q4_0, DType::Q4_1, DType::Q8_0, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q6_K, DType::IQ4_XS}) {
        SCOPED_TRACE(dtype_name(t));
        std::vector<float> base = gaussian(1024, 11);
        for (float scale : {1e-3f, 1.0f, 1e2f}) {
            std::vector<float> x(base);
            for (float& v : x) v *= scale;
            std::vector<float> y = round_trip(t, x);
            EXPECT_LE(test::nmse(y.data(), x.data(), int64_t(x.size())), nmse_bound(t)) << "scale " << scale;
        }
    }
}

// Data that lies exactly on a type's grid must come back exactly.
TEST(Quant, ExactGridValuesSurvive) {
    std::mt19937_64 rng(5);
    // Q8_0: integers -127..127 times a power of two.
    std::vector<float> x(64);
    for (auto& v : x) v = float(int(rng() % 255) - 127) * 0.25f;
    x[0] = 127 * 0.25f, x[32] = -127 * 0.25f;
    EXPECT_EQ(round_trip(DType::Q8_0, x), x);
    // Q4_0: integers -8..7 with -8 present in each block.
    for (auto& v : x) v = float(int(rng() % 16) - 8) * 0.5f;
    x[0] = -4.0f, x[32] = -4.0f;
    EXPECT_EQ(round_trip(DType::Q4_0, x), x);
}

// TQ1_0 packs five base-3 digits per byte: every digit combination in every position must
// survive. Exact ternary data (values -1, 0, 1; every block has both signs) has the
// least-squares scale exactly 1 and round-trips exactly.
TEST(Quant, TernaryPackingExhaustive) {
    constexpr int kBlocks = 5; // 52 packed bytes per block; 5 blocks > 243 combinations
    std::vector<float> x(size_t(256 * kBlocks));
    int combo = 0;
    for (int b = 0; b < kBlocks; ++b) {
        float* xb = x.data() + 256 * b;
        // Fill byte k's digits with combination (combo++ mod 243) via the documented layout.
        auto put = [&](int e, int digit_value) { xb[e] = float(digit_value - 1); };
        for (int byte = 0; byte < 52; ++byte, ++combo) {
            int c = combo % 243;
            int digits[5];
            for (int n = 4; n >= 0; --n) digits[n] = c % 3, c /= 3;
            if (byte < 32) {
                for (int n = 0; n < 5; ++n) put(n * 32 + byte, digits[n]);
            } else if (byte < 48) {
                for (int n = 0; n < 5; ++n) put(160 + n * 16 + (byte - 32), digits[n]);
            } else {
                for (int n = 0; n < 4; ++n) put(240 + n * 4 + (byte - 48), digits[n]);
            }
        }
    }
    EXPECT_EQ(round_trip(DType::TQ1_0, x), x);
    EXPECT_EQ(round_trip(DType::TQ2_0, x), x);
}

} // namespace
