#pragma once

#include "lif.h"  // the forward step is lif_charge, the LIF charge without the spike
#include "macros.h"

namespace hnn_fast {

// Backward of one leaky-integrator step v_t = decay * v_{t-1} + x_t. grad_v enters holding the
// gradient that reached v_t from step t+1 and leaves holding the one for v_{t-1}; the return value is
// dL/dx_t (= the total dL/dv_t), which also multiplies v_{t-1} in the decay gradient.
template <typename acc_t>
HNN_HOST_DEVICE acc_t leaky_step_backward(acc_t grad_out, acc_t decay, acc_t& grad_v) {
  const acc_t total = grad_out + grad_v;
  grad_v = total * decay;
  return total;
}

}  // namespace hnn_fast
