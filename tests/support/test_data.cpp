#include "test_data.h"

#include "base/text.h"

#include <cmath>
#include <cstdlib>
#include <random>
#include <sys/stat.h>

namespace vkai::test {

std::string data_path(const std::string& rel) {
    const char* root = std::getenv("VKAI_DATA");
    return std::string(root ? root : "../shared/data") + "/" + rel;
}

bool have_data(const std::string& rel) {
    struct stat st {};
    return stat(data_path(rel).c_str(), &st) == 0;
}

double nmse(const float* a, const float* ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; ++i) {
        double d = double(a[i]) - double(ref[i]);
        num += d * d;
        den += double(ref[i]) * double(ref[i]);
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

std::string first_mismatches(const float* a, const float* ref, int64_t n, float abs_tol, float rel_tol, int max_lines) {
    std::string out;
    int shown = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; ++i) {
        float tol = abs_tol + std::fabs(ref[i]) * rel_tol;
        bool ok = std::fabs(a[i] - ref[i]) <= tol || (std::isnan(a[i]) && std::isnan(ref[i]));
        if (ok) continue;
        ++bad;
        if (shown < max_lines) {
            out += strf("  [%lld] got %.9g want %.9g\n", (long long)i, a[i], ref[i]);
            ++shown;
        }
    }
    if (bad) out += strf("  %lld of %lld elements outside tol %g + %g*|ref|\n", (long long)bad, (long long)n, abs_tol, rel_tol);
    return out;
}

std::vector<float> random_floats(int64_t n, uint64_t seed, float lo, float hi) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    return v;
}

} // namespace vkai::test
