#pragma once

#include "lif.h"

namespace hnn_fast {

// The recurrent LIF (hnn_fast.reference.lif_recurrent) is lif with one more input current: the
// recurrent input r_t = s_{t-1} @ W, a matrix product the host code computes through ATen before each
// step. It is added last, in the order the reference adds it, so that the charge rounds exactly as the
// reference's and the spikes match it bit for bit:
//   h_t = (decay * v_{t-1} + x_t) + r_t
// The rest of the step (fire, reset, the backward) is lif's (core/lif.h). In the backward, dL/ds_t has
// two parts: from outside, and through r_{t+1} (dL/dh_{t+1} @ W^T, again a matrix product).
template <typename acc_t>
HNN_HOST_DEVICE acc_t lif_recurrent_charge(acc_t v_prev, acc_t x, acc_t decay, acc_t recurrent) {
  return lif_charge(v_prev, x, decay) + recurrent;
}

}  // namespace hnn_fast
