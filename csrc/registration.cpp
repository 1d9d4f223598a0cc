// Every op schema of the hnn_fast library, in one place. Implementations: <op>.cpp (host code) over
// cpu/<op>_cpu.cpp and cuda/<op>_cuda.cu (kernels). Python wrappers, fake tensors and autograd:
// hnn_fast/ops/<op>.py. The names each str argument accepts: core/options.h. csrc/README.md maps
// every piece of an op.

#include <torch/library.h>

TORCH_LIBRARY(hnn_fast, m) {
  // Multi-step LIF. A tensor decay/threshold overrides the float; threshold may be per step ([T, ...]).
  // h (the charge, in the compute dtype) is written only when save_h, for the backward or for a caller
  // that reads the membrane (the backward then takes the gradient reaching h). detach_reset,
  // surrogate and alpha only shape the backward; the forward takes them (and checks them) because an
  // autograd formula sees nothing but the forward's arguments.
  m.def(
      "lif(Tensor x, Tensor? v0, Tensor? decay, float decay_value, Tensor? threshold, "
      "float threshold_value, str reset, float v_reset, bool detach_reset, str surrogate, float alpha, "
      "bool save_h) -> (Tensor spikes, Tensor v_last, Tensor h)");
  // grad_h: the gradient of a loss on the returned h (absent when nothing outside read it).
  // output_mask: which of grad_v0, grad_decay, grad_threshold to compute (empty tensors otherwise).
  m.def(
      "lif_backward(Tensor grad_spikes, Tensor grad_v_last, Tensor? grad_h, Tensor h, Tensor? v0, "
      "Tensor? decay, float decay_value, Tensor? threshold, float threshold_value, str reset, "
      "float v_reset, bool detach_reset, str surrogate, float alpha, bool[3] output_mask) "
      "-> (Tensor grad_x, Tensor grad_v0, Tensor grad_decay, Tensor grad_threshold)");

  // Leaky integrator v_t = decay * v_{t-1} + x_t, returning every v_t.
  m.def("leaky_integrate(Tensor x, Tensor? v0, Tensor? decay, float decay_value) -> Tensor");
  m.def(
      "leaky_integrate_backward(Tensor grad_v_seq, Tensor v_seq, Tensor? v0, Tensor? decay, "
      "float decay_value, bool[2] output_mask) -> (Tensor grad_x, Tensor grad_v0, Tensor grad_decay)");

  // Hybrid-unit windowing and filtering (S2A): y_k = sum_j w_j x_{k*stride+j}, [T, *shape] -> [K, *shape].
  // kernel is "sum", "mean", "exp" (w_j = decay^(window-1-j)) or "weights" (the weights tensor,
  // [window] or [C, window] with C = shape[0]). drop_last=False zero-pads the last partial window.
  m.def(
      "hu_window(Tensor x, int window, int stride, str kernel, float decay, Tensor? weights, "
      "bool drop_last) -> Tensor");
  // T is the forward's sequence length; x is needed only for the weight gradient.
  // output_mask: which of grad_x, grad_weights to compute (empty tensors otherwise).
  m.def(
      "hu_window_backward(Tensor grad_y, Tensor? x, SymInt T, int window, int stride, str kernel, "
      "float decay, Tensor? weights, bool[2] output_mask) -> (Tensor grad_x, Tensor grad_weights)");

  // Hybrid-unit encoding (A2S): a [*shape] -> spikes [T, *shape], p = clamp(F(a), 0, 1), mode "rate",
  // "poisson" (s_t = uniform_t < p; uniform [T, *shape] is required) or "latency".
  m.def("hu_encode(Tensor a, SymInt T, str mode, str nonlinearity, Tensor? uniform) -> Tensor");
  m.def("hu_encode_backward(Tensor grad_spikes, Tensor a, str mode, str nonlinearity) -> Tensor");

  // Recurrent LIF over x [T, B, N]: lif with the recurrent input s_{t-1} @ weight added to the charge;
  // weight is [N, N] (shared) or [B, N, N] (one per sample), s0 the spikes before step 1 (zeros).
  m.def(
      "lif_recurrent(Tensor x, Tensor weight, Tensor? v0, Tensor? s0, Tensor? decay, float decay_value, "
      "Tensor? threshold, float threshold_value, str reset, float v_reset, bool detach_reset, str surrogate, "
      "float alpha, bool save_h) -> (Tensor spikes, Tensor v_last, Tensor h)");
  // output_mask: which of grad_weight, grad_v0, grad_s0, grad_decay, grad_threshold to compute.
  m.def(
      "lif_recurrent_backward(Tensor grad_spikes, Tensor grad_v_last, Tensor h, Tensor spikes, "
      "Tensor weight, Tensor? v0, Tensor? s0, Tensor? decay, float decay_value, Tensor? threshold, "
      "float threshold_value, "
      "str reset, float v_reset, bool detach_reset, str surrogate, float alpha, bool[5] output_mask) "
      "-> (Tensor grad_x, Tensor grad_weight, Tensor grad_v0, Tensor grad_s0, Tensor grad_decay, "
      "Tensor grad_threshold)");

  // Internal, for tests only (grid/harness.cpp): each CUDA kernel's per-thread body run on the CPU over
  // its launch grid (blocks 0: the launcher's; more: a smaller grid, for the grid-stride loop), beside
  // the CPU kernel on the same buffers, as the kernels read them. Returns both kernels' outputs.
  m.def(
      "_grid_lif(Tensor x, Tensor? v0, Tensor? decay, float decay_value, Tensor? threshold, "
      "float threshold_value, str reset, float v_reset, bool save_h, int blocks) -> (Tensor[], Tensor[])");
  m.def(
      "_grid_lif_backward(Tensor grad_spikes, Tensor? grad_v_last, Tensor? grad_h, Tensor h, Tensor? v0, "
      "Tensor? decay, float decay_value, Tensor? threshold, float threshold_value, str reset, float v_reset, "
      "bool detach_reset, str surrogate, float alpha, bool[2] output_mask, int blocks) -> (Tensor[], "
      "Tensor[])");
  m.def(
      "_grid_leaky_integrate(Tensor x, Tensor? v0, Tensor? decay, float decay_value, int blocks) "
      "-> (Tensor[], Tensor[])");
  m.def(
      "_grid_leaky_integrate_backward(Tensor grad_v_seq, Tensor v_seq, Tensor? v0, Tensor? decay, "
      "float decay_value, bool want_decay, int blocks) -> (Tensor[], Tensor[])");
  m.def(
      "_grid_hu_window(Tensor x, int K, int window, int stride, str kernel, float decay, Tensor? weights, "
      "int blocks) -> (Tensor[], Tensor[])");
  m.def(
      "_grid_hu_window_backward(Tensor grad_y, Tensor? x, int T, int window, int stride, str kernel, "
      "float decay, Tensor? weights, bool want_x, int blocks) -> (Tensor[], Tensor[])");
  m.def(
      "_grid_hu_encode(Tensor a, int T, str mode, str nonlinearity, Tensor? uniform, int blocks) "
      "-> (Tensor[], Tensor[])");
  m.def(
      "_grid_hu_encode_backward(Tensor grad_spikes, Tensor a, str mode, str nonlinearity, int blocks) "
      "-> (Tensor[], Tensor[])");
  m.def(
      "_grid_lif_recurrent_step(Tensor x, Tensor recurrent, Tensor v, Tensor? decay, float decay_value, "
      "Tensor? threshold, float threshold_value, str reset, float v_reset, bool save_h, int blocks) "
      "-> (Tensor[], Tensor[])");
  m.def(
      "_grid_lif_recurrent_backward_step(Tensor grad_spikes, Tensor? grad_recurrent, Tensor h, "
      "Tensor? h_prev, Tensor? threshold_prev, Tensor? v0, Tensor grad_v, Tensor? grad_decay, "
      "Tensor? grad_threshold, Tensor? decay, float decay_value, Tensor? threshold, float threshold_value, "
      "str reset, float v_reset, bool detach_reset, str surrogate, float alpha, int blocks) "
      "-> (Tensor[], Tensor[])");
  // The launcher's block count for n neurons, and the offsets t * stride_t + n of the neurons one thread
  // of a grid visits: the 64-bit index arithmetic, checked beyond 2^31 without such a buffer.
  m.def("_grid_blocks(int n) -> int");
  m.def("_grid_offsets(int count, int blocks, int block, int thread, int t, int stride_t) -> Tensor");
}
