#pragma once

#include <cstdint>

#include "macros.h"
#include "surrogate.h"

namespace hnn_fast {

// One step of the multi-step LIF neuron (docs/design.md; hnn_fast.reference.lif):
//   h_t = decay * v_{t-1} + x_t
//   s_t = H(h_t - theta_t)
//   v_t = h_t * (1 - s_t) + v_reset * s_t      (hard reset)
//   v_t = h_t - theta_t * s_t                  (soft reset)
enum class Reset : int64_t { Hard = 0, Soft = 1 };

template <typename acc_t>
HNN_HOST_DEVICE acc_t lif_charge(acc_t v_prev, acc_t x, acc_t decay) {
  return decay * v_prev + x;
}

template <typename acc_t>
HNN_HOST_DEVICE acc_t lif_fire(acc_t h, acc_t threshold) {
  return static_cast<acc_t>(h >= threshold);
}

template <Reset R, typename acc_t>
HNN_HOST_DEVICE acc_t lif_reset(acc_t h, acc_t s, acc_t threshold, acc_t v_reset) {
  if constexpr (R == Reset::Hard) {
    return h * (acc_t(1) - s) + v_reset * s;
  } else {
    return h - threshold * s;
  }
}

// The membrane after step t, recomputed from the saved charge h_t: the backward needs v_{t-1} for the
// decay gradient and keeps only h, so that the forward writes one state tensor instead of two.
template <Reset R, typename acc_t>
HNN_HOST_DEVICE acc_t lif_membrane(acc_t h, acc_t threshold, acc_t v_reset) {
  return lif_reset<R>(h, lif_fire(h, threshold), threshold, v_reset);
}

// Backward of one step. Inputs: the saved charge h_t, theta_t, the surrogate g(h_t - theta_t), the
// gradient reaching s_t from outside (grad_s), the gradient reaching v_t from step t+1 (grad_v) and
// the gradient reaching h_t from outside (grad_h_out: a loss on the returned membrane sequence).
// Outputs: dL/dh_t (which is dL/dx_t, and times decay is dL/dv_{t-1}) and dL/dtheta_t.
// reset_path is 1, or 0 to drop the path s_t -> v_t (the reset term: detach_reset, as in
// SpikingJelly). A multiplier rather than a bool keeps the CPU loops branch-free, so they vectorise.
template <Reset R, typename acc_t>
HNN_HOST_DEVICE void lif_step_backward(acc_t h, acc_t threshold, acc_t surrogate, acc_t v_reset,
                                       acc_t reset_path, acc_t grad_s, acc_t grad_v, acc_t grad_h_out,
                                       acc_t& grad_h, acc_t& grad_threshold) {
  const acc_t s = lif_fire(h, threshold);
  acc_t dv_dh, dv_ds, dv_dthreshold;
  if constexpr (R == Reset::Hard) {
    dv_dh = acc_t(1) - s;
    dv_ds = v_reset - h;
    dv_dthreshold = acc_t(0);
  } else {
    dv_dh = acc_t(1);
    dv_ds = -threshold;
    dv_dthreshold = -s;
  }
  const acc_t grad_spike = grad_s + reset_path * grad_v * dv_ds;
  grad_h = grad_v * dv_dh + grad_spike * surrogate + grad_h_out;
  grad_threshold = grad_v * dv_dthreshold - grad_spike * surrogate;
}

// The step backward when nothing outside reads h_t (the recurrent LIF returns no membrane).
template <Reset R, typename acc_t>
HNN_HOST_DEVICE void lif_step_backward(acc_t h, acc_t threshold, acc_t surrogate, acc_t v_reset,
                                       acc_t reset_path, acc_t grad_s, acc_t grad_v, acc_t& grad_h,
                                       acc_t& grad_threshold) {
  lif_step_backward<R>(h, threshold, surrogate, v_reset, reset_path, grad_s, grad_v, acc_t(0), grad_h,
                       grad_threshold);
}

}  // namespace hnn_fast
