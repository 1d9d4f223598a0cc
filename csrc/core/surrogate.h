#pragma once

#include <cmath>
#include <cstdint>

#include "macros.h"

namespace hnn_fast {

// The surrogate derivatives g(u) that replace dH/du in the backward pass (DESIGN.md, surrogate table).
// The enum values are part of the op schema contract: ops.py passes the surrogate by name and the
// host code maps the name to this enum.
enum class Surrogate : int64_t { Rectangle = 0, Triangle = 1, Sigmoid = 2, Atan = 3, FastSigmoid = 4 };

template <Surrogate S, typename acc_t>
HNN_HOST_DEVICE acc_t surrogate_grad(acc_t u, acc_t alpha) {
  const acc_t au = u < acc_t(0) ? -u : u;
  if constexpr (S == Surrogate::Rectangle) {
    return au < alpha * acc_t(0.5) ? acc_t(1) / alpha : acc_t(0);
  } else if constexpr (S == Surrogate::Triangle) {
    const acc_t r = acc_t(1) - au / alpha;
    return r > acc_t(0) ? r / alpha : acc_t(0);
  } else if constexpr (S == Surrogate::Sigmoid) {
    const acc_t sg = acc_t(1) / (acc_t(1) + std::exp(-alpha * u));
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

}  // namespace hnn_fast
