// Combines the splits of attention_wide.comp's SPLIT variant: per (head, token), the splits'
// [m, l, o[hd]] (unnormalized) become out = sum_i w_i o_i / sum_i w_i l_i with w_i = exp(m_i - max m).
// A split that saw no cell (m = -inf) weighs 0; a row that saw none at all is 0, as attention_wide.
#version 450
#extension GL_GOOGLE_include_directive : enable
layout(local_size_x = 64) in;

layout(binding = 0) readonly buffer SB { uint sdata[]; };
layout(binding = 1) buffer OB { uint odata[]; };

layout(push_constant) uniform PC {
    uint hd;
    uint n_head;
    uint n_split;
    uint s_bias; // byte bias of the scratch in binding 0
    uint o_bias, o_nb1, o_nb2;
    uint pad;
} pc;

float sc(uint i) { return uintBitsToFloat(sdata[i]); }

void main() {
    const uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y;
    const uint stride = pc.hd + 2u;
    const uint base = (pc.s_bias >> 2) + (t * pc.n_head + h) * pc.n_split * stride;
    float mx = uintBitsToFloat(0xff800000u);
    for (uint i = 0u; i < pc.n_split; ++i) mx = max(mx, sc(base + i * stride));
    const bool none = isinf(mx) && mx < 0.0;
    float l = 0.0;
    for (uint i = 0u; i < pc.n_split; ++i) {
        const float mi = sc(base + i * stride);
        l += (isinf(mi) && mi < 0.0) || none ? 0.0 : exp(mi - mx) * sc(base + i * stride + 1u);
    }
    const uint oa = (pc.o_bias + h * pc.o_nb1 + t * pc.o_nb2) >> 2;
    for (uint d = gl_LocalInvocationID.x; d < pc.hd; d += 64u) {
        float o = 0.0;
        for (uint i = 0u; i < pc.n_split; ++i) {
            const float mi = sc(base + i * stride);
            if (!(isinf(mi) && mi < 0.0) && !none) o += exp(mi - mx) * sc(base + i * stride + 2u + d);
        }
        odata[oa + d] = floatBitsToUint(l > 0.0 ? o / l : 0.0);
    }
}
