// vkai info FILE [--json] [--full]: header, metadata and tensor table of a GGUF file.
// JSON strings are always valid UTF-8: bytes that are not valid UTF-8 become U+FFFD.
#include "args.h"
#include "commands.h"

#include "base/text.h"
#include "formats/gguf.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace vkai::cli {
namespace {

using gguf::Value;
using gguf::ValueType;

constexpr uint64_t kShownItems = 8;      // array items shown unless --full
constexpr size_t kShownStringBytes = 160; // text mode cuts long strings (chat templates) unless --full

struct Style {
    bool json = false;
    bool full = false;
};

// Shortest decimal that reads back as the same float (f32) or double (f64).
std::string fmt_float(double v, bool is_f32) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    for (int prec = 6; prec <= 17; ++prec) {
        std::string s = strf("%.*g", prec, v);
        double back = std::strtod(s.c_str(), nullptr);
        if (is_f32 ? float(back) == float(v) : back == v) return s;
    }
    return strf("%.17g", v);
}

// Replaces every byte that is not part of a well-formed UTF-8 sequence by U+FFFD.
std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
        for (size_t k = 1; ok && k < len; ++k) {
            unsigned char cc = (unsigned char)s[i + k];
            ok = (cc & 0xc0) == 0x80;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Reject overlong forms, UTF-16 surrogates and code points past U+10FFFF.
        if (ok && ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                   (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff))
            ok = false;
        if (ok) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\xef\xbf\xbd";
            i += 1;
        }
    }
    return out;
}

std::string quoted(std::string_view s, const Style& st) {
    if (st.json) return "\"" + json_escape(valid_utf8(s)) + "\"";
    return "\"" + printable(s, st.full ? std::string::npos : kShownStringBytes) + "\"";
}

std::string number_json(double v, bool is_f32) {
    return std::isfinite(v) ? fmt_float(v, is_f32) : "null"; // JSON has no NaN or infinity
}

std::string scalar(const Value& v, const Style& st) {
    switch (v.type) {
    case ValueType::u8: case ValueType::u16: case ValueType::u32: case ValueType::u64:
        return strf("%llu", (unsigned long long)v.u);
    case ValueType::i8: case ValueType::i16: case ValueType::i32: case ValueType::i64:
        return strf("%lld", (long long)v.i);
    case ValueType::f32: return st.json ? number_json(v.f, true) : fmt_float(v.f, true);
    case ValueType::f64: return st.json ? number_json(v.f, false) : fmt_float(v.f, false);
    case ValueType::boolean: return v.u ? "true" : "false";
    case ValueType::string: return quoted(v.str, st);
    case ValueType::array: break;
    }
    return st.json ? "null" : "?";
}

std::string element(const Value& a, uint64_t i, const Style& st) {
    switch (a.elem_type) {
    case ValueType::f32: case ValueType::f64: {
        double f = a.float_at(i);
        bool f32 = a.elem_type == ValueType::f32;
        return st.json ? number_json(f, f32) : fmt_float(f, f32);
    }
    case ValueType::u8: case ValueType::u16: case ValueType::u32: case ValueType::u64:
        return strf("%llu", (unsigned long long)a.uint_at(i));
    case ValueType::boolean: return a.uint_at(i) ? "true" : "false";
    default: return strf("%lld", (long long)a.int_at(i));
    }
}

std::string value_text(const Value& v, const Style& st, int depth);

// Text: "[arr u32 x 512: 1, 2, 3, ... ]"; nested arrays below the top level are summarized.
std::string array_text(const Value& v, const Style& st, int depth) {
    std::string s = strf("[arr %s x %llu", gguf::value_type_name(v.elem_type), (unsigned long long)v.count);
    if (v.count == 0 || (depth > 0 && !st.full && v.elem_type == ValueType::array)) return s + "]";
    s += ": ";
    uint64_t shown = st.full ? v.count : std::min(v.count, kShownItems);
    for (uint64_t i = 0; i < shown; ++i) {
        if (i) s += ", ";
        if (v.elem_type == ValueType::string || v.elem_type == ValueType::array) {
            if (i < v.items.size()) s += value_text(v.items[size_t(i)], st, depth + 1);
        } else {
            s += element(v, i, st);
        }
    }
    return s + (shown < v.count ? ", ... ]" : "]");
}

// JSON: {"type":"array","elem_type":"u32","count":512,"value":[...],"truncated":true}
std::string array_json(const Value& v, const Style& st, int depth) {
    std::string s = strf("{\"type\": \"array\", \"elem_type\": \"%s\", \"count\": %llu", gguf::value_type_name(v.elem_type),
                         (unsigned long long)v.count);
    if (depth > 0 && !st.full && v.elem_type == ValueType::array) return s + ", \"truncated\": true}";
    s += ", \"value\": [";
    uint64_t shown = st.full ? v.count : std::min(v.count, kShownItems);
    for (uint64_t i = 0; i < shown; ++i) {
        if (i) s += ", ";
        if (v.elem_type == ValueType::string || v.elem_type == ValueType::array) {
            s += i < v.items.size() ? value_text(v.items[size_t(i)], st, depth + 1) : "null";
        } else {
            s += element(v, i, st);
        }
    }
    s += "]";
    if (shown < v.count) s += ", \"truncated\": true";
    return s + "}";
}

std::string value_text(const Value& v, const Style& st, int depth) {
    if (v.type == ValueType::array) return st.json ? array_json(v, st, depth) : array_text(v, st, depth);
    if (st.json && depth == 0) return strf("{\"type\": \"%s\", \"value\": %s}", gguf::value_type_name(v.type), scalar(v, st).c_str());
    return scalar(v, st);
}

std::string shape(const gguf::TensorInfo& t) {
    std::string s = "[";
    for (int d = 0; d < t.n_dims; ++d) s += (d ? ", " : "") + strf("%lld", (long long)t.ne[d]);
    return s + "]";
}

struct TypeSum {
    uint64_t count = 0, bytes = 0;
};

uint64_t total_bytes(const gguf::File& f) {
    uint64_t sum = 0;
    for (const auto& t : f.tensors) sum += t.bytes; // each lies inside the file: no overflow
    return sum;
}

std::string render_text(const gguf::File& f, const std::string& path, const Style& st) {
    std::string arch(f.architecture());
    std::string s;
    s += strf("file:         %s\n", printable(path, 4096).c_str());
    s += strf("size:         %llu bytes (%s)\n", (unsigned long long)f.bytes.size(), format_bytes(f.bytes.size()).c_str());
    s += strf("version:      %u\n", f.version);
    s += strf("alignment:    %llu\n", (unsigned long long)f.alignment);
    s += strf("data offset:  %llu\n", (unsigned long long)f.data_offset);
    s += strf("tensors:      %zu\n", f.tensors.size());
    uint64_t total = total_bytes(f);
    s += strf("tensor bytes: %llu (%s)\n", (unsigned long long)total, format_bytes(total).c_str());
    s += strf("architecture: %s\n", arch.empty() ? "(none)" : printable(arch, 200).c_str());

    s += strf("\nmetadata (%zu keys):\n", f.kvs.size());
    for (const auto& kv : f.kvs)
        s += "  " + printable(kv.key, st.full ? std::string::npos : 200) + " = " + value_text(kv.value, st, 0) + "\n";

    if (f.tensors.empty()) return s;
    size_t name_w = 4, type_w = 4, shape_w = 5;
    for (const auto& t : f.tensors) {
        name_w = std::max(name_w, printable(t.name, 256).size());
        type_w = std::max(type_w, std::string(dtype_name(t.type)).size());
        shape_w = std::max(shape_w, shape(t).size());
    }
    s += strf("\ntensors (%zu):\n", f.tensors.size());
    s += strf("  %-*s  %-*s  %-*s  %12s  %12s\n", int(name_w), "name", int(type_w), "type", int(shape_w), "shape", "bytes", "offset");
    std::map<uint32_t, TypeSum> types;
    for (const auto& t : f.tensors) {
        s += strf("  %-*s  %-*s  %-*s  %12llu  %12llu\n", int(name_w), printable(t.name, 256).c_str(), int(type_w), dtype_name(t.type),
                  int(shape_w), shape(t).c_str(), (unsigned long long)t.bytes, (unsigned long long)t.offset);
        types[uint32_t(t.type)].count++;
        types[uint32_t(t.type)].bytes += t.bytes;
    }
    s += "\ntypes:\n";
    for (const auto& [id, sum] : types)
        s += strf("  %-*s  %6llu tensors  %14llu bytes  (%s)\n", int(type_w), dtype_name(DType(id)), (unsigned long long)sum.count,
                  (unsigned long long)sum.bytes, format_bytes(sum.bytes).c_str());
    return s;
}

std::string render_json(const gguf::File& f, const std::string& path, const Style& st) {
    std::string arch(f.architecture());
    std::string s = "{\n";
    s += "  \"file\": \"" + json_escape(valid_utf8(path)) + "\",\n";
    s += strf("  \"file_bytes\": %llu,\n", (unsigned long long)f.bytes.size());
    s += strf("  \"version\": %u,\n", f.version);
    s += strf("  \"alignment\": %llu,\n", (unsigned long long)f.alignment);
    s += strf("  \"data_offset\": %llu,\n", (unsigned long long)f.data_offset);
    s += strf("  \"tensor_count\": %zu,\n", f.tensors.size());
    s += strf("  \"tensor_bytes\": %llu,\n", (unsigned long long)total_bytes(f));
    s += "  \"architecture\": " + (arch.empty() ? std::string("null") : "\"" + json_escape(valid_utf8(arch)) + "\"") + ",\n";
    s += "  \"metadata\": {";
    for (size_t i = 0; i < f.kvs.size(); ++i)
        s += std::string(i ? ",\n    " : "\n    ") + "\"" + json_escape(valid_utf8(f.kvs[i].key)) + "\": " + value_text(f.kvs[i].value, st, 0);
    s += f.kvs.empty() ? "},\n" : "\n  },\n";
    s += "  \"tensors\": [";
    std::map<uint32_t, TypeSum> types;
    for (size_t i = 0; i < f.tensors.size(); ++i) {
        const auto& t = f.tensors[i];
        s += std::string(i ? ",\n    " : "\n    ");
        s += strf("{\"name\": \"%s\", \"type\": \"%s\", \"shape\": %s, \"bytes\": %llu, \"offset\": %llu}",
                  json_escape(valid_utf8(t.name)).c_str(), dtype_name(t.type), shape(t).c_str(), (unsigned long long)t.bytes,
                  (unsigned long long)t.offset);
        types[uint32_t(t.type)].count++;
        types[uint32_t(t.type)].bytes += t.bytes;
    }
    s += f.tensors.empty() ? "],\n" : "\n  ],\n";
    s += "  \"types\": [";
    bool first = true;
    for (const auto& [id, sum] : types) {
        s += strf("%s{\"type\": \"%s\", \"count\": %llu, \"bytes\": %llu}", first ? "\n    " : ",\n    ", dtype_name(DType(id)),
                  (unsigned long long)sum.count, (unsigned long long)sum.bytes);
        first = false;
    }
    s += types.empty() ? "]\n}\n" : "\n  ]\n}\n";
    return s;
}

} // namespace

int cmd_info(int argc, char** argv) {
    Args args("info", "FILE [--json] [--full]",
              {{"json", "", "", "print one JSON object instead of text"},
               {"full", "", "", "show every array item and whole strings"}});
    Status st = args.parse(argc, argv);
    if (!st.ok()) return report("info", st);
    if (args.help_requested()) {
        std::fputs(args.help().c_str(), stdout);
        return 0;
    }
    if (args.positional().size() != 1)
        return report("info", fail(Code::invalid_argument, "expected one FILE, got %zu (see vkai info --help)", args.positional().size()));
    const std::string& path = args.positional()[0];
    auto model = gguf::open(path);
    if (!model.ok()) return report("info", model.status());
    Style style;
    style.json = args.has("json");
    style.full = args.has("full");
    std::string out = style.json ? render_json(model->gguf, path, style) : render_text(model->gguf, path, style);
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0)
        return report("info", fail(Code::io, "cannot write to stdout"));
    return 0;
}

} // namespace vkai::cli
