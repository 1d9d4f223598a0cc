// CUDA kernels of the leaky integrator (math in core/leaky.h, host code in leaky_integrate.cpp).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/leaky.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {
namespace {

using cuda::neuron_value;

template <typename scalar_t>
__global__ void leaky_forward_kernel(const LeakyForwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* v_seq = static_cast<scalar_t*>(p.v_seq);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    acc_t v = neuron_value<acc_t>(p.v0, 0.0, n);
    const acc_t decay = neuron_value<acc_t>(p.decay, p.decay_value, n);
    for (int64_t t = 0; t < p.T; ++t) {
      v = lif_charge(v, static_cast<acc_t>(x[t * p.x_stride_t + n]), decay);
      v_seq[t * p.N + n] = static_cast<scalar_t>(v);
    }
  }
}

template <typename scalar_t>
__global__ void leaky_backward_kernel(const LeakyBackwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_v_seq = static_cast<const scalar_t*>(p.grad_v_seq);
  const auto* v_seq = static_cast<const scalar_t*>(p.v_seq);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    const acc_t decay = neuron_value<acc_t>(p.decay, p.decay_value, n);
    const acc_t v0 = neuron_value<acc_t>(p.v0, 0.0, n);
    acc_t grad_v = 0, grad_decay = 0;
    for (int64_t t = p.T - 1; t >= 0; --t) {
      const acc_t total = leaky_step_backward(static_cast<acc_t>(grad_v_seq[t * p.N + n]), decay, grad_v);
      grad_x[t * p.N + n] = static_cast<scalar_t>(total);
      grad_decay += total * (t > 0 ? static_cast<acc_t>(v_seq[(t - 1) * p.N + n]) : v0);
    }
    static_cast<acc_t*>(p.grad_v0)[n] = grad_v;
    if (p.grad_decay != nullptr) static_cast<acc_t*>(p.grad_decay)[n] = grad_decay;
  }
}

}  // namespace

void leaky_forward_cuda(const LeakyForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "leaky_forward_cuda", [&] {
    leaky_forward_kernel<scalar_t><<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void leaky_backward_cuda(const LeakyBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "leaky_backward_cuda", [&] {
    leaky_backward_kernel<scalar_t><<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace hnn_fast
