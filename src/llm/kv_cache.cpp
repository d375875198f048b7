#include "llm/kv_cache.h"

#include "base/check.h"
#include "base/text.h"


namespace vkai::llm {

KvCache& KvCache::operator=(KvCache&& o) noexcept {
    if (this != &o) {
        free_buffers(); // not ~KvCache(): that would end the members' lifetimes before reuse
        hp_ = o.hp_;
        n_cells_ = o.n_cells_;
        type_ = o.type_;
        bytes_ = o.bytes_;
        backends_ = std::move(o.backends_);
        k_ = std::move(o.k_);
        v_ = std::move(o.v_);
        pos_ = std::move(o.pos_);
        seq_ = std::move(o.seq_);
        used_ = o.used_;
        o.k_.clear();
        o.v_.clear();
        o.backends_.clear();
    }
    return *this;
}

KvCache::~KvCache() { free_buffers(); }

void KvCache::free_buffers() {
    for (size_t l = 0; l < k_.size(); ++l) backends_[l]->free(k_[l]);
    for (size_t l = 0; l < v_.size(); ++l) backends_[l]->free(v_[l]);
    k_.clear();
    v_.clear();
}

Result<KvCache> KvCache::create(const HParams& hp, int64_t n_cells, DType type, const std::vector<Backend*>& layer_backends) {
    if (type != DType::F16 && type != DType::F32)
        return fail(Code::unsupported, "KV cache type %s is not supported (use F16 or F32)", dtype_name(type));
    if (n_cells < 1 || n_cells > (int64_t(1) << 24)) return fail(Code::invalid_argument, "context size %lld is out of range", (long long)n_cells);
    KvCache c;
    c.hp_ = hp;
    c.n_cells_ = n_cells;
    c.type_ = type;
    const uint64_t row = uint64_t(hp.head_dim * hp.n_head_kv) * (type == DType::F16 ? 2 : 4);
    const uint64_t per_layer = row * uint64_t(n_cells);
    if (int64_t(layer_backends.size()) != hp.n_layer) return fail(Code::internal, "KV cache: one backend per layer expected");
    c.backends_ = layer_backends;
    for (int64_t l = 0; l < hp.n_layer; ++l) {
        Backend& backend = *layer_backends[size_t(l)];
        auto k = backend.alloc(per_layer, "KV cache");
        if (k.ok()) c.k_.push_back(*k);
        auto v = backend.alloc(per_layer, "KV cache");
        if (v.ok()) c.v_.push_back(*v);
        if (k.ok() != v.ok()) { // keep k_ and v_ paired so the destructor frees both
            if (k.ok()) backend.free(c.k_.back()), c.k_.pop_back();
            else backend.free(c.v_.back()), c.v_.pop_back();
        }
        if (!k.ok() || !v.ok())
            return fail(Code::out_of_memory, "KV cache of %s for %lld cells does not fit in %s memory; use a smaller context (-c)",
                        format_bytes(per_layer * 2 * uint64_t(hp.n_layer)).c_str(), (long long)n_cells, backend.name().c_str());
    }
    c.bytes_ = per_layer * 2 * uint64_t(hp.n_layer);
    c.pos_.assign(size_t(n_cells), -1);
    c.seq_.assign(size_t(n_cells), -1);
    return c;
}

Tensor KvCache::k(int64_t layer) {
    return make_tensor(type_, k_[size_t(layer)], hp_.head_dim, hp_.n_head_kv, n_cells_);
}

Tensor KvCache::v(int64_t layer) {
    return make_tensor(type_, v_[size_t(layer)], hp_.head_dim, hp_.n_head_kv, n_cells_);
}

Result<std::vector<int32_t>> KvCache::claim(const int32_t* pos, const int32_t* seq, int64_t n) {
    if (n > n_cells_ - used_)
        return fail(Code::out_of_memory, "the context is full: %lld tokens do not fit in the %lld free of %lld cells", (long long)n,
                    (long long)(n_cells_ - used_), (long long)n_cells_);
    // Lowest free cells first: the cells in use stay packed at the start, and attention reads only
    // up to the last one in use (used_end), so a server's cache does not drift to its full size.
    std::vector<int32_t> cells(static_cast<size_t>(n));
    int64_t c = 0;
    for (int64_t i = 0; i < n; ++i) {
        while (pos_[size_t(c)] >= 0) ++c; // n <= free cells: one is left
        pos_[size_t(c)] = pos[i];
        seq_[size_t(c)] = seq[i];
        cells[size_t(i)] = int32_t(c);
        ++c;
    }
    used_ += n;
    return cells;
}

void KvCache::remove(int32_t seq, int32_t p0, int32_t p1) {
    for (int64_t c = 0; c < n_cells_; ++c) {
        if (pos_[size_t(c)] < 0) continue;
        if (seq >= 0 && seq_[size_t(c)] != seq) continue;
        if (pos_[size_t(c)] < p0 || (p1 >= 0 && pos_[size_t(c)] >= p1)) continue;
        pos_[size_t(c)] = -1;
        seq_[size_t(c)] = -1;
        --used_;
    }
}

int64_t KvCache::used_end() const {
    int64_t e = n_cells_;
    while (e > 0 && pos_[size_t(e - 1)] < 0) --e;
    return e;
}

int32_t KvCache::max_pos(int32_t seq) const {
    int32_t m = -1;
    for (int64_t c = 0; c < n_cells_; ++c)
        if (pos_[size_t(c)] >= 0 && seq_[size_t(c)] == seq && pos_[size_t(c)] > m) m = pos_[size_t(c)];
    return m;
}

} // namespace vkai::llm
