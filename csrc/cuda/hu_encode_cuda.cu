// CUDA kernels of hu_encode (math in core/hu.h, host code in hu_encode.cpp). One thread per neuron keeps
// p in a register and walks the steps; the mode is uniform across the grid, so its branch is free.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/hu.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {
namespace {

template <typename scalar_t>
__global__ void hu_encode_forward_kernel(const HuEncodeForwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* a = static_cast<const scalar_t*>(p.a);
  const auto* uniform = static_cast<const acc_t*>(p.uniform);
  auto* spikes = static_cast<scalar_t*>(p.spikes);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    const acc_t prob = encode_probability(p.nonlinearity, static_cast<acc_t>(a[n]));
    for (int64_t t = 0; t < p.T; ++t) {
      const acc_t u = uniform != nullptr ? uniform[t * p.N + n] : acc_t(0);
      spikes[t * p.N + n] = static_cast<scalar_t>(encode_spike(p.mode, t, p.T, prob, u));
    }
  }
}

template <typename scalar_t>
__global__ void hu_encode_backward_kernel(const HuEncodeBackwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* a = static_cast<const scalar_t*>(p.a);
  const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
  auto* grad_a = static_cast<scalar_t*>(p.grad_a);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    const acc_t a_n = static_cast<acc_t>(a[n]);
    const acc_t prob = encode_probability(p.nonlinearity, a_n);
    acc_t sum = 0;
    for (int64_t t = 0; t < p.T; ++t) {
      sum += static_cast<acc_t>(grad_spikes[t * p.N + n]) * encode_spike_grad(p.mode, t, p.T, prob);
    }
    grad_a[n] = static_cast<scalar_t>(sum * encode_probability_grad(p.nonlinearity, a_n));
  }
}

}  // namespace

void hu_encode_forward_cuda(const HuEncodeForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_encode_forward_cuda", [&] {
    hu_encode_forward_kernel<scalar_t>
        <<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void hu_encode_backward_cuda(const HuEncodeBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_encode_backward_cuda", [&] {
    hu_encode_backward_kernel<scalar_t>
        <<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace hnn_fast
