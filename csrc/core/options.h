#pragma once

// The names each string argument of the ops accepts, one table per argument. The parsers
// (arguments.cpp) read them, and so does the build-info module (module.cpp), which hands them to
// Python so that tests/ops/test_options.py checks them against hnn_fast/options.py, the Python side's
// tables. module.cpp links neither torch nor CUDA, so this header includes no torch header.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "hu.h"
#include "lif.h"
#include "surrogate.h"

namespace hnn_fast {

template <typename E>
struct Named {
  std::string_view name;
  E value;
};

inline constexpr std::array<Named<Reset>, 2> kResets{{{"hard", Reset::Hard}, {"soft", Reset::Soft}}};

inline constexpr std::array<Named<Surrogate>, 5> kSurrogates{{
    {"rectangle", Surrogate::Rectangle},
    {"triangle", Surrogate::Triangle},
    {"sigmoid", Surrogate::Sigmoid},
    {"atan", Surrogate::Atan},
    {"fast_sigmoid", Surrogate::FastSigmoid},
}};

inline constexpr std::array<Named<EncodeMode>, 3> kEncodeModes{{
    {"rate", EncodeMode::Rate},
    {"poisson", EncodeMode::Poisson},
    {"latency", EncodeMode::Latency},
}};

inline constexpr std::array<Named<Nonlinearity>, 5> kNonlinearities{{
    {"identity", Nonlinearity::Identity},
    {"sigmoid", Nonlinearity::Sigmoid},
    {"relu", Nonlinearity::Relu},
    {"tanh", Nonlinearity::Tanh},
    {"hardtanh", Nonlinearity::Hardtanh},
}};

// "weights" is what the Python wrapper passes when the kernel is a tensor of weights.
inline constexpr std::array<Named<WindowKernel>, 4> kWindowKernels{{
    {"sum", WindowKernel::Sum},
    {"mean", WindowKernel::Mean},
    {"exp", WindowKernel::Exp},
    {"weights", WindowKernel::Weights},
}};

template <typename E, std::size_t N>
constexpr std::optional<E> find_named(const std::array<Named<E>, N>& table, std::string_view name) {
  for (const auto& entry : table) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// The accepted names as an error message lists them: "'hard' or 'soft'", "one of 'a', 'b' or 'c'"
// (hnn_fast.options.one_of words them the same).
template <typename E, std::size_t N>
std::string one_of(const std::array<Named<E>, N>& table) {
  std::string text = N > 2 ? "one of " : "";
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) text += i + 1 == N ? " or " : ", ";
    text += "'";
    text += table[i].name;
    text += "'";
  }
  return text;
}

}  // namespace hnn_fast
