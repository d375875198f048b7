// Op recording: binding windows (each within maxStorageBufferRange; big tensors are split by rows
// into several dispatches), push constants and dispatch sizes for every op except rope/attention.
#include "vulkan/vulkan_backend_impl.h"

#include "base/check.h"
#include "tensor/quant.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace vkai::vk {
namespace {

std::string lower(const char* s) {
    std::string r(s);
    for (char& c : r) c = char(std::tolower(static_cast<unsigned char>(c)));
    return r;
}

// From here on a tiled kernel beats re-reading the weights once per 4 columns: below it the tile's
// unused columns cost more than the extra weight reads (which mostly hit the L2 when the column
// groups run side by side). Measured on the H100 (docs/perf.md).
constexpr int64_t kTiledMinCols = 32;
// mul_mat_vec.comp (ROWS, NCOLS there): weight rows per workgroup and columns per pass of the
// general variant (2..7 columns) and of the single-column variant `_n1` (decode).
constexpr int64_t kVecRows = 2, kVecCols = 4;
constexpr int64_t kVecRows1 = 4;

uint64_t row_bytes_of(const Tensor& t) { return *row_bytes(t.type, uint64_t(t.ne[0])); }

// Byte offset of flat row r (over ne1, ne2, ne3) from t.data.
uint64_t row_off(const Tensor& t, int64_t r) {
    const int64_t i1 = r % t.ne[1], i2 = (r / t.ne[1]) % t.ne[2], i3 = r / (t.ne[1] * t.ne[2]);
    return uint64_t(i1) * t.nb[1] + uint64_t(i2) * t.nb[2] + uint64_t(i3) * t.nb[3];
}

// Rows laid out in increasing address order (every ordinary view): spans of row ranges are then
// [first row, end of last row).
bool monotonic(const Tensor& t) {
    return (t.ne[2] == 1 || t.nb[2] >= t.nb[1] * uint64_t(t.ne[1])) && (t.ne[3] == 1 || t.nb[3] >= t.nb[2] * uint64_t(t.ne[2]));
}

struct MulMatPC {
    uint32_t k, m, n, col0, w_bias, w_nb1;
    TensorPC x, y;
};
// The single-column kernel's fused forms: MulMatPC, then a_bias (ADD), u_shift (GLU, NORM), eps (NORM).
struct MulMatAddPC {
    MulMatPC mm;
    uint32_t a_bias;
};
struct MulMatGluPC {
    MulMatAddPC a;
    uint32_t u_shift;
};
struct MulMatNormPC {
    MulMatPC mm;
    uint32_t u_shift;
    float eps;
};
struct GetRowsPC {
    uint32_t ne0, n, ids_off, out_row0;
    TensorPC t, o;
};
struct RowsPC { // copy, unary
    uint32_t ne0, nrows, row0, pad;
    TensorPC s, d;
};
struct SetRowsPC {
    uint32_t ne0, nrows, ids_off, row0;
    TensorPC s, d;
};
struct RmsNormPC {
    uint32_t n, nrows, row0, has_w;
    float eps;
    uint32_t w_bias;
    TensorPC x, y;
};
struct SoftmaxPC {
    uint32_t n, nrows, row0, has_mask;
    float scale;
    uint32_t mask_rows;
    TensorPC x, y, m;
};
struct BinaryPC {
    uint32_t ne0, nrows, row0, b_rows;
    TensorPC a, b, y;
};

} // namespace

// Every pipeline of the current path, created up front: a shader whose bindings or push-constant
// block disagree with the structs above fails here, at backend creation, not at first use.
Status VulkanBackendImpl::prepare_pipelines() {
    // The tiled kernel needs 256 invocations and 16 KiB of shared memory per workgroup (the spec's
    // minimums are 128 and 16 KiB); devices below fall back to the matrix-vector kernel.
    has_tiled_ = dev_->info().max_invocations >= 256 && dev_->info().max_shared_bytes >= 16384;
    // mul_mat_cm.comp: 20 KiB of f16 tiles (32-k steps) + 4 KiB of scratch; the device enables coopmat only with
    // fp16 math, the memory model and 32-lane subgroups (vk_device.cpp).
    has_cm_ = has_tiled_ && dev_->enabled().coopmat_nv_f16 && dev_->info().max_shared_bytes >= 24576;
    // Tensor-core variants of mul_mat_cm.comp: cm (default) and cmp (VKAI_VK_CM=cmp: the next step
    // prefetched into registers; mixed results on the H100, docs/perf.md).
    const char* cmv = std::getenv("VKAI_VK_CM");
    cm_name_ = cmv && !std::strcmp(cmv, "cmp") ? "mul_mat_cmp_" : "mul_mat_cm_";
    const char* sg = use_subgroup_ops() ? "_sg" : "";
    std::vector<PipelineSpec> specs;
    for (const char* t : {"f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"}) {
        specs.push_back({std::string("mul_mat_vec_") + t + sg, 3, sizeof(MulMatPC)});
        specs.push_back({std::string("mul_mat_vec_") + t + "_n1" + sg, 3, sizeof(MulMatPC)});
        specs.push_back({std::string("mul_mat_vec_") + t + "_n1_add" + sg, 4, sizeof(MulMatAddPC)});
        specs.push_back({std::string("mul_mat_vec_") + t + "_n1_glu_add" + sg, 5, sizeof(MulMatGluPC)});
        specs.push_back({std::string("mul_mat_vec_") + t + "_n1_norm" + sg, 4, sizeof(MulMatNormPC)});
        if (has_tiled_) specs.push_back({std::string("mul_mat_tiled_") + t, 3, sizeof(MulMatPC)});
        if (has_cm_) specs.push_back({cm_name_ + t, 3, sizeof(MulMatPC)});
        specs.push_back({std::string("get_rows_") + t, 3, sizeof(GetRowsPC)});
        for (const char* d : {"f32", "f16", "bf16"}) specs.push_back({std::string("copy_") + t + "_" + d, 2, sizeof(RowsPC)});
    }
    specs.push_back({"set_rows_f32", 3, sizeof(SetRowsPC)});
    specs.push_back({"set_rows_f16", 3, sizeof(SetRowsPC)});
    specs.push_back({std::string("rms_norm") + sg, 3, sizeof(RmsNormPC)});
    specs.push_back({"softmax", 3, sizeof(SoftmaxPC)});
    specs.push_back({"silu", 2, sizeof(RowsPC)});
    specs.push_back({"gelu", 2, sizeof(RowsPC)});
    specs.push_back({"gelu_erf", 2, sizeof(RowsPC)}); // recorded in vk_ops_whisper.cpp through row_op
    specs.push_back({"add", 3, sizeof(BinaryPC)});
    specs.push_back({"mul", 3, sizeof(BinaryPC)});
    specs.push_back({"swiglu", 3, sizeof(BinaryPC)});
    specs.push_back({"read_bw", 2, 16});
    attn_pipeline_specs(specs);
    whisper_pipeline_specs(specs);
    return pipes_->prepare(specs, std::max(1u, std::min(8u, std::thread::hardware_concurrency())));
}

Loc VulkanBackendImpl::locate(const Tensor& t, const char* what) const {
    Loc loc;
    VKAI_ASSERT(mem_->resolve(t.data, loc), "%s: tensor data %p is not memory of %s", what, t.data, name_.c_str());
    return loc;
}

void VulkanBackendImpl::row_span(const Tensor& t, int64_t r0, int64_t r1, uint64_t& lo, uint64_t& hi) const {
    if (monotonic(t)) {
        lo = row_off(t, r0);
        hi = row_off(t, r1 - 1) + row_bytes_of(t);
    } else { // a permuted view: the whole tensor
        lo = 0;
        hi = row_off(t, t.nrows() - 1) + row_bytes_of(t);
        for (int d = 1; d < 4; ++d) hi = std::max(hi, uint64_t(t.ne[d] - 1) * t.nb[d] + row_bytes_of(t));
    }
}

bool VulkanBackendImpl::bind(const Tensor& t, uint64_t lo, uint64_t hi, Binding& b, uint32_t* bias, uint64_t extra) {
    const Loc loc = locate(t, "bind");
    const uint64_t start = loc.offset + lo, aligned = start / align_ * align_;
    uint64_t range = (loc.offset + hi - aligned + 3) / 4 * 4;
    range = std::min(range, loc.buf_size - aligned);
    if (range > max_binding_) return false;
    b = Binding{loc.buf, aligned, range};
    *bias = uint32_t(loc.offset + extra - aligned); // modulo 2^32: the shaders add row offsets with the same wrap
    return true;
}

Binding VulkanBackendImpl::bind_ring(const RingSlice& s, uint64_t bytes) const {
    return Binding{rec_->ring().buf, s.offset, std::max<uint64_t>((bytes + 3) / 4 * 4, 4)};
}

TensorPC VulkanBackendImpl::tpc(const Tensor& t, uint32_t bias) const {
    VKAI_ASSERT(t.nb[1] <= 0xFFFFFFFFull && t.nb[2] <= 0xFFFFFFFFull && t.nb[3] <= 0xFFFFFFFFull, "tensor strides beyond 4 GiB");
    return TensorPC{bias, uint32_t(t.nb[1]), uint32_t(t.nb[2]), uint32_t(t.nb[3]), uint32_t(t.ne[1]), uint32_t(t.ne[2])};
}

int64_t VulkanBackendImpl::rows_per_chunk(std::initializer_list<const Tensor*> ts, int64_t nrows) const {
    int64_t rows = nrows;
    while (rows > 1) {
        bool fits = true;
        for (const Tensor* t : ts) {
            // The worst chunk of this size: spans of equal row counts are equal for regular strides.
            uint64_t lo, hi;
            row_span(*t, 0, std::min(rows, t->nrows()), lo, hi);
            fits &= hi - lo + 2 * align_ <= max_binding_;
        }
        if (fits) break;
        rows = (rows + 1) / 2;
    }
    return rows;
}

const Pipeline* VulkanBackendImpl::pipeline(const std::string& name, uint32_t bindings, uint32_t push_bytes) {
    Result<const Pipeline*> p = pipes_->get(name, bindings, push_bytes);
    if (!p.ok()) {
        set_error(p.status());
        return nullptr;
    }
    return *p;
}

void VulkanBackendImpl::dispatch(const Pipeline* p, const Binding* b, const void* push, uint64_t groups, uint32_t gz, const char* kind) {
    if (!p || !err_.ok() || groups == 0 || gz == 0) return;
    const uint64_t gx = std::min<uint64_t>(groups, 65535), gy = (groups + gx - 1) / gx;
    if (gy > 65535) {
        set_error(fail(Code::unsupported, "%s: %llu workgroups exceed the dispatch grid", kind, (unsigned long long)groups));
        return;
    }
    set_error(rec_->dispatch(*p, b, push, uint32_t(gx), uint32_t(gy), gz, kind));
}

void VulkanBackendImpl::mul_mat(const Tensor& w, const Tensor& x, Tensor& y) {
    const int64_t k = w.ne[0], m = w.ne[1], ncols = x.nrows();
    VKAI_ASSERT(supports(Op::mul_mat, w.type) && w.ne[2] == 1 && w.ne[3] == 1, "mul_mat: weight %s must be a supported 2-D type", dtype_name(w.type));
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne[0] == k && y.ne[0] == m && y.nrows() == ncols, "mul_mat: shapes");
    if (!err_.ok() || m == 0 || ncols == 0) return;
    // Few columns (decode): matrix-vector, weights streamed once per 4 columns. Many (prompt):
    // 64x64 tiles with the weights dequantized once per tile into shared memory.
    // Tiles: cooperative matrices where the device has them, else 64 x 64 f32 tiles. (A 128 x 128
    // f32 tile with 8 x 8 per thread ran 10x slower than 64 x 64 on the H100: docs/perf.md.)
    const bool tiled = ncols >= kTiledMinCols && has_tiled_, cm = tiled && has_cm_;
    const std::string name = cm      ? cm_name_ + lower(dtype_name(w.type))
                             : tiled ? "mul_mat_tiled_" + lower(dtype_name(w.type))
                                     : "mul_mat_vec_" + lower(dtype_name(w.type)) + (ncols == 1 ? "_n1" : "") + (use_subgroup_ops() ? "_sg" : "");
    const Pipeline* p = pipeline(name, 3, sizeof(MulMatPC));
    if (!p) return;
    rec_->add_flops(mul_mat_flops(w, x)); // the submit budget's estimate (vk_commands.h)
    const int64_t tile = cm ? 128 : 64; // mul_mat_cm.comp BM = BN, mul_mat_tiled.comp TM = TN
    const int64_t rows_per_group = tiled ? tile : ncols == 1 ? kVecRows1 : kVecRows, cols_per_group = tiled ? tile : kVecCols;
    const uint64_t wrb = w.nb[1];
    const int64_t rows_chunk = std::max<int64_t>(1, int64_t((max_binding_ - 2 * align_) / wrb));
    const int64_t cols_chunk = std::min<int64_t>(rows_per_chunk({&x, &y}, ncols), 65535 * cols_per_group);
    for (int64_t c0 = 0; c0 < ncols; c0 += cols_chunk) {
        const int64_t c1 = std::min(ncols, c0 + cols_chunk);
        for (int64_t r0 = 0; r0 < m; r0 += rows_chunk) {
            const int64_t r1 = std::min(m, r0 + rows_chunk);
            Binding b[3];
            MulMatPC pc{};
            uint64_t lo, hi;
            bool ok = bind(w, uint64_t(r0) * wrb, uint64_t(r1) * wrb, b[0], &pc.w_bias, uint64_t(r0) * wrb);
            row_span(x, c0, c1, lo, hi);
            ok = ok && bind(x, lo, hi, b[1], &pc.x.bias);
            row_span(y, c0, c1, lo, hi);
            ok = ok && bind(y, lo + uint64_t(r0) * 4, lo + (hi - lo), b[2], &pc.y.bias, uint64_t(r0) * 4);
            if (!ok) {
                set_error(fail(Code::unsupported, "mul_mat: an operand does not fit one storage-buffer binding"));
                return;
            }
            const uint32_t xb = pc.x.bias, yb = pc.y.bias;
            pc.x = tpc(x, xb);
            pc.y = tpc(y, yb);
            pc.k = uint32_t(k);
            pc.m = uint32_t(r1 - r0);
            pc.n = uint32_t(c1 - c0);
            pc.col0 = uint32_t(c0);
            pc.w_nb1 = uint32_t(wrb);
            dispatch(p, b, &pc, uint64_t((r1 - r0 + rows_per_group - 1) / rows_per_group),
                     uint32_t((c1 - c0 + cols_per_group - 1) / cols_per_group), "mul_mat");
        }
    }
}

bool VulkanBackendImpl::mul_mat_rounds_to_f16(int64_t ncols) const { return has_cm_ && has_tiled_ && ncols >= kTiledMinCols; }

bool mul_mat_rounds_to_f16(const Backend& b, int64_t ncols) {
    const auto* v = dynamic_cast<const VulkanBackendImpl*>(&b);
    return v && v->mul_mat_rounds_to_f16(ncols);
}

bool VulkanBackendImpl::fuses_mul_mat_add(DType w, int64_t ncols) const { return ncols == 1 && supports(Op::mul_mat, w); }

bool env_off(const char* name) {
    const char* e = std::getenv(name);
    return e && e[0] == '0';
}

// VKAI_VK_FUSE_ROPE=0: rope and the cache write as two steps (to compare on a GPU).
bool VulkanBackendImpl::fuses_rope_set_rows() const {
    static const bool off = env_off("VKAI_VK_FUSE_ROPE");
    return !off;
}

// VKAI_VK_FUSE_NORM=0: rms_norm as its own dispatch before the projections (to compare on a GPU).
bool VulkanBackendImpl::fuses_rms_norm_mul_mat(DType w, int64_t ncols) const {
    static const bool off = env_off("VKAI_VK_FUSE_NORM");
    return !off && fuses_mul_mat_add(w, ncols);
}

void VulkanBackendImpl::mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& add, Tensor& y) {
    VecFusion f;
    f.add = &add;
    mul_mat_vec_fused(w, x, f, y);
}

bool VulkanBackendImpl::fuses_mul_mat_add_gelu(DType w, int64_t ncols) const { return fuses_mul_mat_add(w, ncols); }

void VulkanBackendImpl::mul_mat_add_gelu(const Tensor& w, const Tensor& x, const Tensor& add, Tensor& y) {
    VecFusion f;
    f.add = &add;
    f.gelu = true;
    mul_mat_vec_fused(w, x, f, y);
}

void VulkanBackendImpl::swiglu_mul_mat_add(const Tensor& w, const Tensor& g, const Tensor& u, const Tensor& add, Tensor& y) {
    VecFusion f;
    f.u = &u;
    f.add = &add;
    mul_mat_vec_fused(w, g, f, y);
}

void VulkanBackendImpl::rms_norm_mul_mat(const Tensor& w, const Tensor& x, const Tensor& g, float eps, Tensor& y) {
    VecFusion f;
    f.u = &g;
    f.norm = true;
    f.eps = eps;
    mul_mat_vec_fused(w, x, f, y);
}

// VKAI_VK_FUSE_NORM=0 also keeps layer_norm as its own dispatch.
bool VulkanBackendImpl::fuses_layer_norm_mul_mat(DType w, int64_t ncols) const { return fuses_rms_norm_mul_mat(w, ncols); }

void VulkanBackendImpl::layer_norm_mul_mat_add(const Tensor& w, const Tensor& x, const Tensor& g, const Tensor& b, float eps, const Tensor& add,
                                               bool gelu, Tensor& y) {
    VecFusion f;
    f.u = &g;
    f.ln_b = &b;
    f.add = &add;
    f.gelu = gelu;
    f.eps = eps;
    mul_mat_vec_fused(w, x, f, y);
}

// The single-column matrix-vector kernel with a fusion (mul_mat_vec.comp: ADD, GELU_ERF, GLU, NORM,
// LNORM): weights split by rows into binding windows as in mul_mat; add and y bound per row range,
// x, u and ln_b whole. Bindings: w, x, [u], [ln_b], [add], y.
void VulkanBackendImpl::mul_mat_vec_fused(const Tensor& w, const Tensor& x, const VecFusion& f, Tensor& y) {
    const int64_t k = w.ne[0], m = w.ne[1];
    VKAI_ASSERT(fuses_mul_mat_add(w.type, x.nrows()) && w.ne[2] == 1 && w.ne[3] == 1, "mul_mat_vec_fused: %s weights with %lld columns", dtype_name(w.type), (long long)x.nrows());
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne[0] == k && y.ne[0] == m && y.nrows() == 1, "mul_mat_vec_fused: shapes");
    VKAI_ASSERT(!f.add || (f.add->type == DType::F32 && f.add->ne[0] == m && f.add->nrows() == 1), "mul_mat_vec_fused: add must be f32 like y");
    VKAI_ASSERT(!f.u || (f.u->type == DType::F32 && f.u->ne[0] == k && f.u->nrows() == 1), "mul_mat_vec_fused: u must be one f32 row like x");
    VKAI_ASSERT(!f.ln_b || (f.ln_b->type == DType::F32 && f.ln_b->ne[0] == k && f.ln_b->nrows() == 1), "mul_mat_vec_fused: ln_b must be one f32 row like x");
    VKAI_ASSERT(f.norm ? f.u && !f.add && !f.gelu && !f.ln_b : f.ln_b ? f.u && f.add : f.add != nullptr, "mul_mat_vec_fused: no such variant");
    if (!err_.ok() || m == 0) return;
    // _n1_add_gelu and _n1_lnorm_add* (whisper only) are created on first use, not with the backend.
    const char* variant = f.norm   ? "_n1_norm"
                          : f.ln_b ? (f.gelu ? "_n1_lnorm_add_gelu" : "_n1_lnorm_add")
                          : f.u    ? "_n1_glu_add"
                          : f.gelu ? "_n1_add_gelu"
                                   : "_n1_add";
    const uint32_t nb = 3 + (f.u ? 1 : 0) + (f.ln_b ? 1 : 0) + (f.add ? 1 : 0);
    const uint32_t n_extra = (f.add ? 1 : 0) + (f.u ? 1 : 0) + (f.ln_b ? 1 : 0) + (f.norm || f.ln_b ? 1 : 0);
    const Pipeline* p = pipeline("mul_mat_vec_" + lower(dtype_name(w.type)) + variant + (use_subgroup_ops() ? "_sg" : ""), nb,
                                 uint32_t(sizeof(MulMatPC)) + 4 * n_extra);
    if (!p) return;
    const uint64_t wrb = w.nb[1];
    const int64_t rows_chunk = std::max<int64_t>(1, int64_t((max_binding_ - 2 * align_) / wrb));
    for (int64_t r0 = 0; r0 < m; r0 += rows_chunk) {
        const int64_t r1 = std::min(m, r0 + rows_chunk);
        Binding b[6];
        struct {
            MulMatPC mm;
            uint32_t extra[4];
        } pc{};
        uint32_t u_bias = 0, lb_bias = 0, a_bias = 0;
        int i = 2;
        bool ok = bind(w, uint64_t(r0) * wrb, uint64_t(r1) * wrb, b[0], &pc.mm.w_bias, uint64_t(r0) * wrb);
        ok = ok && bind(x, 0, uint64_t(k) * 4, b[1], &pc.mm.x.bias);
        if (f.u) ok = ok && bind(*f.u, 0, uint64_t(k) * 4, b[i++], &u_bias);
        if (f.ln_b) ok = ok && bind(*f.ln_b, 0, uint64_t(k) * 4, b[i++], &lb_bias);
        if (f.add) ok = ok && bind(*f.add, uint64_t(r0) * 4, uint64_t(r1) * 4, b[i++], &a_bias, uint64_t(r0) * 4);
        ok = ok && bind(y, uint64_t(r0) * 4, uint64_t(r1) * 4, b[i], &pc.mm.y.bias, uint64_t(r0) * 4);
        if (!ok) return set_error(fail(Code::unsupported, "mul_mat: an operand does not fit one storage-buffer binding"));
        const uint32_t xb = pc.mm.x.bias, yb = pc.mm.y.bias;
        pc.mm.x = tpc(x, xb);
        pc.mm.y = tpc(y, yb);
        pc.mm.k = uint32_t(k);
        pc.mm.m = uint32_t(r1 - r0);
        pc.mm.n = 1;
        pc.mm.w_nb1 = uint32_t(wrb);
        uint32_t* e = pc.extra;
        if (f.add) *e++ = a_bias;
        if (f.u) *e++ = uint32_t(int32_t(u_bias / 4) - int32_t(xb / 4)); // biases are < the binding alignment
        if (f.ln_b) *e++ = uint32_t(int32_t(lb_bias / 4) - int32_t(xb / 4));
        if (f.norm || f.ln_b) std::memcpy(e, &f.eps, 4);
        dispatch(p, b, &pc, uint64_t((r1 - r0 + kVecRows1 - 1) / kVecRows1), 1, "mul_mat");
    }
}

void VulkanBackendImpl::get_rows(const Tensor& table, const int32_t* ids, int64_t n, Tensor& out) {
    VKAI_ASSERT(supports(Op::get_rows, table.type) && out.type == DType::F32 && out.ne[0] == table.ne[0] && out.nrows() == n, "get_rows: shapes/types");
    if (!err_.ok() || n == 0) return;
    const Pipeline* p = pipeline("get_rows_" + lower(dtype_name(table.type)), 3, sizeof(GetRowsPC));
    if (!p) return;
    for (int64_t j = 0; j < n; ++j)
        VKAI_ASSERT(ids[j] >= 0 && ids[j] < table.nrows(), "get_rows: id %d out of [0, %lld)", ids[j], (long long)table.nrows());
    uint64_t tlo, thi;
    row_span(table, 0, table.nrows(), tlo, thi);
    const bool whole = thi - tlo + 2 * align_ <= max_binding_;
    // A table larger than one binding (a big embedding matrix): one dispatch per id, each binding its row.
    const int64_t per = whole ? rows_per_chunk({&out}, n) : 1;
    for (int64_t j0 = 0; j0 < n; j0 += per) {
        const int64_t j1 = std::min(n, j0 + per);
        Result<RingSlice> s = rec_->ring_alloc(uint64_t(j1 - j0) * 4, align_);
        if (!s.ok()) return set_error(s.status());
        std::memcpy(s->host, ids + j0, size_t(j1 - j0) * 4);
        Binding b[3];
        GetRowsPC pc{};
        uint64_t lo = tlo, hi = thi;
        if (!whole) row_span(table, ids[j0], ids[j0] + 1, lo, hi);
        bool ok = bind(table, lo, hi, b[0], &pc.t.bias);
        b[1] = bind_ring(*s, uint64_t(j1 - j0) * 4);
        uint64_t olo, ohi;
        row_span(out, j0, j1, olo, ohi);
        ok = ok && bind(out, olo, ohi, b[2], &pc.o.bias);
        if (!ok) return set_error(fail(Code::unsupported, "get_rows: an operand does not fit one storage-buffer binding"));
        pc.t = tpc(table, pc.t.bias);
        pc.o = tpc(out, pc.o.bias);
        pc.ne0 = uint32_t(table.ne[0]);
        pc.n = uint32_t(j1 - j0);
        pc.ids_off = 0;
        pc.out_row0 = uint32_t(j0);
        dispatch(p, b, &pc, uint64_t(j1 - j0), 1, "get_rows");
    }
}

// Ops over rows of x and y (and an optional third tensor with the same rows): copy, silu, gelu.
void VulkanBackendImpl::row_op(const char* shader, const char* kind, const Tensor& x, const Tensor& y, const void*, size_t,
                               const Tensor*, bool elementwise) {
    if (!err_.ok()) return;
    const Pipeline* p = pipeline(shader, 2, sizeof(RowsPC));
    if (!p) return;
    const int64_t nrows = x.nrows();
    const int64_t per = rows_per_chunk({&x, &y}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Binding b[2];
        RowsPC pc{};
        uint64_t lo, hi;
        row_span(x, r0, r1, lo, hi);
        bool ok = bind(x, lo, hi, b[0], &pc.s.bias);
        row_span(y, r0, r1, lo, hi);
        ok = ok && bind(y, lo, hi, b[1], &pc.d.bias);
        if (!ok) return set_error(fail(Code::unsupported, "%s: a row does not fit one storage-buffer binding", kind));
        pc.s = tpc(x, pc.s.bias);
        pc.d = tpc(y, pc.d.bias);
        pc.ne0 = uint32_t(x.ne[0]);
        pc.nrows = uint32_t(r1 - r0);
        pc.row0 = uint32_t(r0);
        const uint64_t groups = elementwise ? (uint64_t(x.ne[0]) * uint64_t(r1 - r0) + 63) / 64 : uint64_t(r1 - r0);
        dispatch(p, b, &pc, groups, 1, kind);
    }
}

void VulkanBackendImpl::silu(const Tensor& x, Tensor& y) {
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne, "silu: f32 tensors of one shape");
    row_op("silu", "silu", x, y, nullptr, 0, nullptr, true);
}

void VulkanBackendImpl::gelu(const Tensor& x, Tensor& y) {
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne, "gelu: f32 tensors of one shape");
    row_op("gelu", "gelu", x, y, nullptr, 0, nullptr, true);
}

void VulkanBackendImpl::copy(const Tensor& src, Tensor& dst) {
    VKAI_ASSERT(dst.ne[0] == src.ne[0] && dst.nelements() == src.nelements(), "copy: shapes differ");
    if (!err_.ok()) return;
    if (src.type == dst.type) { // a byte copy per row (whole tensor when both are contiguous)
        const Loc s = locate(src, "copy src"), d = locate(dst, "copy dst");
        const uint64_t rb = row_bytes_of(src);
        if (src.contiguous() && dst.contiguous()) {
            set_error(rec_->copy(s.buf, s.offset, d.buf, d.offset, rb * uint64_t(src.nrows())));
            return;
        }
        for (int64_t r = 0; r < src.nrows() && err_.ok(); ++r)
            set_error(rec_->copy(s.buf, s.offset + row_off(src, r), d.buf, d.offset + row_off(dst, r), rb));
        return;
    }
    VKAI_ASSERT(supports(Op::copy, src.type), "copy: cannot read %s on Vulkan", dtype_name(src.type));
    if (dst.type != DType::F32 && dst.type != DType::F16 && dst.type != DType::BF16) {
        set_error(fail(Code::unsupported, "copy to %s (quantizing) is not implemented on Vulkan", dtype_name(dst.type)));
        return;
    }
    const std::string name = "copy_" + lower(dtype_name(src.type)) + "_" + lower(dtype_name(dst.type));
    row_op(name.c_str(), "copy", src, dst, nullptr, 0, nullptr, false);
}

void VulkanBackendImpl::rms_norm(const Tensor& x, const Tensor* w, float eps, Tensor& y) {
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne, "rms_norm: f32 tensors of one shape");
    VKAI_ASSERT(!w || (w->type == DType::F32 && w->ne[0] == x.ne[0]), "rms_norm: w must be f32 of the row length");
    if (!err_.ok()) return;
    const Pipeline* p = pipeline(use_subgroup_ops() ? "rms_norm_sg" : "rms_norm", 3, sizeof(RmsNormPC));
    if (!p) return;
    const int64_t nrows = x.nrows(), per = rows_per_chunk({&x, &y}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Binding b[3];
        RmsNormPC pc{};
        uint64_t lo, hi;
        row_span(x, r0, r1, lo, hi);
        bool ok = bind(x, lo, hi, b[0], &pc.x.bias);
        if (w) ok = ok && bind(*w, 0, uint64_t(w->ne[0]) * 4, b[1], &pc.w_bias);
        else b[1] = b[0];
        row_span(y, r0, r1, lo, hi);
        ok = ok && bind(y, lo, hi, b[2], &pc.y.bias);
        if (!ok) return set_error(fail(Code::unsupported, "rms_norm: a row does not fit one storage-buffer binding"));
        pc.x = tpc(x, pc.x.bias);
        pc.y = tpc(y, pc.y.bias);
        pc.n = uint32_t(x.ne[0]);
        pc.nrows = uint32_t(r1 - r0);
        pc.row0 = uint32_t(r0);
        pc.has_w = w ? 1 : 0;
        pc.eps = eps;
        dispatch(p, b, &pc, uint64_t(r1 - r0), 1, "rms_norm");
    }
}

void VulkanBackendImpl::softmax(const Tensor& x, const Tensor* mask, float scale, Tensor& y) {
    VKAI_ASSERT(x.type == DType::F32 && y.type == DType::F32 && x.ne == y.ne, "softmax: f32 tensors of one shape");
    VKAI_ASSERT(!mask || (mask->type == DType::F32 && mask->ne[0] == x.ne[0] && mask->nrows() > 0), "softmax: mask shape");
    if (!err_.ok()) return;
    const Pipeline* p = pipeline("softmax", 3, sizeof(SoftmaxPC));
    if (!p) return;
    const int64_t nrows = x.nrows(), per = rows_per_chunk({&x, &y}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Binding b[3];
        SoftmaxPC pc{};
        uint64_t lo, hi;
        row_span(x, r0, r1, lo, hi);
        bool ok = bind(x, lo, hi, b[0], &pc.x.bias);
        if (mask) {
            row_span(*mask, 0, mask->nrows(), lo, hi);
            ok = ok && bind(*mask, lo, hi, b[1], &pc.m.bias);
            pc.m = tpc(*mask, pc.m.bias);
        } else {
            b[1] = b[0];
        }
        row_span(y, r0, r1, lo, hi);
        ok = ok && bind(y, lo, hi, b[2], &pc.y.bias);
        if (!ok) return set_error(fail(Code::unsupported, "softmax: an operand does not fit one storage-buffer binding"));
        pc.x = tpc(x, pc.x.bias);
        pc.y = tpc(y, pc.y.bias);
        pc.n = uint32_t(x.ne[0]);
        pc.nrows = uint32_t(r1 - r0);
        pc.row0 = uint32_t(r0);
        pc.has_mask = mask ? 1 : 0;
        pc.mask_rows = mask ? uint32_t(mask->nrows()) : 1;
        pc.scale = scale;
        dispatch(p, b, &pc, uint64_t(r1 - r0), 1, "softmax");
    }
}

void VulkanBackendImpl::binary(const char* shader, const Tensor& a, const Tensor& b, Tensor& y) {
    VKAI_ASSERT(a.type == DType::F32 && b.type == DType::F32 && y.type == DType::F32 && a.ne == y.ne, "%s: f32 tensors", shader);
    VKAI_ASSERT(b.ne[0] == a.ne[0] && b.nrows() > 0 && a.nrows() % b.nrows() == 0, "%s: b does not broadcast over a", shader);
    if (!err_.ok()) return;
    const Pipeline* p = pipeline(shader, 3, sizeof(BinaryPC));
    if (!p) return;
    const int64_t nrows = a.nrows(), per = rows_per_chunk({&a, &y}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Binding bd[3];
        BinaryPC pc{};
        uint64_t lo, hi;
        row_span(a, r0, r1, lo, hi);
        bool ok = bind(a, lo, hi, bd[0], &pc.a.bias);
        row_span(b, 0, b.nrows(), lo, hi);
        ok = ok && bind(b, lo, hi, bd[1], &pc.b.bias);
        row_span(y, r0, r1, lo, hi);
        ok = ok && bind(y, lo, hi, bd[2], &pc.y.bias);
        if (!ok) return set_error(fail(Code::unsupported, "%s: an operand does not fit one storage-buffer binding", shader));
        pc.a = tpc(a, pc.a.bias);
        pc.b = tpc(b, pc.b.bias);
        pc.y = tpc(y, pc.y.bias);
        pc.ne0 = uint32_t(a.ne[0]);
        pc.nrows = uint32_t(r1 - r0);
        pc.row0 = uint32_t(r0);
        pc.b_rows = uint32_t(b.nrows());
        dispatch(p, bd, &pc, (uint64_t(a.ne[0]) * uint64_t(r1 - r0) + 63) / 64, 1, shader);
    }
}

void VulkanBackendImpl::add(const Tensor& a, const Tensor& b, Tensor& y) { binary("add", a, b, y); }
void VulkanBackendImpl::mul(const Tensor& a, const Tensor& b, Tensor& y) { binary("mul", a, b, y); }
void VulkanBackendImpl::swiglu(const Tensor& a, const Tensor& b, Tensor& y) { binary("swiglu", a, b, y); }

void VulkanBackendImpl::set_rows(const Tensor& src, const int32_t* ids, Tensor& dst) {
    VKAI_ASSERT(src.type == DType::F32 && src.ne[0] == dst.ne[0] && (dst.type == DType::F32 || dst.type == DType::F16), "set_rows: types/shapes");
    if (!err_.ok()) return;
    const int64_t nrows = src.ne[1];
    for (int64_t r = 0; r < nrows; ++r)
        VKAI_ASSERT(ids[r] >= 0 && ids[r] < dst.ne[1], "set_rows: id %d out of [0, %lld)", ids[r], (long long)dst.ne[1]);
    if (nrows == 0) return;
    const Pipeline* p = pipeline(dst.type == DType::F16 ? "set_rows_f16" : "set_rows_f32", 3, sizeof(SetRowsPC));
    if (!p) return;
    Tensor s2 = src; // 2-D view: set_rows reads rows 0..ne1-1
    s2.ne[2] = s2.ne[3] = 1;
    Tensor d2 = dst;
    d2.ne[2] = d2.ne[3] = 1;
    uint64_t dlo, dhi;
    row_span(d2, 0, d2.ne[1], dlo, dhi);
    if (dhi - dlo + 2 * align_ > max_binding_) return set_error(fail(Code::unsupported, "set_rows: destination larger than one binding"));
    const int64_t per = rows_per_chunk({&s2}, nrows);
    for (int64_t r0 = 0; r0 < nrows; r0 += per) {
        const int64_t r1 = std::min(nrows, r0 + per);
        Result<RingSlice> s = rec_->ring_alloc(uint64_t(r1 - r0) * 4, align_);
        if (!s.ok()) return set_error(s.status());
        std::memcpy(s->host, ids + r0, size_t(r1 - r0) * 4);
        Binding b[3];
        SetRowsPC pc{};
        uint64_t lo, hi;
        row_span(s2, r0, r1, lo, hi);
        bool ok = bind(s2, lo, hi, b[0], &pc.s.bias);
        b[1] = bind_ring(*s, uint64_t(r1 - r0) * 4);
        ok = ok && bind(d2, dlo, dhi, b[2], &pc.d.bias);
        if (!ok) return set_error(fail(Code::unsupported, "set_rows: an operand does not fit one storage-buffer binding"));
        pc.s = tpc(s2, pc.s.bias);
        pc.d = tpc(d2, pc.d.bias);
        pc.ne0 = uint32_t(src.ne[0]);
        pc.nrows = uint32_t(r1 - r0);
        pc.ids_off = 0;
        pc.row0 = uint32_t(r0);
        dispatch(p, b, &pc, uint64_t(r1 - r0), 1, "set_rows");
    }
}

} // namespace vkai::vk
