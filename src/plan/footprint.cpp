#include "plan/footprint.h"

#include <charconv>
#include <string_view>

namespace vkai::plan {

uint64_t Footprint::weights() const {
    uint64_t s = embedding + other + (tied ? head - embedding : head);
    for (const auto& l : layers) s += l.total();
    return s;
}

const ComputeBytes* Footprint::compute_at(int64_t n_ctx) const {
    for (const auto& c : compute)
        if (c.n_ctx == n_ctx) return &c;
    return nullptr;
}

Result<Footprint> footprint_from_gguf(const gguf::File& f, int64_t n_layer, int64_t kv_dim, int kv_elem_bytes, int64_t n_expert,
                                      int64_t n_expert_used) {
    if (n_layer < 1 || n_layer > 4096) return fail(Code::invalid_argument, "footprint: %lld layers out of range", (long long)n_layer);
    if (kv_elem_bytes != 2 && kv_elem_bytes != 4) return fail(Code::invalid_argument, "footprint: KV element size %d (2 or 4)", kv_elem_bytes);
    Footprint fp;
    fp.n_layer = n_layer;
    fp.n_expert = n_expert;
    fp.n_expert_used = n_expert_used;
    fp.arch = std::string(f.architecture());
    fp.layers.resize(size_t(n_layer));
    fp.kv_cell_layer = 2 * uint64_t(kv_dim) * uint64_t(kv_elem_bytes);
    fp.kv_type = kv_elem_bytes == 2 ? "f16" : "f32";
    bool has_output = false;
    for (const gguf::TensorInfo& t : f.tensors) {
        const std::string_view n = t.name;
        if (n.starts_with("blk.")) {
            // "blk.<layer>.<rest>"
            int64_t l = -1;
            const char* b = n.data() + 4;
            auto [end, ec] = std::from_chars(b, n.data() + n.size(), l);
            if (ec != std::errc() || end == b || end == n.data() + n.size() || *end != '.')
                return fail(Code::corrupt, "%s: tensor '%.*s' has no layer number", f.name.c_str(), int(n.size()), n.data());
            if (l < 0 || l >= n_layer)
                return fail(Code::corrupt, "%s: tensor '%.*s' belongs to layer %lld but the model has %lld", f.name.c_str(), int(n.size()),
                            n.data(), (long long)l, (long long)n_layer);
            const std::string_view rest(end + 1, size_t(n.data() + n.size() - (end + 1)));
            LayerBytes& L = fp.layers[size_t(l)];
            if (rest.find("_exps") != std::string_view::npos) L.experts += t.bytes;
            else if (rest.starts_with("ffn_")) L.ffn += t.bytes;
            else L.attn += t.bytes;
        } else if (n == "token_embd.weight") {
            fp.embedding += t.bytes;
        } else if (n == "output.weight" || n == "output_norm.weight") {
            fp.head += t.bytes;
            has_output = has_output || n == "output.weight";
        } else {
            fp.other += t.bytes;
        }
    }
    if (!has_output) { // tied: the head uploads its own copy of the embedding
        fp.tied = true;
        fp.head += fp.embedding;
    }
    return fp;
}

} // namespace vkai::plan
