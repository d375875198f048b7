// Splits generated text into answer and reasoning for models whose template uses <think>...</think>
// (Qwen3, DeepSeek-R1): text inside the tags goes to reasoning_content. Streaming-safe: a partial tag
// at the end of a piece is held until the next piece decides it.
#pragma once

#include <string>
#include <string_view>

namespace vkai::server {

class ThinkSplitter {
public:
    // in_think: the prompt already opened the block (the generation prompt ends with "<think>").
    explicit ThinkSplitter(bool in_think = false) : in_think_(in_think) {}
    void push(std::string_view text, std::string& content, std::string& reasoning);
    void flush(std::string& content, std::string& reasoning);

private:
    bool in_think_;
    bool strip_ws_ = false; // drop whitespace right after </think>
    std::string held_;
};

} // namespace vkai::server
