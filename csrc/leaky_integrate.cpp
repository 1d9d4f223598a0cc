// Host code of the `leaky_integrate` and `leaky_integrate_backward` ops (v_t = decay * v_{t-1} + x_t).
// Schemas are in registration.cpp, kernels in cpu/ and cuda/, math in core/leaky.h.

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "arguments.h"
#include "kernels.h"

namespace hnn_fast {
namespace {

at::Tensor leaky_integrate(const at::Tensor& x, const std::optional<at::Tensor>& v0,
                           const std::optional<at::Tensor>& decay, double decay_value) {
  check_sequence(x, "x");
  const c10::DeviceGuard guard(x.device());
  if (!decay.has_value()) check_decay_value(decay_value);
  const at::Tensor x2 = as_time_major(x);
  const at::Tensor v0_buf = initial_state_buffer(v0, x);
  const at::Tensor decay_buf = per_neuron_buffer(decay, "decay", x);
  at::Tensor v_seq = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));

  LeakyForwardParams p;
  p.T = x.size(0);
  p.N = neuron_count(x);
  p.x = x2.const_data_ptr();
  p.x_stride_t = x2.stride(0);
  p.v0 = data_or_null(v0_buf);
  p.decay = data_or_null(decay_buf);
  p.decay_value = decay_value;
  p.v_seq = v_seq.mutable_data_ptr();
  if (p.N == 0 || p.T == 0) return v_seq;
#ifdef HNN_FAST_WITH_CUDA
  if (x.is_cuda()) {
    leaky_forward_cuda(p, x.scalar_type());
    return v_seq;
  }
#endif
  leaky_forward_cpu(p, x.scalar_type());
  return v_seq;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> leaky_integrate_backward(
    const at::Tensor& grad_v_seq, const at::Tensor& v_seq, const std::optional<at::Tensor>& v0,
    const std::optional<at::Tensor>& decay, double decay_value, std::array<bool, 2> output_mask) {
  check_sequence(grad_v_seq, "grad_v_seq");
  TORCH_CHECK_VALUE(v_seq.sizes() == grad_v_seq.sizes(), "v_seq must have the shape of grad_v_seq ",
                    grad_v_seq.sizes(), ", got ", v_seq.sizes());
  const c10::DeviceGuard guard(grad_v_seq.device());
  const at::Tensor& x = grad_v_seq;
  const auto acc = compute_dtype(x.scalar_type());
  const at::Tensor g = grad_v_seq.contiguous();
  const at::Tensor v = v_seq.to(x.scalar_type()).contiguous();
  const at::Tensor v0_buf = initial_state_buffer(v0, x);
  const at::Tensor decay_buf = per_neuron_buffer(decay, "decay", x);
  const auto [need_v0, need_decay] = output_mask;
  TORCH_CHECK_VALUE(!need_v0 || v0_buf.defined(), "a v0 gradient needs a v0 tensor");
  TORCH_CHECK_VALUE(!need_decay || decay_buf.defined(), "a decay gradient needs a decay tensor");

  const int64_t T = x.size(0), N = neuron_count(x);
  at::Tensor grad_x = at::empty(x.sizes(), g.options());
  at::Tensor grad_v0 = at::zeros({N}, x.options().dtype(acc));
  at::Tensor grad_decay = need_decay ? at::zeros({N}, x.options().dtype(acc)) : at::Tensor();

  LeakyBackwardParams p;
  p.T = T;
  p.N = N;
  p.grad_v_seq = g.const_data_ptr();
  p.v_seq = v.const_data_ptr();
  p.v0 = data_or_null(v0_buf);
  p.decay = data_or_null(decay_buf);
  p.decay_value = decay_value;
  p.grad_x = grad_x.mutable_data_ptr();
  p.grad_v0 = grad_v0.mutable_data_ptr();
  p.grad_decay = mutable_data_or_null(grad_decay);
  if (N > 0 && T > 0) {
#ifdef HNN_FAST_WITH_CUDA
    if (x.is_cuda()) {
      leaky_backward_cuda(p, x.scalar_type());
    } else
#endif
    {
      leaky_backward_cpu(p, x.scalar_type());
    }
  }

  const auto neuron_shape = x.sizes().slice(1);
  return {grad_x, need_v0 ? grad_v0.view(neuron_shape).to(v0->scalar_type()) : unwanted_grad(x),
          need_decay ? reduce_to_param(grad_decay.view(neuron_shape), *decay) : unwanted_grad(x)};
}

}  // namespace

TORCH_LIBRARY_IMPL(hnn_fast, CPU, m) {
  m.impl("leaky_integrate", &leaky_integrate);
  m.impl("leaky_integrate_backward", &leaky_integrate_backward);
}

#ifdef HNN_FAST_WITH_CUDA
TORCH_LIBRARY_IMPL(hnn_fast, CUDA, m) {
  m.impl("leaky_integrate", &leaky_integrate);
  m.impl("leaky_integrate_backward", &leaky_integrate_backward);
}
#endif

}  // namespace hnn_fast
