#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "macros.h"

namespace hnn_fast {

// The surrogate derivatives g(u) that replace dH/du in the backward pass; hnn_fast.reference.surrogate_grad
// defines the same functions and hnn_fast.options.SURROGATE_ALPHA their default alphas. The ops take the
// surrogate by name, which the host code maps to this enum through kSurrogates (core/options.h).
enum class Surrogate : int64_t { Rectangle = 0, Triangle = 1, Sigmoid = 2, Atan = 3, FastSigmoid = 4 };

// exp for the sigmoid surrogate. On the CPU, float uses a branch-free Cody-Waite reduction and a
// degree-6 minimax polynomial (within 2 ulp of expf) because a libm call keeps the loop from
// vectorising, which made this surrogate's backward 10x slower than the others. The GPU's exp is
// already a fast device function; fp64 keeps std::exp.
template <typename acc_t>
HNN_HOST_DEVICE acc_t surrogate_exp(acc_t x) {
#if defined(__CUDA_ARCH__)
  return exp(x);
#else
  if constexpr (std::is_same_v<acc_t, float>) {
    x = std::min(std::max(x, -87.0f), 88.0f);                            // 2^n stays a normal float
    const float t = x * 1.44269504088896341f;                            // x / ln 2
    const int32_t n = static_cast<int32_t>(t + std::copysign(0.5f, t));  // round half away from zero
    const float fn = static_cast<float>(n);
    const float r = (x - fn * 0.693359375f) - fn * -2.12194440e-4f;  // x - n ln 2, ln 2 in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    return p * std::bit_cast<float>((n + 127) << 23);
  } else {
    return std::exp(x);
  }
#endif
}

template <Surrogate S, typename acc_t>
HNN_HOST_DEVICE acc_t surrogate_grad(acc_t u, acc_t alpha) {
  const acc_t au = u < acc_t(0) ? -u : u;
  if constexpr (S == Surrogate::Rectangle) {
    return au < alpha * acc_t(0.5) ? acc_t(1) / alpha : acc_t(0);
  } else if constexpr (S == Surrogate::Triangle) {
    const acc_t r = acc_t(1) - au / alpha;
    return r > acc_t(0) ? r / alpha : acc_t(0);
  } else if constexpr (S == Surrogate::Sigmoid) {
    const acc_t sg = acc_t(1) / (acc_t(1) + surrogate_exp(-alpha * u));
    return alpha * sg * (acc_t(1) - sg);
  } else if constexpr (S == Surrogate::Atan) {
    const acc_t k = acc_t(1.5707963267948966) * alpha * u;
    return (alpha * acc_t(0.5)) / (acc_t(1) + k * k);
  } else {  // FastSigmoid
    const acc_t d = acc_t(1) + alpha * au;
    return acc_t(1) / (d * d);
  }
}

// Runtime selection, for kernels where a warp-uniform branch costs nothing (CUDA).
template <typename acc_t>
HNN_HOST_DEVICE acc_t surrogate_grad(Surrogate s, acc_t u, acc_t alpha) {
  switch (s) {
    case Surrogate::Rectangle: return surrogate_grad<Surrogate::Rectangle>(u, alpha);
    case Surrogate::Triangle: return surrogate_grad<Surrogate::Triangle>(u, alpha);
    case Surrogate::Sigmoid: return surrogate_grad<Surrogate::Sigmoid>(u, alpha);
    case Surrogate::Atan: return surrogate_grad<Surrogate::Atan>(u, alpha);
    default: return surrogate_grad<Surrogate::FastSigmoid>(u, alpha);
  }
}

// Static switch for host code: calls f(std::integral_constant<Surrogate, s>{}) with the runtime s as a
// compile-time constant, so a CPU kernel is instantiated once per surrogate (no branch per element).
template <typename F>
void static_surrogate(Surrogate s, F&& f) {
  switch (s) {
    case Surrogate::Rectangle: return f(std::integral_constant<Surrogate, Surrogate::Rectangle>{});
    case Surrogate::Triangle: return f(std::integral_constant<Surrogate, Surrogate::Triangle>{});
    case Surrogate::Sigmoid: return f(std::integral_constant<Surrogate, Surrogate::Sigmoid>{});
    case Surrogate::Atan: return f(std::integral_constant<Surrogate, Surrogate::Atan>{});
    case Surrogate::FastSigmoid: return f(std::integral_constant<Surrogate, Surrogate::FastSigmoid>{});
  }
}

}  // namespace hnn_fast
