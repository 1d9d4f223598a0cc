// Host code of the `hu_window` and `hu_window_backward` ops (the W and H stages of a spikes-to-values
// hybrid unit). Schemas are in registration.cpp, kernels in cpu/ and cuda/, math in core/hu.h.

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "arguments.h"
#include "kernels.h"

namespace hnn_fast {
namespace {

void check_window_stride(int64_t window, int64_t stride) {
  TORCH_CHECK_VALUE(window > 0, "window must be a positive number of steps, got ", window);
  TORCH_CHECK_VALUE(stride > 0, "stride must be a positive number of steps, got ", stride);
}

// Full windows, plus (drop_last=False) one zero-padded window when the last full one stops short of the
// end and the next one would still start inside the sequence: PyTorch pooling's ceil_mode rule.
int64_t window_count(int64_t T, int64_t window, int64_t stride, bool drop_last) {
  if (T < window) return drop_last || T == 0 ? 0 : 1;
  const int64_t full = (T - window) / stride + 1;
  const bool partial = !drop_last && (full - 1) * stride + window < T && full * stride < T;
  return full + (partial ? 1 : 0);
}

struct WindowWeights {
  at::Tensor buffer;  // acc [channels, window], or undefined for the fixed kernels
  int64_t channels = 1;
};

// The weights of kernel "weights": [window] shared by all neurons, or [C, window] with C = shape[0].
WindowWeights window_weights(WindowKernel kind, const std::optional<at::Tensor>& weights, double decay,
                             const at::Tensor& x, int64_t window) {
  const bool given = weights.has_value() && weights->defined();
  if (kind == WindowKernel::Exp) check_decay_value(decay);
  if (kind != WindowKernel::Weights) {
    TORCH_CHECK_VALUE(!given, "weights are given only with kernel='weights'");
    return {};
  }
  TORCH_CHECK_VALUE(given, "kernel='weights' needs a weights tensor");
  const at::Tensor& w = *weights;
  check_same_device(x, w, "weights");
  TORCH_CHECK_TYPE(at::isFloatingType(w.scalar_type()), "weights must be a floating tensor, got ",
                   w.scalar_type());
  const int64_t C = x.dim() >= 2 ? x.size(1) : 1;
  const bool shared = w.dim() == 1 && w.size(0) == window;
  const bool per_channel = w.dim() == 2 && x.dim() >= 2 && w.size(0) == C && w.size(1) == window;
  TORCH_CHECK_VALUE(shared || per_channel, "weights must have shape [window] = [", window,
                    "] or [C, window] = [", C, ", ", window, "] (C = x.shape[1], the channels), got ",
                    w.sizes());
  return {w.to(compute_dtype(x.scalar_type())).contiguous(), shared ? 1 : C};
}

at::Tensor hu_window(const at::Tensor& x, int64_t window, int64_t stride, c10::string_view kernel,
                     double decay, const std::optional<at::Tensor>& weights, bool drop_last) {
  check_sequence(x, "x");
  check_window_stride(window, stride);
  const WindowKernel kind = parse_window_kernel(kernel);
  const int64_t T = x.size(0);
  TORCH_CHECK_VALUE(!drop_last || window <= T, "window (", window, ") must not exceed the length T (", T,
                    ") of x when drop_last=True");
  const c10::DeviceGuard guard(x.device());
  const WindowWeights w = window_weights(kind, weights, decay, x, window);
  const int64_t K = window_count(T, window, stride, drop_last);
  const int64_t N = neuron_count(x);
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes[0] = K;
  at::Tensor y = at::empty(sizes, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (K == 0 || N == 0) return y;

  const at::Tensor x2 = as_time_major(x);
  HuWindowForwardParams p;
  p.T = T;
  p.N = N;
  p.K = K;
  p.window = window;
  p.stride = stride;
  p.x = x2.const_data_ptr();
  p.x_stride_t = x2.stride(0);
  p.kernel = kind;
  p.decay = decay;
  p.weights = data_or_null(w.buffer);
  p.channels = w.channels;
  p.inner = N / w.channels;  // N > 0 here, so channels > 0
  p.y = y.mutable_data_ptr();
#ifdef HNN_FAST_WITH_CUDA
  if (x.is_cuda()) {
    hu_window_forward_cuda(p, x.scalar_type());
    return y;
  }
#endif
  hu_window_forward_cpu(p, x.scalar_type());
  return y;
}

std::tuple<at::Tensor, at::Tensor> hu_window_backward(const at::Tensor& grad_y,
                                                      const std::optional<at::Tensor>& x, int64_t T,
                                                      int64_t window, int64_t stride, c10::string_view kernel,
                                                      double decay, const std::optional<at::Tensor>& weights,
                                                      std::array<bool, 2> output_mask) {
  check_sequence(grad_y, "grad_y");
  check_window_stride(window, stride);
  const WindowKernel kind = parse_window_kernel(kernel);
  const int64_t K = grad_y.size(0);
  TORCH_CHECK_VALUE(T >= 0 && (K == 0 || (K - 1) * stride < T), "grad_y's ", K, " windows of stride ", stride,
                    " do not fit a sequence of length T = ", T);
  const c10::DeviceGuard guard(grad_y.device());
  const auto [need_x, need_weights] = output_mask;
  const WindowWeights w = window_weights(kind, weights, decay, grad_y, window);
  TORCH_CHECK_VALUE(!need_weights || w.buffer.defined(), "a weights gradient needs kernel='weights'");
  std::vector<int64_t> x_sizes = grad_y.sizes().vec();
  x_sizes[0] = T;
  at::Tensor x2;
  if (need_weights) {
    TORCH_CHECK_VALUE(x.has_value() && x->defined(), "a weights gradient needs x");
    check_sequence(*x, "x");
    check_same_device(grad_y, *x, "x");
    TORCH_CHECK_VALUE(x->sizes() == at::IntArrayRef(x_sizes), "x must have shape ", at::IntArrayRef(x_sizes),
                      ", got ", x->sizes());
    x2 = as_time_major(x->to(grad_y.scalar_type()));
  }

  const auto acc = compute_dtype(grad_y.scalar_type());
  const int64_t N = neuron_count(grad_y);
  const at::Tensor g = grad_y.contiguous();
  at::Tensor grad_x = need_x
                          ? at::empty(x_sizes, grad_y.options().memory_format(at::MemoryFormat::Contiguous))
                          : unwanted_grad(grad_y);
  at::Tensor partial = need_weights ? at::zeros({window, N}, grad_y.options().dtype(acc)) : at::Tensor();

  HuWindowBackwardParams p;
  p.T = T;
  p.N = N;
  p.K = K;
  p.window = window;
  p.stride = stride;
  p.grad_y = g.const_data_ptr();
  p.x = need_weights && T > 0 && N > 0 ? x2.const_data_ptr() : nullptr;
  p.x_stride_t = need_weights && T > 0 && N > 0 ? x2.stride(0) : 0;
  p.kernel = kind;
  p.decay = decay;
  p.weights = data_or_null(w.buffer);
  p.channels = w.channels;
  p.inner = w.channels > 0 ? N / w.channels : 0;
  p.grad_x = need_x ? grad_x.mutable_data_ptr() : nullptr;
  p.grad_weights = mutable_data_or_null(partial);
  if (N > 0 && T > 0 && (need_x || need_weights)) {
#ifdef HNN_FAST_WITH_CUDA
    if (grad_y.is_cuda()) {
      hu_window_backward_cuda(p, grad_y.scalar_type());
    } else
#endif
    {
      hu_window_backward_cpu(p, grad_y.scalar_type());
    }
  }

  at::Tensor grad_weights = unwanted_grad(grad_y);
  if (need_weights && N == 0) {
    grad_weights = at::zeros(weights->sizes(), weights->options());
  } else if (need_weights) {
    // Per-neuron partial sums [window, N] reduced per channel; a [window, N] buffer keeps the kernels
    // free of atomics, at the cost of window * N accumulators.
    const at::Tensor per_channel = partial.view({window, w.channels, N / w.channels}).sum(2).t();
    grad_weights = per_channel.reshape(weights->sizes()).to(weights->scalar_type()).contiguous();
  }
  return {grad_x, grad_weights};
}

}  // namespace

TORCH_LIBRARY_IMPL(hnn_fast, CPU, m) {
  m.impl("hu_window", &hu_window);
  m.impl("hu_window_backward", &hu_window_backward);
}

#ifdef HNN_FAST_WITH_CUDA
TORCH_LIBRARY_IMPL(hnn_fast, CUDA, m) {
  m.impl("hu_window", &hu_window);
  m.impl("hu_window_backward", &hu_window_backward);
}
#endif

}  // namespace hnn_fast
