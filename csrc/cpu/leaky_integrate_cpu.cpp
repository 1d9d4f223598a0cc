// CPU kernels of the leaky integrator (math in core/leaky.h, host code in leaky_integrate.cpp).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/leaky.h"
#include "../kernels.h"
#include "block.h"

namespace hnn_fast {
namespace {

using cpu::for_each_block;
using cpu::kBlock;
using cpu::load_block;

// Row functions: one step over one block of neurons, compiled per ISA (see block.h and lif_cpu.cpp).
template <typename scalar_t, typename acc_t>
HNN_CPU_MULTIVERSION void leaky_forward_row(const scalar_t* __restrict__ x, const acc_t* __restrict__ decay,
                                            acc_t* __restrict__ v, scalar_t* __restrict__ v_out, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    v[j] = lif_charge(v[j], static_cast<acc_t>(x[j]), decay[j]);
    v_out[j] = static_cast<scalar_t>(v[j]);
  }
}

// v_prev: the previous step's output row, or null at t = 0 (then v0 is used).
template <typename scalar_t, typename acc_t>
HNN_CPU_MULTIVERSION void leaky_backward_row(const scalar_t* __restrict__ grad_out,
                                             const scalar_t* __restrict__ v_prev,
                                             const acc_t* __restrict__ v0, const acc_t* __restrict__ decay,
                                             acc_t* __restrict__ grad_v, acc_t* __restrict__ grad_decay,
                                             scalar_t* __restrict__ grad_x, int64_t nb) {
  for (int64_t j = 0; j < nb; ++j) {
    const acc_t total = leaky_step_backward(static_cast<acc_t>(grad_out[j]), decay[j], grad_v[j]);
    grad_x[j] = static_cast<scalar_t>(total);
    grad_decay[j] += total * (v_prev != nullptr ? static_cast<acc_t>(v_prev[j]) : v0[j]);
  }
}

template <typename scalar_t>
void leaky_forward_kernel(const LeakyForwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* x = static_cast<const scalar_t*>(p.x);
  auto* v_seq = static_cast<scalar_t*>(p.v_seq);
  const int64_t T = p.T, N = p.N;
  for_each_block(T, N, [&](int64_t n0, int64_t nb) {
    acc_t v[kBlock], decay[kBlock];
    load_block(v, p.v0, 0.0, n0, nb);
    load_block(decay, p.decay, p.decay_value, n0, nb);
    for (int64_t t = 0; t < T; ++t) {
      leaky_forward_row<scalar_t, acc_t>(x + t * p.x_stride_t + n0, decay, v, v_seq + t * N + n0, nb);
    }
  });
}

template <typename scalar_t>
void leaky_backward_kernel(const LeakyBackwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* grad_v_seq = static_cast<const scalar_t*>(p.grad_v_seq);
  const auto* v_seq = static_cast<const scalar_t*>(p.v_seq);
  auto* grad_x = static_cast<scalar_t*>(p.grad_x);
  auto* grad_v0 = static_cast<acc_t*>(p.grad_v0);
  auto* grad_decay = static_cast<acc_t*>(p.grad_decay);
  const int64_t T = p.T, N = p.N;
  for_each_block(T, N, [&](int64_t n0, int64_t nb) {
    acc_t grad_v[kBlock], decay[kBlock], v0[kBlock], grad_decay_acc[kBlock];
    std::fill_n(grad_v, nb, acc_t(0));
    std::fill_n(grad_decay_acc, nb, acc_t(0));
    load_block(decay, p.decay, p.decay_value, n0, nb);
    load_block(v0, p.v0, 0.0, n0, nb);
    for (int64_t t = T - 1; t >= 0; --t) {
      leaky_backward_row<scalar_t, acc_t>(grad_v_seq + t * N + n0, t > 0 ? v_seq + (t - 1) * N + n0 : nullptr,
                                          v0, decay, grad_v, grad_decay_acc, grad_x + t * N + n0, nb);
    }
    std::copy_n(grad_v, nb, grad_v0 + n0);
    if (grad_decay != nullptr) std::copy_n(grad_decay_acc, nb, grad_decay + n0);
  });
}

}  // namespace

void leaky_forward_cpu(const LeakyForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "leaky_forward_cpu",
                                  [&] { leaky_forward_kernel<scalar_t>(p); });
}

void leaky_backward_cpu(const LeakyBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "leaky_backward_cpu",
                                  [&] { leaky_backward_kernel<scalar_t>(p); });
}

}  // namespace hnn_fast
