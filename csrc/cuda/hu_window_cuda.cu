// CUDA kernels of hu_window (math in core/hu.h, host code in hu_window.cpp). One thread per neuron walks
// the windows; neighbouring threads read neighbouring neurons, so every load coalesces.

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/hu.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {
namespace {

// Weight j of neuron n's window: its channel's row of the weights tensor, or the fixed kernel's value.
template <typename acc_t, typename Params>
__device__ __forceinline__ acc_t weight_of(const Params& p, int64_t n, int64_t j) {
  if (p.weights == nullptr) return window_weight<acc_t>(p.kernel, j, p.window, static_cast<acc_t>(p.decay));
  const int64_t c = p.channels == 1 ? 0 : n / p.inner;
  return static_cast<const acc_t*>(p.weights)[c * p.window + j];
}

template <typename scalar_t>
__global__ void hu_window_forward_kernel(const HuWindowForwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* y = static_cast<scalar_t*>(p.y);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    for (int64_t k = 0; k < p.K; ++k) {
      acc_t sum = 0;
      for (int64_t j = 0, t = k * p.stride; j < p.window && t < p.T; ++j, ++t) {
        sum += weight_of<acc_t>(p, n, j) * static_cast<acc_t>(x[t * p.x_stride_t + n]);
      }
      y[k * p.N + n] = static_cast<scalar_t>(sum);
    }
  }
}

template <typename scalar_t>
__global__ void hu_window_backward_kernel(const HuWindowBackwardParams p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_y = static_cast<const scalar_t*>(p.grad_y);
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  auto* grad_weights = static_cast<acc_t*>(p.grad_weights);
  for (int64_t n = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; n < p.N;
       n += int64_t{gridDim.x} * blockDim.x) {
    if (grad_x != nullptr) {
      for (int64_t t = 0; t < p.T; ++t) {
        int64_t k_begin, k_end;
        windows_covering(t, p.window, p.stride, p.K, k_begin, k_end);
        acc_t sum = 0;
        for (int64_t k = k_begin; k < k_end; ++k) {
          sum += weight_of<acc_t>(p, n, t - k * p.stride) * static_cast<acc_t>(grad_y[k * p.N + n]);
        }
        grad_x[t * p.N + n] = static_cast<scalar_t>(sum);
      }
    }
    if (grad_weights != nullptr) {
      for (int64_t j = 0; j < p.window; ++j) {
        acc_t sum = 0;
        for (int64_t k = 0, t = j; k < p.K && t < p.T; ++k, t += p.stride) {
          sum += static_cast<acc_t>(grad_y[k * p.N + n]) * static_cast<acc_t>(x[t * p.x_stride_t + n]);
        }
        grad_weights[j * p.N + n] = sum;
      }
    }
  }
}

}  // namespace

void hu_window_forward_cuda(const HuWindowForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_window_forward_cuda", [&] {
    hu_window_forward_kernel<scalar_t>
        <<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

void hu_window_backward_cuda(const HuWindowBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_window_backward_cuda", [&] {
    hu_window_backward_kernel<scalar_t>
        <<<cuda::blocks_for(p.N), cuda::kThreads, 0, cuda::current_stream()>>>(p);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

}  // namespace hnn_fast
