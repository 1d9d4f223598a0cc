// Host code of the `lif` and `lif_backward` ops: argument checks, output allocation, and the choice
// of the CPU or CUDA kernel. Schemas are in registration.cpp, kernels in cpu/ and cuda/.

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "arguments.h"
#include "kernels.h"

namespace hnn_fast {
namespace {

LifNeuron neuron_params(const at::Tensor& v0, const at::Tensor& decay, double decay_value,
                        const ThresholdBuffer& th, double threshold_value, c10::string_view reset,
                        double v_reset) {
  LifNeuron n;
  n.v0 = data_or_null(v0);
  n.decay = data_or_null(decay);
  n.decay_value = decay_value;
  n.threshold = data_or_null(th.buffer);
  n.threshold_per_step = th.per_step;
  n.threshold_value = threshold_value;
  n.reset = parse_reset(reset);
  n.v_reset = v_reset;
  return n;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lif(const at::Tensor& x, const std::optional<at::Tensor>& v0,
                                                   const std::optional<at::Tensor>& decay, double decay_value,
                                                   const std::optional<at::Tensor>& threshold,
                                                   double threshold_value, c10::string_view reset,
                                                   double v_reset, bool detach_reset,
                                                   c10::string_view surrogate, double alpha, bool save_h) {
  check_sequence(x, "x");
  parse_surrogate(surrogate);
  check_alpha(alpha);
  const c10::DeviceGuard guard(x.device());
  if (!decay.has_value()) check_decay_value(decay_value);
  const at::Tensor x2 = as_time_major(x);
  const at::Tensor v0_buf = initial_state_buffer(v0, x);
  const at::Tensor decay_buf = per_neuron_buffer(decay, "decay", x);
  const ThresholdBuffer th = threshold_buffer(threshold, x);

  const auto acc = compute_dtype(x.scalar_type());
  at::Tensor spikes = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  at::Tensor v_last = at::empty(x.sizes().slice(1), x.options());
  at::Tensor h =
      save_h ? at::empty(x.sizes(), x.options().dtype(acc)) : at::empty({0}, x.options().dtype(acc));

  LifForwardParams p;
  p.T = x.size(0);
  p.N = neuron_count(x);
  p.x = x2.const_data_ptr();
  p.x_stride_t = x2.stride(0);
  p.neuron = neuron_params(v0_buf, decay_buf, decay_value, th, threshold_value, reset, v_reset);
  p.spikes = spikes.mutable_data_ptr();
  p.v_last = v_last.mutable_data_ptr();
  p.h = save_h ? h.mutable_data_ptr() : nullptr;
  if (p.N == 0) return {spikes, v_last, h};
#ifdef HNN_FAST_WITH_CUDA
  if (x.is_cuda()) {
    lif_forward_cuda(p, x.scalar_type());
    return {spikes, v_last, h};
  }
#endif
  lif_forward_cpu(p, x.scalar_type());
  return {spikes, v_last, h};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> lif_backward(
    const at::Tensor& grad_spikes, const at::Tensor& grad_v_last, const std::optional<at::Tensor>& grad_h,
    const at::Tensor& h, const std::optional<at::Tensor>& v0, const std::optional<at::Tensor>& decay,
    double decay_value, const std::optional<at::Tensor>& threshold, double threshold_value,
    c10::string_view reset, double v_reset, bool detach_reset, c10::string_view surrogate, double alpha,
    std::array<bool, 3> output_mask) {
  check_sequence(grad_spikes, "grad_spikes");
  TORCH_CHECK_VALUE(h.sizes() == grad_spikes.sizes(), "h must have the shape of grad_spikes ",
                    grad_spikes.sizes(), ", got ", h.sizes(), " (was the forward run with save_h=False?)");
  check_alpha(alpha);
  const c10::DeviceGuard guard(grad_spikes.device());
  const auto acc = compute_dtype(grad_spikes.scalar_type());
  TORCH_CHECK_TYPE(h.scalar_type() == acc, "h must be in the compute dtype ", acc, ", got ", h.scalar_type());
  const at::Tensor& x = grad_spikes;  // same shape, dtype and device as the forward's x
  const at::Tensor gs = grad_spikes.contiguous();
  check_same_device(x, grad_v_last, "grad_v_last");
  const at::Tensor gv_last = grad_v_last.to(acc).expand(x.sizes().slice(1)).contiguous();
  const at::Tensor h_c = h.contiguous();
  if (grad_h.has_value()) {
    check_same_device(x, *grad_h, "grad_h");
    TORCH_CHECK_VALUE(grad_h->sizes() == grad_spikes.sizes(), "grad_h must have the shape of grad_spikes ",
                      grad_spikes.sizes(), ", got ", grad_h->sizes());
  }
  const at::Tensor gh = grad_h.has_value() ? grad_h->to(acc).contiguous() : at::Tensor();
  const at::Tensor v0_buf = initial_state_buffer(v0, x);
  const at::Tensor decay_buf = per_neuron_buffer(decay, "decay", x);
  const ThresholdBuffer th = threshold_buffer(threshold, x);
  const auto [need_v0, need_decay, need_threshold] = output_mask;
  TORCH_CHECK_VALUE(!need_v0 || v0_buf.defined(), "a v0 gradient needs a v0 tensor");
  TORCH_CHECK_VALUE(!need_decay || decay_buf.defined(), "a decay gradient needs a decay tensor");
  TORCH_CHECK_VALUE(!need_threshold || th.buffer.defined(), "a threshold gradient needs a threshold tensor");

  const int64_t T = x.size(0), N = neuron_count(x);
  at::Tensor grad_x = at::empty(x.sizes(), gs.options());
  at::Tensor grad_v0 = at::empty({N}, x.options().dtype(acc));
  at::Tensor grad_decay = need_decay ? at::empty({N}, x.options().dtype(acc)) : at::Tensor();
  at::Tensor grad_threshold =
      need_threshold ? at::empty(th.buffer.sizes(), x.options().dtype(acc)) : at::Tensor();

  LifBackwardParams p;
  p.T = T;
  p.N = N;
  p.grad_spikes = gs.const_data_ptr();
  p.grad_v_last = gv_last.const_data_ptr();
  p.h = h_c.const_data_ptr();
  p.grad_h = data_or_null(gh);
  p.neuron = neuron_params(v0_buf, decay_buf, decay_value, th, threshold_value, reset, v_reset);
  p.detach_reset = detach_reset;
  p.surrogate = parse_surrogate(surrogate);
  p.alpha = alpha;
  p.grad_x = grad_x.mutable_data_ptr();
  p.grad_v0 = grad_v0.mutable_data_ptr();
  p.grad_decay = mutable_data_or_null(grad_decay);
  p.grad_threshold = mutable_data_or_null(grad_threshold);
  if (N > 0) {
#ifdef HNN_FAST_WITH_CUDA
    if (x.is_cuda()) {
      lif_backward_cuda(p, x.scalar_type());
    } else
#endif
    {
      lif_backward_cpu(p, x.scalar_type());
    }
  } else {
    grad_v0.zero_();
    if (need_decay) grad_decay.zero_();
    if (need_threshold) grad_threshold.zero_();
  }

  const auto neuron_shape = x.sizes().slice(1);
  return {grad_x, need_v0 ? grad_v0.view(neuron_shape).to(v0->scalar_type()) : unwanted_grad(x),
          need_decay ? reduce_to_param(grad_decay.view(neuron_shape), *decay) : unwanted_grad(x),
          need_threshold
              ? reduce_to_param(grad_threshold.view(th.per_step ? x.sizes() : neuron_shape), *threshold)
              : unwanted_grad(x)};
}

}  // namespace

TORCH_LIBRARY_IMPL(hnn_fast, CPU, m) {
  m.impl("lif", &lif);
  m.impl("lif_backward", &lif_backward);
}

#ifdef HNN_FAST_WITH_CUDA
TORCH_LIBRARY_IMPL(hnn_fast, CUDA, m) {
  m.impl("lif", &lif);
  m.impl("lif_backward", &lif_backward);
}
#endif

}  // namespace hnn_fast
