#include "args.h"

#include "base/text.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace vkai::cli {

Args::Args(std::string command, std::string usage, std::vector<Option> options)
    : command_(std::move(command)), usage_(std::move(usage)), options_(std::move(options)) {}

const Option* Args::find_long(const std::string& n) const {
    for (const auto& o : options_)
        if (o.name == n) return &o;
    return nullptr;
}

const Option* Args::find_short(const std::string& n) const {
    for (const auto& o : options_)
        if (!o.short_name.empty() && o.short_name == n) return &o;
    return nullptr;
}

Status Args::parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            help_ = true;
            continue;
        }
        if (a == "--") {
            for (++i; i < argc; ++i) positional_.push_back(argv[i]);
            break;
        }
        const Option* opt = nullptr;
        std::string inline_value;
        bool has_inline = false;
        if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
            std::string n = a.substr(2);
            size_t eq = n.find('=');
            if (eq != std::string::npos) {
                inline_value = n.substr(eq + 1);
                n = n.substr(0, eq);
                has_inline = true;
            }
            opt = find_long(n);
            if (!opt) return fail(Code::invalid_argument, "unknown option '--%s' (see vkai %s --help)", n.c_str(), command_.c_str());
        } else if (a.size() >= 2 && a[0] == '-' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.') {
            opt = find_short(a.substr(1));
            if (!opt) return fail(Code::invalid_argument, "unknown option '%s' (see vkai %s --help)", a.c_str(), command_.c_str());
        } else {
            positional_.push_back(a);
            continue;
        }
        if (opt->value.empty()) {
            if (has_inline) return fail(Code::invalid_argument, "option '--%s' takes no value", opt->name.c_str());
            values_[opt->name] = "1";
        } else if (has_inline) {
            values_[opt->name] = inline_value;
            all_[opt->name].push_back(inline_value);
        } else {
            if (i + 1 >= argc) return fail(Code::invalid_argument, "option '%s' needs a value %s", a.c_str(), opt->value.c_str());
            values_[opt->name] = argv[++i];
            all_[opt->name].push_back(argv[i]);
        }
    }
    return {};
}

std::vector<std::string> Args::get_all(const std::string& name) const {
    auto it = all_.find(name);
    return it == all_.end() ? std::vector<std::string>() : it->second;
}

std::string Args::help() const {
    std::string s = "usage: vkai " + command_ + " " + usage_ + "\n";
    if (!options_.empty()) s += "\noptions:\n";
    for (const auto& o : options_) {
        std::string left = "  ";
        left += o.short_name.empty() ? "    " : "-" + o.short_name + ", ";
        left += "--" + o.name;
        if (!o.value.empty()) left += " " + o.value;
        if (left.size() < 30) left.resize(30, ' ');
        else left += "  ";
        s += left + o.help + "\n";
    }
    return s;
}

bool Args::has(const std::string& name) const { return values_.count(name) != 0; }

std::string Args::get(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

Result<int64_t> Args::get_int(const std::string& name, int64_t fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    const char* s = it->second.c_str();
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s, &end, 10);
    if (errno || end == s || *end) return fail(Code::invalid_argument, "--%s expects an integer, got '%s'", name.c_str(), s);
    return int64_t(v);
}

Result<double> Args::get_float(const std::string& name, double fallback) const {
    auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    const char* s = it->second.c_str();
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s, &end);
    if (errno || end == s || *end) return fail(Code::invalid_argument, "--%s expects a number, got '%s'", name.c_str(), s);
    return v;
}

int report(const std::string& command, const Status& st) {
    std::fprintf(stderr, "vkai %s: %s\n", command.c_str(), st.message().c_str());
    return st.code() == Code::invalid_argument ? 2 : 1;
}

} // namespace vkai::cli
