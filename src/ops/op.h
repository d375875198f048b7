// The op list: one name per op in every layer (ref::rms_norm, cpu::rms_norm, shaders/rms_norm.comp,
// test case rms_norm). Adding an op starts here; see docs/adding-an-op.md.
#pragma once

namespace vkai {

#define VKAI_OPS(X)                                                        \
    X(get_rows) /* rows of a table of any type, by id, to f32 */           \
    X(mul_mat)  /* y = W x with W of any type, x and y f32 */              \
    X(rms_norm) /* x / sqrt(mean(x^2) + eps) (* w) per row */              \
    X(rope)     /* rotary position embedding, normal or neox pairing */   \
    X(softmax)  /* softmax(x * scale + mask) per row */                    \
    X(silu)     /* x * sigmoid(x) */                                       \
    X(gelu)     /* tanh approximation, as GPT-2 and whisper use */         \
    X(add)      /* a + b, b broadcast over rows */                         \
    X(mul)      /* a * b, b broadcast over rows */                         \
    X(copy)     /* convert between any two types (quantize/dequantize) */  \
    X(set_rows) /* write f32 rows into a table of f32/f16 rows, by id */      \
    X(attention) /* softmax(q k^T * scale + mask) v over a KV cache, GQA */ \
    X(layer_norm) /* (x - mean) / sqrt(var + eps) (* w + b) per row */    \
    X(gelu_erf) /* exact gelu 0.5 x (1 + erf(x / sqrt 2)), as HF whisper */ \
    X(im2col)   /* 1-D conv columns: conv1d = im2col + mul_mat */

enum class Op {
#define VKAI_OP_ENUM(name) name,
    VKAI_OPS(VKAI_OP_ENUM)
#undef VKAI_OP_ENUM
};

const char* op_name(Op op);

} // namespace vkai
