// Paths to shared test data (../shared/data from the project root, or $VKAI_DATA) and helpers
// that compare float arrays the way the op tests do.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vkai::test {

std::string data_path(const std::string& rel); // data_path("llm/stories260K.gguf")
bool have_data(const std::string& rel);

// Normalized mean squared error: sum((a-b)^2) / sum(b^2), with b the reference.
double nmse(const float* a, const float* ref, int64_t n);
// First mismatches as "i: got X want Y" lines (for failure messages).
std::string first_mismatches(const float* a, const float* ref, int64_t n, float abs_tol, float rel_tol, int max_lines = 5);

std::vector<float> random_floats(int64_t n, uint64_t seed, float lo = -1.0f, float hi = 1.0f);

} // namespace vkai::test
