// Host code of the `hu_encode` and `hu_encode_backward` ops (sampler, F and Q of a values-to-spikes
// hybrid unit). Schemas are in registration.cpp, kernels in cpu/ and cuda/, math in core/hu.h.

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "arguments.h"
#include "kernels.h"

namespace hnn_fast {
namespace {

void check_values(const at::Tensor& a, std::string_view name) {
  TORCH_CHECK_TYPE(at::isFloatingType(a.scalar_type()), name,
                   " must be a floating tensor (float32, float64, bfloat16 or float16), got ",
                   a.scalar_type());
}

at::Tensor hu_encode(const at::Tensor& a, int64_t T, c10::string_view mode, c10::string_view nonlinearity,
                     const std::optional<at::Tensor>& uniform) {
  check_values(a, "a");
  TORCH_CHECK_VALUE(T >= 0 && T < (int64_t{1} << 31), "T (the number of steps) must be in [0, 2^31), got ",
                    T);
  const EncodeMode m = parse_encode_mode(mode);
  const Nonlinearity f = parse_nonlinearity(nonlinearity);
  const c10::DeviceGuard guard(a.device());
  std::vector<int64_t> sizes{T};
  sizes.insert(sizes.end(), a.sizes().begin(), a.sizes().end());
  at::Tensor u;
  if (m == EncodeMode::Poisson) {
    TORCH_CHECK_VALUE(uniform.has_value() && uniform->defined(),
                      "mode='poisson' needs uniform, the [T, *a.shape] draws in [0, 1)");
    check_same_device(a, *uniform, "uniform");
    check_values(*uniform, "uniform");
    TORCH_CHECK_VALUE(uniform->sizes() == at::IntArrayRef(sizes),
                      "uniform must have shape [T, *a.shape] = ", at::IntArrayRef(sizes), ", got ",
                      uniform->sizes());
    u = uniform->to(compute_dtype(a.scalar_type())).contiguous();
  } else {
    TORCH_CHECK_VALUE(!uniform.has_value() || !uniform->defined(), "uniform is used only by mode='poisson'");
  }
  const at::Tensor a_c = a.contiguous();
  at::Tensor spikes = at::empty(sizes, a.options().memory_format(at::MemoryFormat::Contiguous));

  HuEncodeForwardParams p;
  p.T = T;
  p.N = a.numel();
  p.a = a_c.const_data_ptr();
  p.uniform = data_or_null(u);
  p.mode = m;
  p.nonlinearity = f;
  p.spikes = spikes.mutable_data_ptr();
  if (p.N == 0 || T == 0) return spikes;
#ifdef HNN_FAST_WITH_CUDA
  if (a.is_cuda()) {
    hu_encode_forward_cuda(p, a.scalar_type());
    return spikes;
  }
#endif
  hu_encode_forward_cpu(p, a.scalar_type());
  return spikes;
}

at::Tensor hu_encode_backward(const at::Tensor& grad_spikes, const at::Tensor& a, c10::string_view mode,
                              c10::string_view nonlinearity) {
  check_sequence(grad_spikes, "grad_spikes");
  check_values(a, "a");
  check_same_device(a, grad_spikes, "grad_spikes");
  TORCH_CHECK_VALUE(grad_spikes.sizes().slice(1) == a.sizes(),
                    "grad_spikes must have shape [T, *a.shape], got ", grad_spikes.sizes(),
                    " for a of shape ", a.sizes());
  const EncodeMode m = parse_encode_mode(mode);
  const Nonlinearity f = parse_nonlinearity(nonlinearity);
  const c10::DeviceGuard guard(a.device());
  const at::Tensor g = grad_spikes.to(a.scalar_type()).contiguous();
  const at::Tensor a_c = a.contiguous();
  at::Tensor grad_a = at::empty(a.sizes(), a.options().memory_format(at::MemoryFormat::Contiguous));

  HuEncodeBackwardParams p;
  p.T = grad_spikes.size(0);
  p.N = a.numel();
  p.grad_spikes = g.const_data_ptr();
  p.a = a_c.const_data_ptr();
  p.mode = m;
  p.nonlinearity = f;
  p.grad_a = grad_a.mutable_data_ptr();
  if (p.N == 0) return grad_a;
#ifdef HNN_FAST_WITH_CUDA
  if (a.is_cuda()) {
    hu_encode_backward_cuda(p, a.scalar_type());
    return grad_a;
  }
#endif
  hu_encode_backward_cpu(p, a.scalar_type());
  return grad_a;
}

}  // namespace

TORCH_LIBRARY_IMPL(hnn_fast, CPU, m) {
  m.impl("hu_encode", &hu_encode);
  m.impl("hu_encode_backward", &hu_encode_backward);
}

#ifdef HNN_FAST_WITH_CUDA
TORCH_LIBRARY_IMPL(hnn_fast, CUDA, m) {
  m.impl("hu_encode", &hu_encode);
  m.impl("hu_encode_backward", &hu_encode_backward);
}
#endif

}  // namespace hnn_fast
