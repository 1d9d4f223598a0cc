#pragma once

// CPU kernels walk neurons in blocks: each thread takes whole blocks, keeps the block's state in
// small stack arrays (L1-resident) and runs the time loop over the block with the neuron loop
// innermost, so every access is contiguous and the inner loop vectorizes.

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

// The row loops (one step over one block of neurons) are compiled three times, for AVX-512, AVX2 and
// the baseline ISA, and the loader picks the best the CPU has (GCC/Clang function multiversioning):
// one binary runs everywhere and still uses the wide vectors of the machine it runs on.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define HNN_CPU_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HNN_CPU_MULTIVERSION
#endif

namespace hnn_fast::cpu {

constexpr int64_t kBlock = 2048;

// Calls fn(n0, nb) for every block [n0, n0 + nb) of N neurons, blocks spread over threads. A block
// is T * kBlock element-steps of work; small problems stay on one thread.
template <typename Fn>
void for_each_block(int64_t T, int64_t N, const Fn& fn) {
  const int64_t blocks = (N + kBlock - 1) / kBlock;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, T * kBlock));
  at::parallel_for(0, blocks, grain, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t n0 = b * kBlock;
      fn(n0, std::min(kBlock, N - n0));
    }
  });
}

// dst[0:nb] = src[n0:n0+nb] when src holds per-neuron values, else the scalar value.
template <typename acc_t>
void load_block(acc_t* dst, const void* src, double value, int64_t n0, int64_t nb) {
  if (src != nullptr) {
    std::copy_n(static_cast<const acc_t*>(src) + n0, nb, dst);
  } else {
    std::fill_n(dst, nb, static_cast<acc_t>(value));
  }
}

}  // namespace hnn_fast::cpu
