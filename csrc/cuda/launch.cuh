#pragma once

// Launch helpers shared by the CUDA kernels: one thread per neuron, the time loop inside the thread,
// the membrane in registers. Neurons are contiguous, so every step's loads and stores coalesce.

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>
#include <cstdint>

namespace hnn_fast::cuda {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) {
  return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t{1} << 20));
}

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

// A per-neuron value: the buffer's entry, or the scalar when there is no buffer.
template <typename acc_t>
__device__ __forceinline__ acc_t neuron_value(const void* buffer, double value, int64_t n) {
  return buffer != nullptr ? static_cast<const acc_t*>(buffer)[n] : static_cast<acc_t>(value);
}

}  // namespace hnn_fast::cuda
