// Shared pieces of the op tests (tests/ops/test_*.cpp): owned tensors with optional padded rows,
// the variants every case runs under, and comparisons that print the case and first mismatches.
#pragma once

#include "base/fp16.h"
#include "base/text.h"
#include "cpu/cpu.h"
#include "ops/ref.h"
#include "../support/test_data.h"
#include "tensor/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace vkai::test {

// Bytes of the padding after each row: ops must never write there.
constexpr uint8_t kSentinel = 0xA5;

// A tensor that owns its bytes. pad adds that many elements (blocks, for quantized types) after
// every row, so rows are not contiguous with each other: a strided view like a per-head slice.
struct Owned {
    std::vector<uint8_t> bytes;
    Tensor t;

    Owned(DType type, int64_t ne0, int64_t ne1 = 1, int64_t ne2 = 1, int64_t ne3 = 1, int64_t pad = 0) {
        t = make_tensor(type, nullptr, ne0, ne1, ne2, ne3);
        t.nb[1] += uint64_t(pad) * t.nb[0];
        t.nb[2] = t.nb[1] * uint64_t(ne1);
        t.nb[3] = t.nb[2] * uint64_t(ne2);
        bytes.assign(size_t(t.nb[3] * uint64_t(ne3)) + 1, kSentinel); // +1: never empty
        t.data = bytes.data();
    }
    Owned(const Owned& o) : bytes(o.bytes), t(o.t) { t.data = bytes.data(); }
    Owned& operator=(const Owned&) = delete;

    int64_t rows() const { return t.nrows(); }
    uint64_t row_bytes() const { return *vkai::row_bytes(t.type, uint64_t(t.ne[0])); }
    uint8_t* row(int64_t r) const {
        return t.row<uint8_t>(r % t.ne[1], (r / t.ne[1]) % t.ne[2], r / (t.ne[1] * t.ne[2]));
    }
    float* frow(int64_t r) const { return reinterpret_cast<float*>(row(r)); }

    // All rows, concatenated: the comparable content without padding.
    std::vector<float> f32() const {
        std::vector<float> v;
        for (int64_t r = 0; r < rows(); ++r) v.insert(v.end(), frow(r), frow(r) + t.ne[0]);
        return v;
    }
    std::vector<uint8_t> packed() const {
        std::vector<uint8_t> v;
        for (int64_t r = 0; r < rows(); ++r) v.insert(v.end(), row(r), row(r) + row_bytes());
        return v;
    }
    bool padding_intact() const {
        for (int64_t r = 0; r < rows(); ++r)
            for (uint64_t b = row_bytes(); b < t.nb[1]; ++b)
                if (row(r)[b] != kSentinel) return false;
        return true;
    }

    // Uniform random values per row; other types store them (round to nearest or quantize).
    void fill(uint64_t seed, float lo = -1.0f, float hi = 1.0f) {
        for (int64_t r = 0; r < rows(); ++r) set_row(r, random_floats(t.ne[0], seed * 7919 + uint64_t(r), lo, hi).data());
    }
    void set_row(int64_t r, const float* v) {
        const int64_t n = t.ne[0];
        if (t.type == DType::F32) {
            std::memcpy(row(r), v, size_t(n) * 4);
        } else if (t.type == DType::F16 || t.type == DType::BF16) {
            uint16_t* d = reinterpret_cast<uint16_t*>(row(r));
            for (int64_t i = 0; i < n; ++i) d[i] = t.type == DType::F16 ? f32_to_fp16(v[i]) : f32_to_bf16(v[i]);
        } else {
            quantize_row(t.type, v, row(r), n);
        }
    }
};

// Elementwise bound |got - want| <= abs + rel * |want| (tests/support first_mismatches).
struct Tol {
    float abs = 0, rel = 0;
};

inline ::testing::AssertionResult close(const std::vector<float>& got, const std::vector<float>& want, Tol tol) {
    if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
    std::string mm = first_mismatches(got.data(), want.data(), int64_t(got.size()), tol.abs, tol.rel);
    if (std::getenv("VKAI_TEST_VERBOSE")) { // the measured errors that the tolerances are judged against
        double max_abs = 0, max_rel = 0;
        for (size_t i = 0; i < got.size(); ++i) {
            const double d = std::fabs(double(got[i]) - double(want[i]));
            max_abs = std::max(max_abs, d);
            if (std::fabs(want[i]) > tol.abs) max_rel = std::max(max_rel, d / std::fabs(double(want[i])));
        }
        std::printf("  max |err| %.3g, max rel err %.3g (where |want| > %g)\n", max_abs, max_rel, tol.abs);
    }
    if (mm.empty()) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "\n" << mm << "  nmse " << nmse(got.data(), want.data(), int64_t(got.size()));
}

inline ::testing::AssertionResult same_bytes(const std::vector<uint8_t>& got, const std::vector<uint8_t>& want) {
    if (got.size() != want.size()) return ::testing::AssertionFailure() << "size " << got.size() << " != " << want.size();
    int64_t bad = 0, first = -1;
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i] && bad++ == 0) first = int64_t(i);
    if (!bad) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << bad << " of " << got.size() << " bytes differ; first at byte " << first
                                         << ": got 0x" << std::hex << int(got[size_t(first)]) << " want 0x" << int(want[size_t(first)]);
}

// Runs fn(pool) under every variant: the SIMD kernels (when built and present) and forced
// scalar, each with ThreadPool(1) and ThreadPool(2). The variant goes into failure traces.
template <class F>
void for_each_variant(F&& fn) {
    static ThreadPool p1(1), p2(2);
    for (bool simd : {true, false}) {
        cpu::force_scalar(!simd);
        for (ThreadPool* p : {&p1, &p2}) {
            SCOPED_TRACE(strf("variant: %s, %d threads", cpu::simd_name(), p->size()));
            fn(*p);
        }
    }
    cpu::force_scalar(false);
}

} // namespace vkai::test
