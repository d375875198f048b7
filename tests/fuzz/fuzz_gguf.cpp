// libFuzzer target for the GGUF reader: parse, touch every parsed value and tensor byte range, and
// check that whatever parses also survives a Writer round trip. Any abort counts as a crash.
#include "formats/gguf.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

using namespace vkai;
using namespace vkai::gguf;

namespace {

volatile uint64_t g_sink;

void check(bool cond) {
    if (!cond) std::abort();
}

uint64_t touch(const Value& v, int depth) {
    check(depth <= kMaxArrayDepth);
    uint64_t h = uint64_t(v.type) + v.u + uint64_t(v.i);
    for (char c : v.str) h = h * 31 + uint8_t(c);
    if (v.type != ValueType::array) return h;
    if (v.raw) {
        for (uint64_t i = 0; i < v.count; ++i) h += v.uint_at(i) + uint64_t(v.int_at(i)) + uint64_t(v.float_at(i) != 0);
    } else {
        check(v.items.size() == v.count);
        for (const Value& item : v.items) {
            check(item.type == v.elem_type);
            h += touch(item, depth + 1);
        }
    }
    return h;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto r = parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
    if (!r.ok()) {
        check(!r.status().message().empty() && r.status().code() != Code::internal);
        return 0;
    }
    const File& f = *r;
    uint64_t h = 0;
    for (const auto& kv : f.kvs) {
        check(!kv.key.empty() && f.find(kv.key) == &kv.value);
        h += touch(kv.value, 0);
        // Typed getters must answer (value or error) for every key and type, never abort.
        h += f.get_uint(kv.key).ok() + f.get_int(kv.key).ok() + f.get_float(kv.key).ok() + f.get_bool(kv.key).ok();
        h += f.get_string(kv.key).ok() + f.get_array(kv.key, kv.value.elem_type).ok() + f.get_string_or(kv.key, "").size();
    }
    h += f.architecture().size();
    for (const auto& t : f.tensors) {
        check(f.find_tensor(t.name) == &t);
        check(t.data >= data && uint64_t(t.data - data) + t.bytes <= size);
        if (t.bytes) h += t.data[0] + t.data[t.bytes - 1];
        h += uint64_t(t.nelements());
    }
    g_sink = h;

    // Round trip: the Writer must accept everything the reader accepted, and the result must parse.
    Writer w(f.alignment);
    for (const auto& kv : f.kvs) w.set_value(kv.key, kv.value);
    for (const auto& t : f.tensors) {
        const TensorInfo* src = &t;
        Status st = w.add_tensor(t.name, t.type, std::vector<int64_t>(t.ne, t.ne + t.n_dims), [src](uint8_t* dst, uint64_t n) {
            std::memcpy(dst, src->data, n);
            return Status();
        });
        check(st.ok());
    }
    auto bytes = w.write_to_memory();
    check(bytes.ok());
    auto again = parse(*bytes, "roundtrip.gguf");
    check(again.ok() && again->kvs.size() == f.kvs.size() && again->tensors.size() == f.tensors.size());
    for (size_t i = 0; i < f.tensors.size(); ++i)
        check(again->tensors[i].bytes == f.tensors[i].bytes &&
              (f.tensors[i].bytes == 0 || std::memcmp(again->tensors[i].data, f.tensors[i].data, f.tensors[i].bytes) == 0));
    return 0;
}
