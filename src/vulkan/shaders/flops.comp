// The f32 arithmetic ceiling that benchmarks print beside their results: every thread runs 8
// independent vec4 FMA chains (32 FMAs per iteration, enough independent work to hide latency).
// a and b are push constants, so the compiler cannot fold the chains; the result is written only on
// an impossible value, which keeps every chain alive without a store per thread.
#version 450
layout(local_size_x = 256) in;

layout(binding = 0) buffer OB { uint result[]; };

layout(push_constant) uniform PC {
    uint iters;
    float a; // close to 1: the chains stay finite
    float b;
    uint pad;
} pc;

void main() {
    const vec4 a = vec4(pc.a), b = vec4(pc.b);
    vec4 x[8];
    for (int j = 0; j < 8; ++j) x[j] = vec4(float(gl_GlobalInvocationID.x + uint(j)) * 1e-6, 1.0, 2.0, 3.0);
    for (uint i = 0u; i < pc.iters; ++i)
        for (int j = 0; j < 8; ++j) x[j] = fma(x[j], a, b);
    vec4 s = vec4(0.0);
    for (int j = 0; j < 8; ++j) s += x[j];
    if (s.x == -1.0e-30 && s.y == 7.0) result[0] = floatBitsToUint(s.z + s.w);
}
