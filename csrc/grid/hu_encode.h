#pragma once

// What one CUDA thread of hu_encode's kernels does (cuda/hu_encode_cuda.cu), also run on the CPU over
// the whole launch grid by the host harness: each of its neurons keeps p in a register and walks the
// steps. The mode is uniform across the grid, so its branch is free.

#include "../core/hu.h"
#include "../core/params.h"
#include "grid.h"

namespace hnn_fast::grid {

template <typename scalar_t, typename acc_t>
struct HuEncodeForward {
  using Params = HuEncodeForwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* a = static_cast<const scalar_t*>(p.a);
    const auto* uniform = static_cast<const acc_t*>(p.uniform);
    auto* spikes = static_cast<scalar_t*>(p.spikes);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      const acc_t prob = encode_probability(p.nonlinearity, static_cast<acc_t>(a[n]));
      for (int64_t t = 0; t < p.T; ++t) {
        const acc_t u = uniform != nullptr ? uniform[offset(t, p.N, n)] : acc_t(0);
        spikes[offset(t, p.N, n)] = static_cast<scalar_t>(encode_spike(p.mode, t, p.T, prob, u));
      }
    });
  }
};

template <typename scalar_t, typename acc_t>
struct HuEncodeBackward {
  using Params = HuEncodeBackwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* a = static_cast<const scalar_t*>(p.a);
    const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
    auto* grad_a = static_cast<scalar_t*>(p.grad_a);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      const acc_t a_n = static_cast<acc_t>(a[n]);
      const acc_t prob = encode_probability(p.nonlinearity, a_n);
      acc_t sum = 0;
      for (int64_t t = 0; t < p.T; ++t) {
        sum += static_cast<acc_t>(grad_spikes[offset(t, p.N, n)]) * encode_spike_grad(p.mode, t, p.T, prob);
      }
      grad_a[n] = static_cast<scalar_t>(sum * encode_probability_grad(p.nonlinearity, a_n));
    });
  }
};

}  // namespace hnn_fast::grid
