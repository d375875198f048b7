#include "server/think_split.h"

#include <algorithm>

namespace vkai::server {

void ThinkSplitter::push(std::string_view text, std::string& content, std::string& reasoning) {
    held_.append(text);
    for (;;) {
        const std::string_view tag = in_think_ ? "</think>" : "<think>";
        std::string& out = in_think_ ? reasoning : content;
        if (strip_ws_ && !in_think_) {
            size_t n = 0;
            while (n < held_.size() && (held_[n] == '\n' || held_[n] == ' ' || held_[n] == '\r')) ++n;
            held_.erase(0, n);
            if (held_.empty()) return;
            strip_ws_ = false;
        }
        const size_t at = held_.find(tag);
        if (at != std::string::npos) {
            out.append(held_, 0, at);
            held_.erase(0, at + tag.size());
            if (in_think_) strip_ws_ = true;
            in_think_ = !in_think_;
            continue;
        }
        // Hold the longest suffix that could still grow into the tag.
        size_t keep = 0;
        for (size_t len = std::min(tag.size() - 1, held_.size()); len > 0; --len)
            if (held_.compare(held_.size() - len, len, tag.substr(0, len)) == 0) {
                keep = len;
                break;
            }
        out.append(held_, 0, held_.size() - keep);
        held_.erase(0, held_.size() - keep);
        return;
    }
}

void ThinkSplitter::flush(std::string& content, std::string& reasoning) {
    (in_think_ ? reasoning : content).append(held_);
    held_.clear();
}

} // namespace vkai::server
