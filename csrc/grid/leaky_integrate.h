#pragma once

// What one CUDA thread of the leaky integrator's kernels does (cuda/leaky_integrate_cuda.cu), also run
// on the CPU over the whole launch grid by the host harness: each of its neurons' time loop.

#include "../core/leaky.h"
#include "../core/params.h"
#include "grid.h"

namespace hnn_fast::grid {

template <typename scalar_t, typename acc_t>
struct LeakyForward {
  using Params = LeakyForwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* x = static_cast<const scalar_t*>(p.x);
    auto* v_seq = static_cast<scalar_t*>(p.v_seq);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      acc_t v = neuron_value<acc_t>(p.v0, 0.0, n);
      const acc_t decay = neuron_value<acc_t>(p.decay, p.decay_value, n);
      for (int64_t t = 0; t < p.T; ++t) {
        v = lif_charge(v, static_cast<acc_t>(x[offset(t, p.x_stride_t, n)]), decay);
        v_seq[offset(t, p.N, n)] = static_cast<scalar_t>(v);
      }
    });
  }
};

template <typename scalar_t, typename acc_t>
struct LeakyBackward {
  using Params = LeakyBackwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* grad_v_seq = static_cast<const scalar_t*>(p.grad_v_seq);
    const auto* v_seq = static_cast<const scalar_t*>(p.v_seq);
    auto* grad_x = static_cast<scalar_t*>(p.grad_x);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      const acc_t decay = neuron_value<acc_t>(p.decay, p.decay_value, n);
      const acc_t v0 = neuron_value<acc_t>(p.v0, 0.0, n);
      acc_t grad_v = 0, grad_decay = 0;
      for (int64_t t = p.T - 1; t >= 0; --t) {
        const acc_t total =
            leaky_step_backward(static_cast<acc_t>(grad_v_seq[offset(t, p.N, n)]), decay, grad_v);
        grad_x[offset(t, p.N, n)] = static_cast<scalar_t>(total);
        grad_decay += total * (t > 0 ? static_cast<acc_t>(v_seq[offset(t - 1, p.N, n)]) : v0);
      }
      static_cast<acc_t*>(p.grad_v0)[n] = grad_v;
      if (p.grad_decay != nullptr) static_cast<acc_t*>(p.grad_decay)[n] = grad_decay;
    });
  }
};

}  // namespace hnn_fast::grid
