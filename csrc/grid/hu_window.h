#pragma once

// What one CUDA thread of hu_window's kernels does (cuda/hu_window_cuda.cu), also run on the CPU over
// the whole launch grid by the host harness: each of its neurons' windows. Neighbouring threads read
// neighbouring neurons, so every load coalesces.

#include "../core/hu.h"
#include "../core/params.h"
#include "grid.h"

namespace hnn_fast::grid {

// Weight j of neuron n's window: its channel's row of the weights tensor, or the fixed kernel's value.
template <typename acc_t, typename Params>
HNN_HOST_DEVICE acc_t window_weight_of(const Params& p, int64_t n, int64_t j) {
  if (p.weights == nullptr) return window_weight<acc_t>(p.kernel, j, p.window, static_cast<acc_t>(p.decay));
  const int64_t c = p.channels == 1 ? 0 : n / p.inner;
  return static_cast<const acc_t*>(p.weights)[offset(c, p.window, j)];
}

template <typename scalar_t, typename acc_t>
struct HuWindowForward {
  using Params = HuWindowForwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* x = static_cast<const scalar_t*>(p.x);
    auto* y = static_cast<scalar_t*>(p.y);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      for (int64_t k = 0; k < p.K; ++k) {
        acc_t sum = 0;
        for (int64_t j = 0, t = k * p.stride; j < p.window && t < p.T; ++j, ++t) {
          sum += window_weight_of<acc_t>(p, n, j) * static_cast<acc_t>(x[offset(t, p.x_stride_t, n)]);
        }
        y[offset(k, p.N, n)] = static_cast<scalar_t>(sum);
      }
    });
  }
};

template <typename scalar_t, typename acc_t>
struct HuWindowBackward {
  using Params = HuWindowBackwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* grad_y = static_cast<const scalar_t*>(p.grad_y);
    const auto* x = static_cast<const scalar_t*>(p.x);
    auto* grad_x = static_cast<scalar_t*>(p.grad_x);
    auto* grad_weights = static_cast<acc_t*>(p.grad_weights);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      if (grad_x != nullptr) {
        for (int64_t t = 0; t < p.T; ++t) {
          int64_t k_begin, k_end;
          windows_covering(t, p.window, p.stride, p.K, k_begin, k_end);
          acc_t sum = 0;
          for (int64_t k = k_begin; k < k_end; ++k) {
            sum += window_weight_of<acc_t>(p, n, t - k * p.stride) *
                   static_cast<acc_t>(grad_y[offset(k, p.N, n)]);
          }
          grad_x[offset(t, p.N, n)] = static_cast<scalar_t>(sum);
        }
      }
      if (grad_weights != nullptr) {
        for (int64_t j = 0; j < p.window; ++j) {
          acc_t sum = 0;
          for (int64_t k = 0, t = j; k < p.K && t < p.T; ++k, t += p.stride) {
            sum += static_cast<acc_t>(grad_y[offset(k, p.N, n)]) *
                   static_cast<acc_t>(x[offset(t, p.x_stride_t, n)]);
          }
          grad_weights[offset(j, p.N, n)] = sum;
        }
      }
    });
  }
};

}  // namespace hnn_fast::grid
