// Default bodies of the ops added after the first backends: a backend that lacks one reports it
// through has_whisper_ops(), and callers check that before recording; reaching here is a bug.
#include "ops/backend.h"

#include "base/check.h"

namespace vkai {

void Backend::layer_norm(const Tensor&, const Tensor*, const Tensor*, float, Tensor&) {
    VKAI_ASSERT(false, "layer_norm is not implemented by backend %s", name().c_str());
}
void Backend::gelu_erf(const Tensor&, Tensor&) { VKAI_ASSERT(false, "gelu_erf is not implemented by backend %s", name().c_str()); }
void Backend::mul_mat_add(const Tensor& w, const Tensor&, const Tensor&, Tensor&) {
    VKAI_ASSERT(false, "mul_mat_add of %s weights is not implemented by backend %s (check fuses_mul_mat_add first)", dtype_name(w.type), name().c_str());
}

void Backend::mul_mat_add_gelu(const Tensor& w, const Tensor&, const Tensor&, Tensor&) {
    VKAI_ASSERT(false, "mul_mat_add_gelu of %s weights is not implemented by backend %s (check fuses_mul_mat_add_gelu first)", dtype_name(w.type),
                name().c_str());
}

void Backend::swiglu_mul_mat_add(const Tensor& w, const Tensor&, const Tensor&, const Tensor&, Tensor&) {
    VKAI_ASSERT(false, "swiglu_mul_mat_add of %s weights is not implemented by backend %s (check fuses_swiglu_mul_mat_add first)",
                dtype_name(w.type), name().c_str());
}
void Backend::rms_norm_mul_mat(const Tensor& w, const Tensor&, const Tensor&, float, Tensor&) {
    VKAI_ASSERT(false, "rms_norm_mul_mat of %s weights is not implemented by backend %s (check fuses_rms_norm_mul_mat first)",
                dtype_name(w.type), name().c_str());
}
void Backend::layer_norm_mul_mat_add(const Tensor& w, const Tensor&, const Tensor&, const Tensor&, float, const Tensor&, bool, Tensor&) {
    VKAI_ASSERT(false, "layer_norm_mul_mat_add of %s weights is not implemented by backend %s (check fuses_layer_norm_mul_mat first)",
                dtype_name(w.type), name().c_str());
}
void Backend::rope_set_rows(const Tensor&, const int32_t*, const RopeParams&, const int32_t*, Tensor&) {
    VKAI_ASSERT(false, "rope_set_rows is not implemented by backend %s (check fuses_rope_set_rows first)", name().c_str());
}
void Backend::im2col(const Tensor&, int, int, int, Tensor&) { VKAI_ASSERT(false, "im2col is not implemented by backend %s", name().c_str()); }

} // namespace vkai
