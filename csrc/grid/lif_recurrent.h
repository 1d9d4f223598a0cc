#pragma once

// What one CUDA thread of lif_recurrent's step kernels does (cuda/lif_recurrent_cuda.cu), also run on
// the CPU over the whole launch grid by the host harness: one step of each of its neurons, between the
// matrix products the host code issues on the same stream.

#include "../core/lif_recurrent.h"
#include "../core/params.h"
#include "grid.h"

namespace hnn_fast::grid {

template <typename scalar_t, typename acc_t, Reset R>
struct LifRecurrentStep {
  using Params = LifRecurrentStepParams;
  static int64_t count(const Params& p) { return p.M; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const acc_t v_reset = static_cast<acc_t>(p.v_reset);
    auto* v = static_cast<acc_t*>(p.v);
    for_each_neuron(first, step, p.M, [&](int64_t n) {
      const acc_t th = neuron_value<acc_t>(p.threshold, p.threshold_value, n);
      const acc_t hv = lif_recurrent_charge(v[n], static_cast<acc_t>(static_cast<const scalar_t*>(p.x)[n]),
                                            neuron_value<acc_t>(p.decay, p.decay_value, n),
                                            static_cast<const acc_t*>(p.recurrent)[n]);
      const acc_t sv = lif_fire(hv, th);
      if (p.h != nullptr) static_cast<acc_t*>(p.h)[n] = hv;
      static_cast<scalar_t*>(p.spikes)[n] = static_cast<scalar_t>(sv);
      v[n] = lif_reset<R>(hv, sv, th, v_reset);
    });
  }
};

template <typename scalar_t, typename acc_t, Reset R>
struct LifRecurrentBackwardStep {
  using Params = LifRecurrentBackwardStepParams;
  static int64_t count(const Params& p) { return p.M; }

  static HNN_HOST_DEVICE void run(const Params& p, int64_t first, int64_t step) {
    const acc_t v_reset = static_cast<acc_t>(p.v_reset);
    const acc_t alpha = static_cast<acc_t>(p.alpha);
    auto* grad_v = static_cast<acc_t*>(p.grad_v);
    for_each_neuron(first, step, p.M, [&](int64_t n) {
      const acc_t h = static_cast<const acc_t*>(p.h)[n];
      const acc_t th = neuron_value<acc_t>(p.threshold, p.threshold_value, n);
      const acc_t grad_s = static_cast<acc_t>(static_cast<const scalar_t*>(p.grad_spikes)[n]) +
                           neuron_value<acc_t>(p.grad_recurrent, 0.0, n);
      acc_t gh, gth;
      lif_step_backward<R>(h, th, surrogate_grad(p.surrogate, h - th, alpha), v_reset,
                           p.detach_reset ? acc_t(0) : acc_t(1), grad_s, grad_v[n], gh, gth);
      static_cast<acc_t*>(p.grad_h)[n] = gh;
      if (p.grad_decay != nullptr) {
        const acc_t v_prev =
            p.h_prev != nullptr
                ? lif_membrane<R>(static_cast<const acc_t*>(p.h_prev)[n],
                                  neuron_value<acc_t>(p.threshold_prev, p.threshold_value, n), v_reset)
                : neuron_value<acc_t>(p.v0, 0.0, n);
        static_cast<acc_t*>(p.grad_decay)[n] += gh * v_prev;
      }
      if (p.grad_threshold != nullptr) static_cast<acc_t*>(p.grad_threshold)[n] += gth;
      grad_v[n] = gh * neuron_value<acc_t>(p.decay, p.decay_value, n);
    });
  }
};

}  // namespace hnn_fast::grid
