// hnn_fast._C: what this build of hnn_fast is, and the names the ops' string arguments accept
// (core/options.h). It links neither torch nor CUDA, so that it imports (and can explain a version
// mismatch) even when the op library could not be loaded.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "core/options.h"

#ifndef HNN_FAST_VERSION
#error "HNN_FAST_VERSION must be defined by the build"
#endif

namespace {

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::string part;
  for (char c : text) {
    if (c == sep) {
      if (!part.empty()) parts.push_back(part);
      part.clear();
    } else {
      part += c;
    }
  }
  if (!part.empty()) parts.push_back(part);
  return parts;
}

std::vector<std::string> cpu_features() {
  std::vector<std::string> features;
#ifdef __SSE4_2__
  features.emplace_back("sse4.2");
#endif
#ifdef __AVX__
  features.emplace_back("avx");
#endif
#ifdef __AVX2__
  features.emplace_back("avx2");
#endif
#ifdef __FMA__
  features.emplace_back("fma");
#endif
#ifdef __AVX512F__
  features.emplace_back("avx512f");
#endif
#ifdef __ARM_NEON
  features.emplace_back("neon");
#endif
  return features;
}

template <typename E, std::size_t N>
std::vector<std::string> names(const std::array<hnn_fast::Named<E>, N>& table) {
  std::vector<std::string> out;
  for (const auto& entry : table) out.emplace_back(entry.name);
  return out;
}

// Keyed by the op argument each table parses.
std::map<std::string, std::vector<std::string>> option_names() {
  std::map<std::string, std::vector<std::string>> tables;
  tables["reset"] = names(hnn_fast::kResets);
  tables["surrogate"] = names(hnn_fast::kSurrogates);
  tables["mode"] = names(hnn_fast::kEncodeModes);
  tables["nonlinearity"] = names(hnn_fast::kNonlinearities);
  tables["kernel"] = names(hnn_fast::kWindowKernels);
  return tables;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "Build information of hnn_fast";
  m.attr("version") = HNN_FAST_VERSION;
  m.attr("torch_version") = HNN_FAST_TORCH_VERSION;
  m.attr("backends") = split(HNN_FAST_BACKENDS, ',');
  m.attr("cuda_version") = HNN_FAST_CUDA_VERSION;
  m.attr("cuda_architectures") = split(HNN_FAST_CUDA_ARCHITECTURES, ',');
  m.attr("compiler") = HNN_FAST_COMPILER;
  m.attr("cpu_features") = cpu_features();
  m.attr("ops_library") = HNN_FAST_OPS_LIBRARY;
  m.attr("option_names") = option_names();
}
