// Reads a buffer once (grid-stride loop of 16-byte loads): the device read-bandwidth ceiling that
// benchmarks print beside their results. The result is written only on an impossible value, which
// keeps every load alive without a write per thread.
#version 450
layout(local_size_x = 256) in;

layout(binding = 0) readonly buffer AB { uvec4 data[]; };
layout(binding = 1) buffer OB { uint result[]; };

layout(push_constant) uniform PC {
    uint n;     // uvec4 elements to read
    uint first; // first element (binding bias / 16)
    uint pad0;
    uint pad1;
} pc;

void main() {
    uvec4 acc = uvec4(0u);
    const uint stride = gl_NumWorkGroups.x * 256u;
    for (uint i = gl_GlobalInvocationID.x; i < pc.n; i += stride) acc ^= data[pc.first + i];
    if (acc.x == 0x9e3779b9u && acc.y == 0x7f4a7c15u && acc.z == 0x85ebca6bu) result[0] = acc.w;
}
