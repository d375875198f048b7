// The scalar reference of every op: plain loops, double accumulation, shape comments.
// This is the specification; src/cpu and the Vulkan shaders are tested against it.
// Shapes use ggml order (ne[0] innermost). All outputs are preallocated by the caller.
#pragma once

#include "ops/params.h"
#include "tensor/tensor.h"

#include <cstdint>

namespace vkai::ref {

// table: (n_embd, n_rows) any dequantizable type; ids: n ids in [0, n_rows); out: (n_embd, n) f32.
void get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out);

// w: (k, m) any dequantizable type; x: (k, n) f32; y: (m, n) f32.  y[j][i] = sum_k w[i][k] * x[j][k]
void mul_mat(const Tensor& w, const Tensor& x, Tensor& y);

// x, y: (n, rows) f32; w: (n) f32 or null.  y = x / sqrt(mean(x^2) + eps) * w
void rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y);

// x, y: (head_dim, n_heads, n_tokens) f32; pos: n_tokens positions. y may alias x.
void rope(const Tensor& x, const int32_t* pos, const RopeParams& p, Tensor& y);

// x, y: (n, rows) f32; mask: (n, mask_rows) f32 or null, row r uses mask row r % mask_rows.
// y = softmax(x * scale + mask) per row; rows that are all -inf give zeros.
void softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y);

// Elementwise over f32 tensors of equal shape; y may alias x.
void silu(const Tensor& x, Tensor& y);
void gelu(const Tensor& x, Tensor& y);

// a, y: (n, rows) f32; b: (n, b_rows) f32 with rows % b_rows == 0, row r uses b row r % b_rows.
void add(const Tensor& a, const Tensor& b, Tensor& y);
void mul(const Tensor& a, const Tensor& b, Tensor& y);

// Same element count and row length; any src type that dequantizes, any dst type that quantizes.
void copy(const Tensor& src, Tensor& dst);

// src: (n, rows) f32; ids: `rows` row indices into dst; dst: (n, dst_rows) f32 or f16.
void set_rows(const Tensor& src, const int32_t* ids, Tensor& dst);

// q: (head_dim, n_head, n_tokens) f32; k, v: (head_dim, n_head_kv, n_cells) f16 or f32, n_head a
// multiple of n_head_kv (query head h reads kv head h / (n_head / n_head_kv));
// mask: (n_cells, n_tokens) f32, added to the scores (0 or -inf); out: (head_dim, n_head, n_tokens) f32.
// A token whose mask row is all -inf gets zeros.
void attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, float scale, Tensor& out);

// x, y: (n, rows) f32; w, b: (n) f32 or null.  y = (x - mean) / sqrt(var + eps) * w + b, var biased.
void layer_norm(const Tensor& x, const Tensor* w, const Tensor* b, float eps, Tensor& y);

// Elementwise over f32 tensors of equal shape; y may alias x.  y = 0.5 x (1 + erf(x / sqrt(2)))
void gelu_erf(const Tensor& x, Tensor& y);

// Columns of a 1-D convolution, so conv1d(x, w) = mul_mat(w viewed as (k*c, c_out), im2col(x)).
// x: (c, t) f32 (channels innermost); out: (k*c, t_out) f32 with t_out = (t + 2 pad - k) / stride + 1;
// out[j][ci*k + kk] = x[j*stride + kk - pad][ci], 0 outside [0, t). This column order matches a
// PyTorch Conv1d weight (c_out, c_in, k) stored as ggml ne = {k, c_in, c_out}.
void im2col(const Tensor& x, int k, int stride, int pad, Tensor& out);

} // namespace vkai::ref
