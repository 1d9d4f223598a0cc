// CPU kernels of one step of the recurrent LIF (math in core/lif_recurrent.h and core/lif.h, host code
// and the time loop in lif_recurrent.cpp). A step is elementwise over M = B * N neurons, spread over
// threads in contiguous chunks; the matrix products between steps run in ATen's BLAS.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include "../core/lif_recurrent.h"
#include "../kernels.h"
#include "block.h"

namespace hnn_fast {
namespace {

using cpu::kBlock;
using cpu::load_block;

// A chunk below this many neurons stays on one thread: a step is a few nanoseconds per neuron, less
// than waking a thread.
constexpr int64_t kGrain = 8192;

// Calls fn(n0, nb) for blocks of at most kBlock neurons, so that per-neuron parameters given as
// scalars can be expanded into a stack block the row loops read through restrict pointers.
template <typename Fn>
void for_each_chunk(int64_t M, const Fn& fn) {
  at::parallel_for(0, M, kGrain, [&](int64_t begin, int64_t end) {
    for (int64_t n0 = begin; n0 < end; n0 += kBlock) fn(n0, std::min(kBlock, end - n0));
  });
}

// The per-neuron pointer at n0, or the block filled with the scalar value when there is none.
template <typename acc_t>
const acc_t* neuron_block(const void* buffer, double value, int64_t n0, int64_t nb, acc_t* scratch) {
  if (buffer != nullptr) return static_cast<const acc_t*>(buffer) + n0;
  load_block(scratch, nullptr, value, 0, nb);
  return scratch;
}

template <typename scalar_t, typename acc_t, Reset R>
HNN_CPU_MULTIVERSION void step_row(const scalar_t* __restrict__ x, const acc_t* __restrict__ recurrent,
                                   const acc_t* __restrict__ decay, const acc_t* __restrict__ threshold,
                                   acc_t v_reset, acc_t* __restrict__ v, scalar_t* __restrict__ spikes,
                                   acc_t* __restrict__ h, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    const acc_t hv = lif_recurrent_charge(v[j], static_cast<acc_t>(x[j]), decay[j], recurrent[j]);
    const acc_t sv = lif_fire(hv, threshold[j]);
    h[j] = hv;
    spikes[j] = static_cast<scalar_t>(sv);
    v[j] = lif_reset<R>(hv, sv, threshold[j], v_reset);
  }
}

template <typename scalar_t, Reset R>
void step_kernel(const LifRecurrentStepParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  for_each_chunk(p.M, [&](int64_t n0, int64_t nb) {
    acc_t decay[kBlock], threshold[kBlock], h_scratch[kBlock];
    auto* h = static_cast<acc_t*>(p.h);
    step_row<scalar_t, acc_t, R>(
        static_cast<const scalar_t*>(p.x) + n0, static_cast<const acc_t*>(p.recurrent) + n0,
        neuron_block(p.decay, p.decay_value, n0, nb, decay),
        neuron_block(p.threshold, p.threshold_value, n0, nb, threshold), static_cast<acc_t>(p.v_reset),
        static_cast<acc_t*>(p.v) + n0, static_cast<scalar_t*>(p.spikes) + n0,
        h != nullptr ? h + n0 : h_scratch, nb);
  });
}

// kParamGrads: whether decay or threshold gradients are wanted; without them the row skips two
// accumulations. Both accumulate over time (the host points a per-step threshold gradient at its own
// zeroed row).
template <typename scalar_t, typename acc_t, Reset R, Surrogate S, bool kParamGrads>
HNN_CPU_MULTIVERSION void backward_row(const scalar_t* __restrict__ grad_s,
                                       const acc_t* __restrict__ grad_rec, const acc_t* __restrict__ h,
                                       const acc_t* __restrict__ v_prev, const acc_t* __restrict__ decay,
                                       const acc_t* __restrict__ threshold, acc_t v_reset, acc_t alpha,
                                       acc_t reset_path, acc_t* __restrict__ grad_v,
                                       acc_t* __restrict__ grad_h, acc_t* __restrict__ grad_decay,
                                       acc_t* __restrict__ grad_threshold, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    const acc_t surrogate = surrogate_grad<S>(h[j] - threshold[j], alpha);
    acc_t gh, gth;
    lif_step_backward<R>(h[j], threshold[j], surrogate, v_reset, reset_path,
                         static_cast<acc_t>(grad_s[j]) + grad_rec[j], grad_v[j], gh, gth);
    grad_h[j] = gh;
    if constexpr (kParamGrads) {
      grad_decay[j] += gh * v_prev[j];
      grad_threshold[j] += gth;
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
void backward_kernel(const LifRecurrentBackwardStepParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const bool param_grads = p.grad_decay != nullptr || p.grad_threshold != nullptr;
  for_each_chunk(p.M, [&](int64_t n0, int64_t nb) {
    acc_t decay[kBlock], threshold[kBlock], zeros[kBlock], v_prev[kBlock];
    acc_t scratch_decay[kBlock], scratch_threshold[kBlock];
    const acc_t v_reset = static_cast<acc_t>(p.v_reset);
    // v_{t-1} feeds only the decay gradient; without one it stays zero and costs nothing.
    const acc_t* v_prev_row = neuron_block(p.grad_decay != nullptr ? p.v0 : nullptr, 0.0, n0, nb, v_prev);
    if (p.grad_decay != nullptr && p.h_prev != nullptr) {
      membrane_row<acc_t, R>(static_cast<const acc_t*>(p.h_prev) + n0,
                             neuron_block(p.threshold_prev, p.threshold_value, n0, nb, threshold), v_reset,
                             v_prev, nb);
      v_prev_row = v_prev;
    }
    const auto at_n0 = [n0, nb](void* buffer, acc_t* scratch) {
      if (buffer != nullptr) return static_cast<acc_t*>(buffer) + n0;
      if (scratch != nullptr) std::fill_n(scratch, nb, acc_t(0));  // a gradient nobody asked for
      return scratch;
    };
    const auto row =
        param_grads ? backward_row<scalar_t, acc_t, R, S, true> : backward_row<scalar_t, acc_t, R, S, false>;
    row(static_cast<const scalar_t*>(p.grad_spikes) + n0, neuron_block(p.grad_recurrent, 0.0, n0, nb, zeros),
        static_cast<const acc_t*>(p.h) + n0, v_prev_row, neuron_block(p.decay, p.decay_value, n0, nb, decay),
        neuron_block(p.threshold, p.threshold_value, n0, nb, threshold), v_reset, static_cast<acc_t>(p.alpha),
        p.detach_reset ? acc_t(0) : acc_t(1), at_n0(p.grad_v, nullptr), at_n0(p.grad_h, nullptr),
        at_n0(p.grad_decay, scratch_decay), at_n0(p.grad_threshold, scratch_threshold), nb);
  });
}

}  // namespace

void lif_recurrent_step_cpu(const LifRecurrentStepParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_recurrent_step_cpu", [&] {
    if (p.reset == Reset::Hard) {
      step_kernel<scalar_t, Reset::Hard>(p);
    } else {
      step_kernel<scalar_t, Reset::Soft>(p);
    }
  });
}

void lif_recurrent_backward_step_cpu(const LifRecurrentBackwardStepParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_recurrent_backward_step_cpu", [&] {
    if (p.reset == Reset::Hard) {
      static_surrogate(p.surrogate,
                       [&](auto s) { backward_kernel<scalar_t, Reset::Hard, decltype(s)::value>(p); });
    } else {
      static_surrogate(p.surrogate,
                       [&](auto s) { backward_kernel<scalar_t, Reset::Soft, decltype(s)::value>(p); });
    }
  });
}

}  // namespace hnn_fast
