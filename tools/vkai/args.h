// A small declarative argument parser for the subcommands: each command lists its options,
// parse() fills values, and errors are one clear line. Options: --name VALUE, --name=VALUE,
// -x VALUE, flags without values; everything else is positional.
#pragma once

#include "base/status.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vkai::cli {

struct Option {
    std::string name;       // long name without dashes: "temp"
    std::string short_name; // "t" or ""
    std::string value;      // value placeholder ("N"), empty for a flag
    std::string help;
};

class Args {
public:
    Args(std::string command, std::string usage, std::vector<Option> options);

    // argv[0] is the subcommand name. Returns invalid_argument with a one-line message on error.
    Status parse(int argc, char** argv);
    bool help_requested() const { return help_; }
    std::string help() const;

    bool has(const std::string& name) const;
    std::string get(const std::string& name, const std::string& fallback = "") const;
    Result<int64_t> get_int(const std::string& name, int64_t fallback) const;
    Result<double> get_float(const std::string& name, double fallback) const;
    // Every value of an option given several times, in order (get() returns the last).
    std::vector<std::string> get_all(const std::string& name) const;
    const std::vector<std::string>& positional() const { return positional_; }

private:
    const Option* find_long(const std::string& n) const;
    const Option* find_short(const std::string& n) const;

    std::string command_, usage_;
    std::vector<Option> options_;
    std::map<std::string, std::string> values_;
    std::map<std::string, std::vector<std::string>> all_;
    std::vector<std::string> positional_;
    bool help_ = false;
};

// Prints "vkai <cmd>: <message>" to stderr and returns the exit code for failures.
int report(const std::string& command, const Status& st);

} // namespace vkai::cli
