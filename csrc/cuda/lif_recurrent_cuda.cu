// CUDA kernels of one step of the recurrent LIF (math in core/lif_recurrent.h and core/lif.h, host
// code and the time loop in lif_recurrent.cpp): one thread per neuron and step, between the cuBLAS
// products the host code issues on the same stream.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/lif_recurrent.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {
namespace {

using cuda::neuron_value;

template <typename scalar_t, Reset R>
__global__ void step_kernel(const LifRecurrentStepParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t v_reset = static_cast<acc_t>(p.v_reset);
  auto* v = static_cast<acc_t*>(p.v);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.M;
       n += int64_t{gridDim.x} * blockDim.x) {
    const acc_t th = neuron_value<acc_t>(p.threshold, p.threshold_value, n);
    const acc_t hv = lif_recurrent_charge(v[n], static_cast<acc_t>(static_cast<const scalar_t*>(p.x)[n]),
                                          neuron_value<acc_t>(p.decay, p.decay_value, n),
                                          static_cast<const acc_t*>(p.recurrent)[n]);
    const acc_t sv = lif_fire(hv, th);
    if (p.h != nullptr) static_cast<acc_t*>(p.h)[n] = hv;
    static_cast<scalar_t*>(p.spikes)[n] = static_cast<scalar_t>(sv);
    v[n] = lif_reset<R>(hv, sv, th, v_reset);
  }
}

template <typename scalar_t, Reset R>
__global__ void backward_step_kernel(const LifRecurrentBackwardStepParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const acc_t v_reset = static_cast<acc_t>(p.v_reset);
  const acc_t alpha = static_cast<acc_t>(p.alpha);
  auto* grad_v = static_cast<acc_t*>(p.grad_v);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.M;
       n += int64_t{gridDim.x} * blockDim.x) {
    const acc_t h = static_cast<const acc_t*>(p.h)[n];
    const acc_t th = neuron_value<acc_t>(p.threshold, p.threshold_value, n);
    const acc_t grad_s = static_cast<acc_t>(static_cast<const scalar_t*>(p.grad_spikes)[n]) +
                         neuron_value<acc_t>(p.grad_recurrent, 0.0, n);
    acc_t gh, gth;
    lif_step_backward<R>(h, th, surrogate_grad(p.surrogate, h - th, alpha), v_reset,
                         p.detach_reset ? acc_t(0) : acc_t(1), grad_s, grad_v[n], gh, gth);
    static_cast<acc_t*>(p.grad_h)[n] = gh;
    if (p.grad_decay != nullptr) {
      const acc_t v_prev =
          p.h_prev != nullptr
              ? lif_membrane<R>(static_cast<const acc_t*>(p.h_prev)[n],
                                neuron_value<acc_t>(p.threshold_prev, p.threshold_value, n), v_reset)
              : neuron_value<acc_t>(p.v0, 0.0, n);
      static_cast<acc_t*>(p.grad_decay)[n] += gh * v_prev;
    }
    if (p.grad_threshold != nullptr) static_cast<acc_t*>(p.grad_threshold)[n] += gth;
    grad_v[n] = gh * neuron_value<acc_t>(p.decay, p.decay_value, n);
  }
}

}  // namespace

void lif_recurrent_step_cuda(const LifRecurrentStepParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_recurrent_step_cuda", [&] {
    const auto kernel =
        p.reset == Reset::Hard ? step_kernel<scalar_t, Reset::Hard> : step_kernel<scalar_t, Reset::Soft>;
    kernel<<<cuda::blocks_for(p.M), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void lif_recurrent_backward_step_cuda(const LifRecurrentBackwardStepParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "lif_recurrent_backward_step_cuda", [&] {
    const auto kernel = p.reset == Reset::Hard ? backward_step_kernel<scalar_t, Reset::Hard>
                                               : backward_step_kernel<scalar_t, Reset::Soft>;
    kernel<<<cuda::blocks_for(p.M), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace hnn_fast
