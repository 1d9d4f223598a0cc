// hnn_fast._C: what this build of hnn_fast is. It links neither torch nor CUDA, so that it imports
// (and can explain a version mismatch) even when the op library could not be loaded.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

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
}
