#pragma once

#include <cmath>
#include <cstdint>

#include "macros.h"

namespace hnn_fast {

// ---- hu_window: spikes to real values (the W and H stages of a hybrid unit) --------------------------
// Window k covers steps [k * stride, k * stride + window); y_k = sum_j w_j * x_{k * stride + j}, with
// steps past the end of the sequence read as zeros (drop_last=False pads the last window).

enum class WindowKernel : int64_t { Sum = 0, Mean = 1, Exp = 2, Weights = 3 };

// Weight of step j (0 = the window's oldest step) of the fixed kernels; Weights reads a tensor instead.
template <typename acc_t>
HNN_HOST_DEVICE acc_t window_weight(WindowKernel kernel, int64_t j, int64_t window, acc_t decay) {
  switch (kernel) {
    case WindowKernel::Sum: return acc_t(1);
    case WindowKernel::Mean: return acc_t(1) / static_cast<acc_t>(window);
    default: return std::pow(decay, static_cast<acc_t>(window - 1 - j));
  }
}

// The windows [k_begin, k_end) that cover step t, so that the backward to x gathers (no atomics):
// k * stride <= t < k * stride + window and 0 <= k < K.
HNN_HOST_DEVICE void windows_covering(int64_t t, int64_t window, int64_t stride, int64_t K, int64_t& k_begin,
                                      int64_t& k_end) {
  k_begin = t >= window ? (t - window) / stride + 1 : 0;
  const int64_t last = t / stride + 1;
  k_end = last < K ? last : K;
}

// ---- hu_encode: real values to spikes (sampler, F and Q of a hybrid unit) ----------------------------

enum class EncodeMode : int64_t { Rate = 0, Poisson = 1, Latency = 2 };
enum class Nonlinearity : int64_t { Identity = 0, Sigmoid = 1, Relu = 2, Tanh = 3, Hardtanh = 4 };

template <typename acc_t>
HNN_HOST_DEVICE acc_t apply_nonlinearity(Nonlinearity f, acc_t a) {
  switch (f) {
    case Nonlinearity::Sigmoid: return acc_t(1) / (acc_t(1) + std::exp(-a));
    case Nonlinearity::Relu: return a > acc_t(0) ? a : acc_t(0);
    case Nonlinearity::Tanh: return std::tanh(a);
    case Nonlinearity::Hardtanh: return a < acc_t(-1) ? acc_t(-1) : (a > acc_t(1) ? acc_t(1) : a);
    default: return a;
  }
}

// F'(a), with PyTorch's convention at the kinks (relu' (0) = 0, hardtanh' = 0 at +-1).
template <typename acc_t>
HNN_HOST_DEVICE acc_t nonlinearity_grad(Nonlinearity f, acc_t a) {
  switch (f) {
    case Nonlinearity::Sigmoid: {
      const acc_t s = acc_t(1) / (acc_t(1) + std::exp(-a));
      return s * (acc_t(1) - s);
    }
    case Nonlinearity::Relu: return a > acc_t(0) ? acc_t(1) : acc_t(0);
    case Nonlinearity::Tanh: {
      const acc_t t = std::tanh(a);
      return acc_t(1) - t * t;
    }
    case Nonlinearity::Hardtanh: return a > acc_t(-1) && a < acc_t(1) ? acc_t(1) : acc_t(0);
    default: return acc_t(1);
  }
}

// p = clamp(F(a), 0, 1), the firing probability (or rate) of the neuron.
template <typename acc_t>
HNN_HOST_DEVICE acc_t encode_probability(Nonlinearity f, acc_t a) {
  const acc_t v = apply_nonlinearity(f, a);
  return v < acc_t(0) ? acc_t(0) : (v > acc_t(1) ? acc_t(1) : v);
}

// dp/da: F'(a), zero where the clamp is active (F(a) outside [0, 1]); F(a) = 0 or 1 exactly still passes,
// so that a value sitting on a bound can learn.
template <typename acc_t>
HNN_HOST_DEVICE acc_t encode_probability_grad(Nonlinearity f, acc_t a) {
  const acc_t v = apply_nonlinearity(f, a);
  return v >= acc_t(0) && v <= acc_t(1) ? nonlinearity_grad(f, a) : acc_t(0);
}

// The latency code's spike time tau = (1 - p)(T - 1): p = 1 fires first, small p last.
template <typename acc_t>
HNN_HOST_DEVICE acc_t latency_time(acc_t p, int64_t T) {
  return (acc_t(1) - p) * static_cast<acc_t>(T - 1);
}

// s_t for step t of T. Rate: integrate-and-fire of p (threshold 1, soft reset) in closed form, so no
// error accumulates over t. Poisson: u is the step's uniform draw in [0, 1). Latency: one spike at
// round(tau) (half to even, as torch.round), none when p = 0.
template <typename acc_t>
HNN_HOST_DEVICE acc_t encode_spike(EncodeMode mode, int64_t t, int64_t T, acc_t p, acc_t u) {
  switch (mode) {
    case EncodeMode::Rate: {
      // Both products are >= 0, where truncation is floor: a conversion the CPU does inline (std::floor
      // is a library call per element on a baseline x86-64 target). 32-bit, because vector
      // float-to-int64 conversions need AVX-512DQ; the products are at most T, and the host code
      // keeps T below 2^31.
      const int32_t now = static_cast<int32_t>(static_cast<acc_t>(t + 1) * p);
      const int32_t before = static_cast<int32_t>(static_cast<acc_t>(t) * p);
      return static_cast<acc_t>(now - before);
    }
    case EncodeMode::Poisson: return u < p ? acc_t(1) : acc_t(0);
    default:
      return p > acc_t(0) && static_cast<acc_t>(t) == std::nearbyint(latency_time(p, T)) ? acc_t(1)
                                                                                         : acc_t(0);
  }
}

// The surrogate ds_t/dp. Rate and Poisson: straight-through (1), since E[s_t] = p. Latency: the exact
// derivative of the spike linearly interpolated between steps t0 = floor(tau) and t0 + 1,
// s_t0 = 1 - (tau - t0), s_t0+1 = tau - t0: ds_t/dp = (T - 1) for t - tau in (-1, 0], -(T - 1) for
// t - tau in (0, 1], else 0. The spike count gets no gradient and the spike time sum_t t s_t gets
// dtau/dp = -(T - 1).
template <typename acc_t>
HNN_HOST_DEVICE acc_t encode_spike_grad(EncodeMode mode, int64_t t, int64_t T, acc_t p) {
  if (mode != EncodeMode::Latency) return acc_t(1);
  const acc_t d = static_cast<acc_t>(t) - latency_time(p, T);
  if (d <= acc_t(-1) || d > acc_t(1)) return acc_t(0);
  const acc_t slope = static_cast<acc_t>(T - 1);
  return d > acc_t(0) ? -slope : slope;
}

}  // namespace hnn_fast
