// CPU kernels of hu_window (math in core/hu.h, host code in hu_window.cpp).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <vector>

#include "../core/hu.h"
#include "../kernels.h"
#include "block.h"

namespace hnn_fast {
namespace {

using cpu::for_each_block;
using cpu::kBlock;

// The steps of a window that can fall inside the sequence: a window longer than T (drop_last=False)
// reads only its first T steps, so nothing is sized by the window itself.
template <typename Params>
int64_t steps_read(const Params& p) {
  return std::min(p.window, p.T);
}

// The weights of a fixed kernel, computed once per call by the same function the CUDA kernels use.
template <typename acc_t, typename Params>
std::vector<acc_t> fixed_weights(const Params& p) {
  std::vector<acc_t> w;
  if (p.weights == nullptr) {
    w.resize(steps_read(p));
    for (int64_t j = 0; j < steps_read(p); ++j) {
      w[j] = window_weight<acc_t>(p.kernel, j, p.window, static_cast<acc_t>(p.decay));
    }
  }
  return w;
}

// Splits the block [n0, n0 + nb) into runs of neurons that share one weight row (one channel), and
// calls fn(offset in block, run length, weight row).
template <typename acc_t, typename Params, typename Fn>
void for_each_weight_row(const Params& p, const std::vector<acc_t>& fixed, int64_t n0, int64_t nb,
                         const Fn& fn) {
  if (p.weights == nullptr) {
    fn(0, nb, fixed.data());
    return;
  }
  const auto* weights = static_cast<const acc_t*>(p.weights);
  if (p.channels == 1) {
    fn(0, nb, weights);
    return;
  }
  for (int64_t n = n0; n < n0 + nb;) {
    const int64_t c = n / p.inner;
    const int64_t end = std::min((c + 1) * p.inner, n0 + nb);
    fn(n - n0, end - n, weights + c * p.window);
    n = end;
  }
}

template <typename scalar_t>
void hu_window_forward_kernel(const HuWindowForwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* y = static_cast<scalar_t*>(p.y);
  const std::vector<acc_t> fixed = fixed_weights<acc_t>(p);
  for_each_block(p.K * steps_read(p), p.N, [&](int64_t n0, int64_t nb) {
    acc_t sum[kBlock];
    for_each_weight_row<acc_t>(p, fixed, n0, nb, [&](int64_t i0, int64_t len, const acc_t* w) {
      const int64_t n = n0 + i0;
      for (int64_t k = 0; k < p.K; ++k) {
        std::fill_n(sum, len, acc_t(0));
        for (int64_t j = 0, t = k * p.stride; j < p.window && t < p.T; ++j, ++t) {
          const acc_t w_j = w[j];
          const scalar_t* __restrict__ x_t = x + t * p.x_stride_t + n;
          for (int64_t i = 0; i < len; ++i) sum[i] += w_j * static_cast<acc_t>(x_t[i]);
        }
        scalar_t* __restrict__ y_k = y + k * p.N + n;
        for (int64_t i = 0; i < len; ++i) y_k[i] = static_cast<scalar_t>(sum[i]);
      }
    });
  });
}

template <typename scalar_t>
void hu_window_backward_kernel(const HuWindowBackwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_y = static_cast<const scalar_t*>(p.grad_y);
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  auto* grad_weights = static_cast<acc_t*>(p.grad_weights);
  const std::vector<acc_t> fixed = fixed_weights<acc_t>(p);
  for_each_block(p.T * steps_read(p), p.N, [&](int64_t n0, int64_t nb) {
    acc_t sum[kBlock];
    for_each_weight_row<acc_t>(p, fixed, n0, nb, [&](int64_t i0, int64_t len, const acc_t* w) {
      const int64_t n = n0 + i0;
      if (grad_x != nullptr) {
        // Each step gathers from the windows that cover it, so no two threads write one element.
        for (int64_t t = 0; t < p.T; ++t) {
          int64_t k_begin, k_end;
          windows_covering(t, p.window, p.stride, p.K, k_begin, k_end);
          std::fill_n(sum, len, acc_t(0));
          for (int64_t k = k_begin; k < k_end; ++k) {
            const acc_t w_j = w[t - k * p.stride];
            const scalar_t* __restrict__ g_k = grad_y + k * p.N + n;
            for (int64_t i = 0; i < len; ++i) sum[i] += w_j * static_cast<acc_t>(g_k[i]);
          }
          scalar_t* __restrict__ gx_t = grad_x + t * p.N + n;
          for (int64_t i = 0; i < len; ++i) gx_t[i] = static_cast<scalar_t>(sum[i]);
        }
      }
      if (grad_weights != nullptr) {
        for (int64_t j = 0; j < p.window; ++j) {
          std::fill_n(sum, len, acc_t(0));
          for (int64_t k = 0, t = j; k < p.K && t < p.T; ++k, t += p.stride) {
            const scalar_t* __restrict__ g_k = grad_y + k * p.N + n;
            const scalar_t* __restrict__ x_t = x + t * p.x_stride_t + n;
            for (int64_t i = 0; i < len; ++i)
              sum[i] += static_cast<acc_t>(g_k[i]) * static_cast<acc_t>(x_t[i]);
          }
          std::copy_n(sum, len, grad_weights + j * p.N + n);
        }
      }
    });
  });
}

}  // namespace

void hu_window_forward_cpu(const HuWindowForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_window_forward_cpu",
                                  [&] { hu_window_forward_kernel<scalar_t>(p); });
}

void hu_window_backward_cpu(const HuWindowBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_window_backward_cpu",
                                  [&] { hu_window_backward_kernel<scalar_t>(p); });
}

}  // namespace hnn_fast
