#pragma once

// What one CUDA thread of lif's kernels does (cuda/lif_cuda.cu), also run on the CPU over the whole
// launch grid by the host harness: each of its neurons' time loop, the membrane in a register.

#include "../core/lif.h"
#include "../core/params.h"
#include "grid.h"

namespace hnn_fast::grid {

// theta_t of neuron n: its row of a per-step threshold, else the per-neuron (or scalar) one.
template <typename acc_t>
HNN_HOST_DEVICE acc_t step_threshold(const acc_t* threshold_steps, acc_t threshold, int64_t t, int64_t N,
                                     int64_t n) {
  return threshold_steps != nullptr ? threshold_steps[offset(t, N, n)] : threshold;
}

template <typename scalar_t, typename acc_t, Reset R>
struct LifForward {
  using Params = LifForwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* x = static_cast<const scalar_t*>(p.x);
    auto* spikes = static_cast<scalar_t*>(p.spikes);
    auto* h = static_cast<acc_t*>(p.h);
    const auto* threshold_steps =
        p.neuron.threshold_per_step ? static_cast<const acc_t*>(p.neuron.threshold) : nullptr;
    const acc_t v_reset = static_cast<acc_t>(p.neuron.v_reset);
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      acc_t v = neuron_value<acc_t>(p.neuron.v0, 0.0, n);
      const acc_t decay = neuron_value<acc_t>(p.neuron.decay, p.neuron.decay_value, n);
      const acc_t threshold =
          neuron_value<acc_t>(threshold_steps ? nullptr : p.neuron.threshold, p.neuron.threshold_value, n);
      for (int64_t t = 0; t < p.T; ++t) {
        const acc_t th = step_threshold(threshold_steps, threshold, t, p.N, n);
        const acc_t hv = lif_charge(v, static_cast<acc_t>(x[offset(t, p.x_stride_t, n)]), decay);
        const acc_t sv = lif_fire(hv, th);
        if (h != nullptr) h[offset(t, p.N, n)] = hv;
        spikes[offset(t, p.N, n)] = static_cast<scalar_t>(sv);
        v = lif_reset<R>(hv, sv, th, v_reset);
      }
      static_cast<scalar_t*>(p.v_last)[n] = static_cast<scalar_t>(v);
    });
  }
};

template <typename scalar_t, typename acc_t, Reset R>
struct LifBackward {
  using Params = LifBackwardParams;
  static int64_t count(const Params& p) { return p.N; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
    const auto* h = static_cast<const acc_t*>(p.h);
    const auto* grad_h = static_cast<const acc_t*>(p.grad_h);
    auto* grad_x = static_cast<scalar_t*>(p.grad_x);
    auto* grad_threshold = static_cast<acc_t*>(p.grad_threshold);
    const auto* threshold_steps =
        p.neuron.threshold_per_step ? static_cast<const acc_t*>(p.neuron.threshold) : nullptr;
    const acc_t v_reset = static_cast<acc_t>(p.neuron.v_reset);
    const acc_t alpha = static_cast<acc_t>(p.alpha);
    const bool want_decay = p.grad_decay != nullptr;
    for_each_neuron(first, step, p.N, [&](int64_t n) {
      acc_t grad_v = neuron_value<acc_t>(p.grad_v_last, 0.0, n);
      const acc_t decay = neuron_value<acc_t>(p.neuron.decay, p.neuron.decay_value, n);
      const acc_t threshold =
          neuron_value<acc_t>(threshold_steps ? nullptr : p.neuron.threshold, p.neuron.threshold_value, n);
      acc_t grad_decay = 0, grad_threshold_sum = 0;
      for (int64_t t = p.T - 1; t >= 0; --t) {
        const int64_t at_t = offset(t, p.N, n);
        const acc_t hv = h[at_t];
        const acc_t th = step_threshold(threshold_steps, threshold, t, p.N, n);
        const acc_t surrogate = surrogate_grad(p.surrogate, hv - th, alpha);
        acc_t gh, gth;
        lif_step_backward<R>(hv, th, surrogate, v_reset, p.detach_reset ? acc_t(0) : acc_t(1),
                             static_cast<acc_t>(grad_spikes[at_t]), grad_v,
                             grad_h != nullptr ? grad_h[at_t] : acc_t(0), gh, gth);
        grad_x[at_t] = static_cast<scalar_t>(gh);
        if (want_decay) {
          const acc_t v_prev =
              t > 0 ? lif_membrane<R>(h[offset(t - 1, p.N, n)],
                                      step_threshold(threshold_steps, threshold, t - 1, p.N, n), v_reset)
                    : neuron_value<acc_t>(p.neuron.v0, 0.0, n);
          grad_decay += gh * v_prev;
        }
        if (threshold_steps != nullptr && grad_threshold != nullptr) grad_threshold[at_t] = gth;
        grad_threshold_sum += gth;
        grad_v = gh * decay;
      }
      static_cast<acc_t*>(p.grad_v0)[n] = grad_v;
      if (want_decay) static_cast<acc_t*>(p.grad_decay)[n] = grad_decay;
      if (threshold_steps == nullptr && grad_threshold != nullptr) grad_threshold[n] = grad_threshold_sum;
    });
  }
};

}  // namespace hnn_fast::grid
