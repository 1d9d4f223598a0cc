// CPU kernels of hu_encode (math in core/hu.h, host code in hu_encode.cpp).

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include "../core/hu.h"
#include "../kernels.h"
#include "block.h"

namespace hnn_fast {
namespace {

using cpu::for_each_block;
using cpu::kBlock;

// One step over one block of neurons, compiled per ISA; by-value arguments and restrict pointers keep
// the loop free of possible aliasing so that it vectorises (see lif_cpu.cpp).
template <EncodeMode M, typename scalar_t, typename acc_t>
HNN_CPU_MULTIVERSION void hu_encode_forward_row(int64_t t, int64_t T, const acc_t* __restrict__ prob,
                                                const acc_t* __restrict__ uniform,
                                                scalar_t* __restrict__ spikes, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    spikes[i] = static_cast<scalar_t>(
        encode_spike(M, t, T, prob[i], M == EncodeMode::Poisson ? uniform[i] : acc_t(0)));
  }
}

// The mode is a template argument so that its switch in core/hu.h folds away in the inner loop.
template <EncodeMode M, typename scalar_t>
void hu_encode_forward_kernel(const HuEncodeForwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* a = static_cast<const scalar_t*>(p.a);
  const auto* uniform = static_cast<const acc_t*>(p.uniform);
  auto* spikes = static_cast<scalar_t*>(p.spikes);
  for_each_block(p.T, p.N, [&](int64_t n0, int64_t nb) {
    acc_t prob[kBlock];
    for (int64_t i = 0; i < nb; ++i)
      prob[i] = encode_probability(p.nonlinearity, static_cast<acc_t>(a[n0 + i]));
    for (int64_t t = 0; t < p.T; ++t) {
      hu_encode_forward_row<M, scalar_t, acc_t>(t, p.T, prob,
                                                M == EncodeMode::Poisson ? uniform + t * p.N + n0 : nullptr,
                                                spikes + t * p.N + n0, nb);
    }
  });
}

template <EncodeMode M, typename scalar_t>
void hu_encode_backward_kernel(const HuEncodeBackwardParams& p) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto* a = static_cast<const scalar_t*>(p.a);
  const auto* grad_spikes = static_cast<const scalar_t*>(p.grad_spikes);
  auto* grad_a = static_cast<scalar_t*>(p.grad_a);
  for_each_block(p.T, p.N, [&](int64_t n0, int64_t nb) {
    acc_t prob[kBlock], sum[kBlock];
    for (int64_t i = 0; i < nb; ++i)
      prob[i] = encode_probability(p.nonlinearity, static_cast<acc_t>(a[n0 + i]));
    std::fill_n(sum, nb, acc_t(0));
    for (int64_t t = 0; t < p.T; ++t) {
      const scalar_t* __restrict__ g_t = grad_spikes + t * p.N + n0;
      for (int64_t i = 0; i < nb; ++i)
        sum[i] += static_cast<acc_t>(g_t[i]) * encode_spike_grad(M, t, p.T, prob[i]);
    }
    for (int64_t i = 0; i < nb; ++i) {
      const acc_t a_i = static_cast<acc_t>(a[n0 + i]);
      grad_a[n0 + i] = static_cast<scalar_t>(sum[i] * encode_probability_grad(p.nonlinearity, a_i));
    }
  });
}

// Selects the kernel instantiated for the call's mode.
#define HNN_ENCODE_MODE_SWITCH(mode, KERNEL, scalar_t, p)                      \
  switch (mode) {                                                              \
    case EncodeMode::Rate: KERNEL<EncodeMode::Rate, scalar_t>(p); break;       \
    case EncodeMode::Poisson: KERNEL<EncodeMode::Poisson, scalar_t>(p); break; \
    default: KERNEL<EncodeMode::Latency, scalar_t>(p); break;                  \
  }

}  // namespace

void hu_encode_forward_cpu(const HuEncodeForwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_encode_forward_cpu", [&] {
    HNN_ENCODE_MODE_SWITCH(p.mode, hu_encode_forward_kernel, scalar_t, p)
  });
}

void hu_encode_backward_cpu(const HuEncodeBackwardParams& p, c10::ScalarType dtype) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "hu_encode_backward_cpu", [&] {
    HNN_ENCODE_MODE_SWITCH(p.mode, hu_encode_backward_kernel, scalar_t, p)
  });
}

}  // namespace hnn_fast
