// rope: the reference against hand-computed rotations, then cpu:: against ref:: over a table of
// cases (normal and neox, partial rotation, freq_factors, scaling, large positions, in place).
#include "op_harness.h"

#include <numeric>

using namespace vkai;
using namespace vkai::test;

namespace {

// Both sides compute the angle in double (as the reference does), so the only error is cos/sin
// rounded to float and two float products per output: ~3 ulp of |x| <= 1. Measured: ~2e-7.
constexpr Tol kRopeTol{1e-6f, 1e-5f};

enum class Pos { from_zero, large, random };

struct RopeCase {
    int64_t head_dim, n_heads, n_tokens;
    int n_rot;
    RopeMode mode;
    float freq_base = 10000.0f, freq_scale = 1.0f, attn_factor = 1.0f;
    bool freq_factors = false;
    Pos pos = Pos::from_zero;
    bool in_place = false;
    int64_t pad = 0; // between heads
    std::string vars() const {
        static const char* pos_names[] = {"0..", "100000..", "random < 2^17"};
        return strf("rope head_dim=%lld n_heads=%lld n_tokens=%lld n_rot=%d mode=%s base=%g scale=%g attn=%g freq_factors=%d pos=%s "
                    "in_place=%d pad=%lld",
                    (long long)head_dim, (long long)n_heads, (long long)n_tokens, n_rot, mode == RopeMode::normal ? "normal" : "neox",
                    freq_base, freq_scale, attn_factor, freq_factors, pos_names[int(pos)], in_place, (long long)pad);
    }
};

constexpr RopeMode N = RopeMode::normal, X = RopeMode::neox;
const RopeCase kRopeCases[] = {
    {2, 1, 1, 2, N},
    {2, 1, 3, 2, X},
    {6, 1, 4, 6, N},                                               // rows shorter than a vector
    {64, 4, 3, 64, N},
    {40, 2, 3, 26, N, 10000, 1, 1, false, Pos::random},           // n_rot = 3 vectors + 2
    {100, 2, 3, 100, X, 10000, 1, 1, false, Pos::random},         // half = 50 = 6 vectors + 2
    {64, 4, 3, 64, X, 10000, 1, 1, false, Pos::from_zero, true},
    {80, 3, 2, 32, N, 10000, 1, 1, false, Pos::random, false, 3},  // n_rot < head_dim, strided heads
    {128, 2, 5, 64, X, 1e6f, 1, 1, false, Pos::random, true},      // partial, in place
    {20, 3, 5, 12, X, 10000, 1, 1, false, Pos::from_zero, false, 1}, // half = 6: tail only
    {96, 2, 3, 96, X, 500000, 1, 1, true, Pos::large},             // llama3 freq_factors
    {128, 8, 4, 128, N, 10000, 0.25f, 1.2f, false, Pos::large},    // linear scaling, YaRN magnitude
    {128, 4, 4, 128, X, 10000, 1, 1, false, Pos::large, true},
    {128, 32, 9, 128, X, 1e6f, 1, 1, true, Pos::random},           // 37k elements: threaded
    {256, 8, 16, 128, N, 10000, 0.5f, 1, false, Pos::random, true, 2}, // threaded, in place, strided
};

std::vector<int32_t> make_pos(const RopeCase& c) {
    std::vector<int32_t> pos(size_t(c.n_tokens));
    std::iota(pos.begin(), pos.end(), c.pos == Pos::large ? 100000 : 0);
    if (c.pos == Pos::random) {
        std::vector<float> r = random_floats(c.n_tokens, 11, 0.0f, 131072.0f);
        for (size_t t = 0; t < pos.size(); ++t) pos[t] = int32_t(r[t]);
    }
    return pos;
}

TEST(rope, spec) {
    // head_dim 4, n_rot 4, position 1, base 100: pair 0 turns by 1 rad, pair 1 by 100^(-1/2) = 0.1.
    float x[4] = {1, 2, 3, 4}, y[4];
    int32_t pos = 1;
    Tensor tx = make_tensor(DType::F32, x, 4), ty = make_tensor(DType::F32, y, 4);
    RopeParams p;
    p.n_rot = 4;
    p.freq_base = 100;
    auto rot = [](float a, float b, double th) {
        return std::pair<float, float>(float(a * std::cos(th) - b * std::sin(th)), float(a * std::sin(th) + b * std::cos(th)));
    };
    ref::rope(tx, &pos, p, ty); // normal: pairs (0,1), (2,3)
    auto [a0, a1] = rot(1, 2, 1.0);
    auto [b0, b1] = rot(3, 4, 0.1);
    EXPECT_FLOAT_EQ(y[0], a0);
    EXPECT_FLOAT_EQ(y[1], a1);
    EXPECT_FLOAT_EQ(y[2], b0);
    EXPECT_FLOAT_EQ(y[3], b1);
    p.mode = RopeMode::neox; // pairs (0,2), (1,3)
    p.attn_factor = 2;
    p.freq_scale = 0.5f;
    float ff[2] = {1, 4};
    p.freq_factors = ff; // thetas 0.5 * 1 / 1 and 0.5 * 0.1 / 4
    ref::rope(tx, &pos, p, ty);
    auto [c0, c1] = rot(1, 3, 0.5);
    auto [d0, d1] = rot(2, 4, 0.0125);
    EXPECT_FLOAT_EQ(y[0], 2 * c0);
    EXPECT_FLOAT_EQ(y[2], 2 * c1);
    EXPECT_FLOAT_EQ(y[1], 2 * d0);
    EXPECT_FLOAT_EQ(y[3], 2 * d1);
    // position 0 is the identity, and dims past n_rot pass through
    pos = 0;
    p.n_rot = 2;
    ref::rope(tx, &pos, p, ty);
    for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y[i], 2 * x[i] * (i < 2 ? 1 : 0.5f)) << i;
}

TEST(rope, cases) {
    for (const RopeCase& c : kRopeCases) {
        SCOPED_TRACE(c.vars());
        Owned x(DType::F32, c.head_dim, c.n_heads, c.n_tokens, 1, c.pad), want(DType::F32, c.head_dim, c.n_heads, c.n_tokens);
        x.fill(8);
        std::vector<int32_t> pos = make_pos(c);
        std::vector<float> ff = random_floats(c.n_rot / 2, 9, 1.0f, 8.0f);
        RopeParams p;
        p.n_rot = c.n_rot;
        p.mode = c.mode;
        p.freq_base = c.freq_base;
        p.freq_scale = c.freq_scale;
        p.attn_factor = c.attn_factor;
        p.freq_factors = c.freq_factors ? ff.data() : nullptr;
        ref::rope(x.t, pos.data(), p, want.t);
        Owned want_in_place = x; // the reference also allows y == x
        ref::rope(want_in_place.t, pos.data(), p, want_in_place.t);
        EXPECT_EQ(want_in_place.f32(), want.f32());
        for_each_variant([&](ThreadPool& pool) {
            Owned y = c.in_place ? x : Owned(DType::F32, c.head_dim, c.n_heads, c.n_tokens, 1, c.pad);
            cpu::rope(c.in_place ? y.t : x.t, pos.data(), p, y.t, pool);
            EXPECT_TRUE(close(y.f32(), want.f32(), kRopeTol));
            EXPECT_TRUE(y.padding_intact());
        });
    }
}

} // namespace
