// CPU kernels of the multi-step LIF (math in core/lif.h, host code in lif.cpp).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/lif.h"
#include "../kernels.h"
#include "block.h"

namespace hnn_fast {
namespace {

using cpu::for_each_block;
using cpu::kBlock;
using cpu::load_block;

template <typename scalar_t, Reset R>
void lif_forward_kernel(const LifForwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* spikes = static_cast<scalar_t*>(p.spikes);
  auto* v_last = static_cast<scalar_t*>(p.v_last);
  auto* h = static_cast<acc_t*>(p.h);
  const auto* threshold_steps = p.threshold_per_step ? static_cast<const acc_t*>(p.threshold) : nullptr;
  const acc_t v_reset = static_cast<acc_t>(p.v_reset);
  const int64_t T = p.T, N = p.N;

  for_each_block(T, N, [&](int64_t n0, int64_t nb) {
    acc_t v[kBlock], decay[kBlock], threshold[kBlock], h_scratch[kBlock];
    load_block(v, p.v0, 0.0, n0, nb);
    load_block(decay, p.decay, p.decay_value, n0, nb);
    if (threshold_steps == nullptr) load_block(threshold, p.threshold, p.threshold_value, n0, nb);
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* __restrict__ x_t = x + t * p.x_stride_t + n0;
      scalar_t* __restrict__ s_t = spikes + t * N + n0;
      acc_t* __restrict__ h_t = h != nullptr ? h + t * N + n0 : h_scratch;
      const acc_t* __restrict__ th_t = threshold_steps != nullptr ? threshold_steps + t * N + n0 : threshold;
      for (int64_t j = 0; j < nb; ++j) {
        const acc_t hv = lif_charge(v[j], static_cast<acc_t>(x_t[j]), decay[j]);
        const acc_t sv = lif_fire(hv, th_t[j]);
        h_t[j] = hv;
        s_t[j] = static_cast<scalar_t>(sv);
        v[j] = lif_reset<R>(hv, sv, th_t[j], v_reset);
      }
    }
    for (int64_t j = 0; j < nb; ++j) v_last[n0 + j] = static_cast<scalar_t>(v[j]);
  });
}

template <typename scalar_t, Reset R, Surrogate S>
void lif_backward_kernel(const LifBackwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
  const auto* h = static_cast<const acc_t*>(p.h);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  auto* grad_v0 = static_cast<acc_t*>(p.grad_v0);
  auto* grad_decay = static_cast<acc_t*>(p.grad_decay);
  auto* grad_threshold = static_cast<acc_t*>(p.grad_threshold);
  const auto* threshold_steps = p.threshold_per_step ? static_cast<const acc_t*>(p.threshold) : nullptr;
  const acc_t v_reset = static_cast<acc_t>(p.v_reset);
  const acc_t alpha = static_cast<acc_t>(p.alpha);
  const bool detach_reset = p.detach_reset;
  const bool want_decay = grad_decay != nullptr;
  const int64_t T = p.T, N = p.N;

  for_each_block(T, N, [&](int64_t n0, int64_t nb) {
    acc_t grad_v[kBlock], decay[kBlock], threshold[kBlock], v_prev[kBlock];
    acc_t grad_decay_acc[kBlock], grad_threshold_acc[kBlock], grad_threshold_scratch[kBlock];
    load_block(grad_v, p.grad_v_last, 0.0, n0, nb);
    load_block(decay, p.decay, p.decay_value, n0, nb);
    if (threshold_steps == nullptr) load_block(threshold, p.threshold, p.threshold_value, n0, nb);
    std::fill_n(grad_decay_acc, nb, acc_t(0));
    std::fill_n(grad_threshold_acc, nb, acc_t(0));
    std::fill_n(v_prev, nb, acc_t(0));
    for (int64_t t = T - 1; t >= 0; --t) {
      const acc_t* __restrict__ h_t = h + t * N + n0;
      const scalar_t* __restrict__ gs_t = grad_spikes + t * N + n0;
      scalar_t* __restrict__ gx_t = grad_x + t * N + n0;
      const acc_t* __restrict__ th_t = threshold_steps != nullptr ? threshold_steps + t * N + n0 : threshold;
      // Per-step threshold gradients go straight to their row; per-neuron ones accumulate over time.
      acc_t* __restrict__ gth_t = threshold_steps != nullptr && grad_threshold != nullptr
                                      ? grad_threshold + t * N + n0
                                      : grad_threshold_scratch;
      if (want_decay) {
        if (t > 0) {
          const acc_t* __restrict__ h_prev = h + (t - 1) * N + n0;
          const acc_t* __restrict__ th_prev =
              threshold_steps != nullptr ? threshold_steps + (t - 1) * N + n0 : threshold;
          for (int64_t j = 0; j < nb; ++j) v_prev[j] = lif_membrane<R>(h_prev[j], th_prev[j], v_reset);
        } else {
          load_block(v_prev, p.v0, 0.0, n0, nb);
        }
      }
      for (int64_t j = 0; j < nb; ++j) {
        const acc_t surrogate = surrogate_grad<S>(h_t[j] - th_t[j], alpha);
        acc_t gh, gth;
        lif_step_backward<R>(h_t[j], th_t[j], surrogate, v_reset, detach_reset,
                             static_cast<acc_t>(gs_t[j]), grad_v[j], gh, gth);
        gx_t[j] = static_cast<scalar_t>(gh);
        grad_decay_acc[j] += gh * v_prev[j];
        grad_threshold_acc[j] += gth;
        gth_t[j] = gth;
        grad_v[j] = gh * decay[j];
      }
    }
    std::copy_n(grad_v, nb, grad_v0 + n0);
    if (want_decay) std::copy_n(grad_decay_acc, nb, grad_decay + n0);
    if (grad_threshold != nullptr && threshold_steps == nullptr) {
      std::copy_n(grad_threshold_acc, nb, grad_threshold + n0);
    }
  });
}

template <typename scalar_t, Reset R>
void lif_backward_dispatch_surrogate(const LifBackwardParams& p) {
  switch (p.surrogate) {
    case Surrogate::Rectangle: return lif_backward_kernel<scalar_t, R, Surrogate::Rectangle>(p);
    case Surrogate::Triangle: return lif_backward_kernel<scalar_t, R, Surrogate::Triangle>(p);
    case Surrogate::Sigmoid: return lif_backward_kernel<scalar_t, R, Surrogate::Sigmoid>(p);
    case Surrogate::Atan: return lif_backward_kernel<scalar_t, R, Surrogate::Atan>(p);
    case Surrogate::FastSigmoid: return lif_backward_kernel<scalar_t, R, Surrogate::FastSigmoid>(p);
  }
}

}  // namespace

void lif_forward_cpu(const LifForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_forward_cpu", [&] {
    if (p.reset == Reset::Hard) {
      lif_forward_kernel<scalar_t, Reset::Hard>(p);
    } else {
      lif_forward_kernel<scalar_t, Reset::Soft>(p);
    }
  });
}

void lif_backward_cpu(const LifBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_backward_cpu", [&] {
    if (p.reset == Reset::Hard) {
      lif_backward_dispatch_surrogate<scalar_t, Reset::Hard>(p);
    } else {
      lif_backward_dispatch_surrogate<scalar_t, Reset::Soft>(p);
    }
  });
}

}  // namespace hnn_fast
