// CUDA kernels of the multi-step LIF (math in core/lif.h, host code in lif.cpp).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/lif.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {
namespace {

using cuda::neuron_value;

template <typename scalar_t, Reset R>
__global__ void lif_forward_kernel(const LifForwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* spikes = static_cast<scalar_t*>(p.spikes);
  auto* h = static_cast<acc_t*>(p.h);
  const auto* threshold_steps =
      p.neuron.threshold_per_step ? static_cast<const acc_t*>(p.neuron.threshold) : nullptr;
  const acc_t v_reset = static_cast<acc_t>(p.neuron.v_reset);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    acc_t v = neuron_value<acc_t>(p.neuron.v0, 0.0, n);
    const acc_t decay = neuron_value<acc_t>(p.neuron.decay, p.neuron.decay_value, n);
    const acc_t threshold =
        neuron_value<acc_t>(threshold_steps ? nullptr : p.neuron.threshold, p.neuron.threshold_value, n);
    for (int64_t t = 0; t < p.T; ++t) {
      const acc_t th = threshold_steps != nullptr ? threshold_steps[t * p.N + n] : threshold;
      const acc_t hv = lif_charge(v, static_cast<acc_t>(x[t * p.x_stride_t + n]), decay);
      const acc_t sv = lif_fire(hv, th);
      if (h != nullptr) h[t * p.N + n] = hv;
      spikes[t * p.N + n] = static_cast<scalar_t>(sv);
      v = lif_reset<R>(hv, sv, th, v_reset);
    }
    static_cast<scalar_t*>(p.v_last)[n] = static_cast<scalar_t>(v);
  }
}

template <typename scalar_t, Reset R>
__global__ void lif_backward_kernel(const LifBackwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
  const auto* h = static_cast<const acc_t*>(p.h);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  auto* grad_threshold = static_cast<acc_t*>(p.grad_threshold);
  const auto* threshold_steps =
      p.neuron.threshold_per_step ? static_cast<const acc_t*>(p.neuron.threshold) : nullptr;
  const acc_t v_reset = static_cast<acc_t>(p.neuron.v_reset);
  const acc_t alpha = static_cast<acc_t>(p.alpha);
  const bool want_decay = p.grad_decay != nullptr;
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    acc_t grad_v = neuron_value<acc_t>(p.grad_v_last, 0.0, n);
    const acc_t decay = neuron_value<acc_t>(p.neuron.decay, p.neuron.decay_value, n);
    const acc_t threshold =
        neuron_value<acc_t>(threshold_steps ? nullptr : p.neuron.threshold, p.neuron.threshold_value, n);
    acc_t grad_decay = 0, grad_threshold_sum = 0;
    for (int64_t t = p.T - 1; t >= 0; --t) {
      const acc_t hv = h[t * p.N + n];
      const acc_t th = threshold_steps != nullptr ? threshold_steps[t * p.N + n] : threshold;
      const acc_t surrogate = surrogate_grad(p.surrogate, hv - th, alpha);
      acc_t gh, gth;
      lif_step_backward<R>(hv, th, surrogate, v_reset, p.detach_reset ? acc_t(0) : acc_t(1),
                           static_cast<acc_t>(grad_spikes[t * p.N + n]), grad_v, gh, gth);
      grad_x[t * p.N + n] = static_cast<scalar_t>(gh);
      if (want_decay) {
        const acc_t v_prev =
            t > 0 ? lif_membrane<R>(
                        h[(t - 1) * p.N + n],
                        threshold_steps != nullptr ? threshold_steps[(t - 1) * p.N + n] : threshold, v_reset)
                  : neuron_value<acc_t>(p.neuron.v0, 0.0, n);
        grad_decay += gh * v_prev;
      }
      if (threshold_steps != nullptr && grad_threshold != nullptr) grad_threshold[t * p.N + n] = gth;
      grad_threshold_sum += gth;
      grad_v = gh * decay;
    }
    static_cast<acc_t*>(p.grad_v0)[n] = grad_v;
    if (want_decay) static_cast<acc_t*>(p.grad_decay)[n] = grad_decay;
    if (threshold_steps == nullptr && grad_threshold != nullptr) grad_threshold[n] = grad_threshold_sum;
  }
}

}  // namespace

void lif_forward_cuda(const LifForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_forward_cuda", [&] {
    const auto kernel = p.neuron.reset == Reset::Hard ? lif_forward_kernel<scalar_t, Reset::Hard>
                                                      : lif_forward_kernel<scalar_t, Reset::Soft>;
    kernel<<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void lif_backward_cuda(const LifBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_backward_cuda", [&] {
    const auto kernel = p.neuron.reset == Reset::Hard ? lif_backward_kernel<scalar_t, Reset::Hard>
                                                      : lif_backward_kernel<scalar_t, Reset::Soft>;
    kernel<<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace hnn_fast
