// Every op schema of the hnn_fast library, in one place. Implementations: lif.cpp and
// leaky_integrate.cpp (host code) over cpu/ and cuda/ (kernels). Python wrappers, fake tensors and
// autograd: hnn_fast/ops.py.

#include <torch/library.h>

TORCH_LIBRARY(hnn_fast, m) {
  // Multi-step LIF. A tensor decay/threshold overrides the float; threshold may be per step ([T, ...]).
  // h (the charge, in the compute dtype) is written only when save_h, for the backward. detach_reset,
  // surrogate and alpha only shape the backward; the forward takes them (and checks them) because an
  // autograd formula sees nothing but the forward's arguments.
  m.def(
      "lif(Tensor x, Tensor? v0, Tensor? decay, float decay_value, Tensor? threshold, "
      "float threshold_value, str reset, float v_reset, bool detach_reset, str surrogate, float alpha, "
      "bool save_h) -> (Tensor spikes, Tensor v_last, Tensor h)");
  // output_mask: which of grad_v0, grad_decay, grad_threshold to compute (empty tensors otherwise).
  m.def(
      "lif_backward(Tensor grad_spikes, Tensor grad_v_last, Tensor h, Tensor? v0, Tensor? decay, "
      "float decay_value, Tensor? threshold, float threshold_value, str reset, float v_reset, "
      "bool detach_reset, str surrogate, float alpha, bool[3] output_mask) "
      "-> (Tensor grad_x, Tensor grad_v0, Tensor grad_decay, Tensor grad_threshold)");

  // Leaky integrator v_t = decay * v_{t-1} + x_t, returning every v_t.
  m.def("leaky_integrate(Tensor x, Tensor? v0, Tensor? decay, float decay_value) -> Tensor");
  m.def(
      "leaky_integrate_backward(Tensor grad_v_seq, Tensor v_seq, Tensor? v0, Tensor? decay, "
      "float decay_value, bool[2] output_mask) -> (Tensor grad_x, Tensor grad_v0, Tensor grad_decay)");
}
