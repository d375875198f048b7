// Known model shapes, for `vkai synth` (random weights, real shapes) and the planner's tests.
#pragma once

#include "llm/hparams.h"

#include <span>
#include <string_view>

namespace vkai::llm {

struct Preset {
    const char* name;
    const char* description;
    HParams hp; // n_vocab 0 = take the vocab size from the tokenizer file
};

std::span<const Preset> presets();
const Preset* find_preset(std::string_view name);

} // namespace vkai::llm
