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

// One step over one block of neurons. Everything arrives by value or through restrict pointers: a
// scalar the loop reads through a reference (a lambda capture) may alias the stores, which keeps GCC
// from vectorising and turns the spike into a mispredicted branch.
template <typename scalar_t, typename acc_t, Reset R>
HNN_CPU_MULTIVERSION void lif_forward_row(const scalar_t* __restrict__ x, const acc_t* __restrict__ decay,
                                          const acc_t* __restrict__ threshold, acc_t v_reset,
                                          acc_t* __restrict__ v, scalar_t* __restrict__ spikes,
                                          acc_t* __restrict__ h, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    const acc_t hv = lif_charge(v[j], static_cast<acc_t>(x[j]), decay[j]);
    const acc_t sv = lif_fire(hv, threshold[j]);
    h[j] = hv;
    spikes[j] = static_cast<scalar_t>(sv);
    v[j] = lif_reset<R>(hv, sv, threshold[j], v_reset);
  }
}

template <typename scalar_t, Reset R>
void lif_forward_kernel(const LifForwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* spikes = static_cast<scalar_t*>(p.spikes);
  auto* v_last = static_cast<scalar_t*>(p.v_last);
  auto* h = static_cast<acc_t*>(p.h);
  const auto* threshold_steps =
      p.neuron.threshold_per_step ? static_cast<const acc_t*>(p.neuron.threshold) : nullptr;
  const acc_t v_reset = static_cast<acc_t>(p.neuron.v_reset);
  const int64_t T = p.T, N = p.N, x_stride_t = p.x_stride_t;

  for_each_block(T, N, [=, &p](int64_t n0, int64_t nb) {
    acc_t v[kBlock], decay[kBlock], threshold[kBlock], h_scratch[kBlock];
    load_block(v, p.neuron.v0, 0.0, n0, nb);
    load_block(decay, p.neuron.decay, p.neuron.decay_value, n0, nb);
    if (threshold_steps == nullptr)
      load_block(threshold, p.neuron.threshold, p.neuron.threshold_value, n0, nb);
    for (int64_t t = 0; t < T; ++t) {
      lif_forward_row<scalar_t, acc_t, R>(
          x + t * x_stride_t + n0, decay,
          threshold_steps != nullptr ? threshold_steps + t * N + n0 : threshold, v_reset, v,
          spikes + t * N + n0, h != nullptr ? h + t * N + n0 : h_scratch, nb);
    }
    for (int64_t j = 0; j < nb; ++j) v_last[n0 + j] = static_cast<scalar_t>(v[j]);
  });
}

// One reverse step over one block of neurons (see lif_forward_row for why it is a function of its own).
// kParamGrads: whether decay or threshold gradients are wanted; without them the row skips three
// accumulations, a third of its work.
template <typename scalar_t, typename acc_t, Reset R, Surrogate S, bool kParamGrads>
HNN_CPU_MULTIVERSION void lif_backward_row(
    const acc_t* __restrict__ h, const acc_t* __restrict__ threshold, const scalar_t* __restrict__ grad_s,
    const acc_t* __restrict__ grad_h_out, const acc_t* __restrict__ decay, const acc_t* __restrict__ v_prev,
    acc_t v_reset, acc_t alpha, acc_t reset_path, acc_t* __restrict__ grad_v, acc_t* __restrict__ grad_decay,
    acc_t* __restrict__ grad_threshold_sum, acc_t* __restrict__ grad_threshold, scalar_t* __restrict__ grad_x,
    int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    const acc_t surrogate = surrogate_grad<S>(h[j] - threshold[j], alpha);
    acc_t gh, gth;
    lif_step_backward<R>(h[j], threshold[j], surrogate, v_reset, reset_path, static_cast<acc_t>(grad_s[j]),
                         grad_v[j], grad_h_out[j], gh, gth);
    grad_x[j] = static_cast<scalar_t>(gh);
    if constexpr (kParamGrads) {
      grad_decay[j] += gh * v_prev[j];
      grad_threshold_sum[j] += gth;
      grad_threshold[j] = gth;
    }
    grad_v[j] = gh * decay[j];
  }
}

template <typename acc_t, Reset R>
HNN_CPU_MULTIVERSION void membrane_row(const acc_t* __restrict__ h, const acc_t* __restrict__ threshold,
                                       acc_t v_reset, acc_t* __restrict__ v, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) v[j] = lif_membrane<R>(h[j], threshold[j], v_reset);
}

template <typename scalar_t, Reset R, Surrogate S>
void lif_backward_kernel(const LifBackwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
  const auto* h = static_cast<const acc_t*>(p.h);
  const auto* grad_h = static_cast<const acc_t*>(p.grad_h);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  auto* grad_v0 = static_cast<acc_t*>(p.grad_v0);
  auto* grad_decay = static_cast<acc_t*>(p.grad_decay);
  auto* grad_threshold = static_cast<acc_t*>(p.grad_threshold);
  const auto* threshold_steps =
      p.neuron.threshold_per_step ? static_cast<const acc_t*>(p.neuron.threshold) : nullptr;
  const acc_t v_reset = static_cast<acc_t>(p.neuron.v_reset);
  const acc_t alpha = static_cast<acc_t>(p.alpha);
  const acc_t reset_path = p.detach_reset ? acc_t(0) : acc_t(1);
  const bool param_grads = grad_decay != nullptr || grad_threshold != nullptr;
  const int64_t T = p.T, N = p.N;

  for_each_block(T, N, [=, &p](int64_t n0, int64_t nb) {
    acc_t grad_v[kBlock], decay[kBlock], threshold[kBlock], v_prev[kBlock];
    acc_t grad_decay_acc[kBlock], grad_threshold_acc[kBlock], grad_threshold_scratch[kBlock];
    // Without a gradient on h the rows read zeros, which keeps one loop body for both cases.
    acc_t no_grad_h[kBlock];
    if (grad_h == nullptr) std::fill_n(no_grad_h, nb, acc_t(0));
    load_block(grad_v, p.grad_v_last, 0.0, n0, nb);
    load_block(decay, p.neuron.decay, p.neuron.decay_value, n0, nb);
    if (threshold_steps == nullptr)
      load_block(threshold, p.neuron.threshold, p.neuron.threshold_value, n0, nb);
    std::fill_n(grad_decay_acc, nb, acc_t(0));
    std::fill_n(grad_threshold_acc, nb, acc_t(0));
    std::fill_n(v_prev, nb, acc_t(0));
    const auto threshold_at = [&](int64_t t) {
      return threshold_steps != nullptr ? threshold_steps + t * N + n0 : static_cast<const acc_t*>(threshold);
    };
    for (int64_t t = T - 1; t >= 0; --t) {
      // v_{t-1} feeds only the decay gradient; without one, v_prev stays zero and costs nothing.
      if (grad_decay != nullptr) {
        if (t > 0) {
          membrane_row<acc_t, R>(h + (t - 1) * N + n0, threshold_at(t - 1), v_reset, v_prev, nb);
        } else {
          load_block(v_prev, p.neuron.v0, 0.0, n0, nb);
        }
      }
      // Per-step threshold gradients go straight to their row; per-neuron ones accumulate over time.
      acc_t* gth_row = threshold_steps != nullptr && grad_threshold != nullptr ? grad_threshold + t * N + n0
                                                                               : grad_threshold_scratch;
      const auto row = param_grads ? lif_backward_row<scalar_t, acc_t, R, S, true>
                                   : lif_backward_row<scalar_t, acc_t, R, S, false>;
      row(h + t * N + n0, threshold_at(t), grad_spikes + t * N + n0,
          grad_h != nullptr ? grad_h + t * N + n0 : no_grad_h, decay, v_prev, v_reset, alpha, reset_path,
          grad_v, grad_decay_acc, grad_threshold_acc, gth_row, grad_x + t * N + n0, nb);
    }
    std::copy_n(grad_v, nb, grad_v0 + n0);
    if (grad_decay != nullptr) std::copy_n(grad_decay_acc, nb, grad_decay + n0);
    if (grad_threshold != nullptr && threshold_steps == nullptr) {
      std::copy_n(grad_threshold_acc, nb, grad_threshold + n0);
    }
  });
}

}  // namespace

void lif_forward_cpu(const LifForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_forward_cpu", [&] {
    if (p.neuron.reset == Reset::Hard) {
      lif_forward_kernel<scalar_t, Reset::Hard>(p);
    } else {
      lif_forward_kernel<scalar_t, Reset::Soft>(p);
    }
  });
}

void lif_backward_cpu(const LifBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_backward_cpu", [&] {
    if (p.neuron.reset == Reset::Hard) {
      static_surrogate(p.surrogate,
                       [&](auto s) { lif_backward_kernel<scalar_t, Reset::Hard, decltype(s)::value>(p); });
    } else {
      static_surrogate(p.surrogate,
                       [&](auto s) { lif_backward_kernel<scalar_t, Reset::Soft, decltype(s)::value>(p); });
    }
  });
}

}  // namespace hnn_fast
