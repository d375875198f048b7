// Shared helpers of the compute shaders: strided row addressing, f16/bf16 conversions with
// integer ops only (the baseline needs neither 16-bit storage nor fp16 arithmetic).
// Every buffer is an array of 32-bit words; addresses are byte offsets into a binding.

// The six push-constant words that describe one tensor operand (TensorPC on the host): the byte
// offset of its data in the binding (modulo 2^32, see vk_ops.cpp), its row strides in bytes and
// the extents that split a flat row index into (i1, i2, i3).
#define TENSOR_PC(n) uint n##_bias, n##_nb1, n##_nb2, n##_nb3, n##_ne1, n##_ne2
#define ROW_ADDR(n, r) row_addr(r, pc.n##_ne1, pc.n##_ne2, pc.n##_nb1, pc.n##_nb2, pc.n##_nb3, pc.n##_bias)

uint row_addr(uint r, uint ne1, uint ne2, uint nb1, uint nb2, uint nb3, uint bias) {
    uint i1 = r % ne1;
    uint t = r / ne1;
    uint i2 = t % ne2;
    uint i3 = t / ne2;
    return i1 * nb1 + i2 * nb2 + i3 * nb3 + bias; // wraps modulo 2^32 on purpose
}

// Workgroup index over a 2-D dispatch grid (x is limited to 65535 groups).
uint flat_group() { return gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x; }

// f32 bits -> IEEE half bits, round to nearest even, overflow to inf, NaN stays NaN.
uint f32_to_f16_bits(float f) {
    uint x = floatBitsToUint(f);
    uint sign = (x >> 16) & 0x8000u;
    uint ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) return sign | 0x7c00u | (ax > 0x7f800000u ? (0x200u | ((ax >> 13) & 0x3ffu)) : 0u);
    if (ax >= 0x477ff000u) return sign | 0x7c00u;
    if (ax < 0x38800000u) {
        if (ax < 0x33000000u) return sign;
        uint e = ax >> 23;
        uint m = (ax & 0x7fffffu) | 0x800000u;
        uint shift = 126u - e;
        uint r = m >> shift;
        uint rem = m & ((1u << shift) - 1u);
        uint halfv = 1u << (shift - 1u);
        if (rem > halfv || (rem == halfv && (r & 1u) != 0u)) r += 1u;
        return sign | r;
    }
    uint r = ax - 0x38000000u;
    r += 0xfffu + ((r >> 13) & 1u);
    return sign | (r >> 13);
}

uint f32_to_bf16_bits(float f) {
    uint x = floatBitsToUint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (x >> 16) | 64u;
    return (x + (0x7fffu + ((x >> 16) & 1u))) >> 16;
}

// IEEE half bits -> f32, exact for subnormals too (unpackHalf2x16 may flush them on some drivers).
float f16_bits_to_f32(uint h) {
    uint sign = (h & 0x8000u) << 16;
    uint e = (h >> 10) & 0x1fu;
    uint m = h & 0x3ffu;
    if (e == 0x1fu) return uintBitsToFloat(sign | 0x7f800000u | (m << 13));
    if (e == 0u) {
        float v = float(m) * (1.0 / 16777216.0);
        return sign != 0u ? -v : v;
    }
    return uintBitsToFloat(sign | ((e + 112u) << 23) | (m << 13));
}

// Exact gelu, 0.5 v (1 + erf(v / sqrt 2)), through erfc(|z|), z = v / sqrt 2, by the Chebyshev-fitted
// formula of Press et al. (Numerical Recipes, erfcc: relative error < 1.2e-7 for every z >= 0):
// v < 0: 0.5 v erfc(|z|) keeps its relative accuracy where the result is tiny; v >= 0: v (1 - erfc/2).
float gelu_erf(float v) {
    const float z = abs(v) * 0.70710678118654752;
    const float t = 1.0 / (1.0 + 0.5 * z);
    const float poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
                       t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    const float ec = t * exp(poly - z * z);
    return v < 0.0 ? 0.5 * v * ec : v * (1.0 - 0.5 * ec);
}
