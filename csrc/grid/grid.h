#pragma once

// The launch grid of the CUDA kernels: one thread per neuron, kThreads threads a block, at most
// kMaxBlocks blocks, larger problems covered by a grid-stride loop. The CUDA launchers
// (cuda/launch.cuh) and the host harness (grid/harness.cpp), which runs the same per-thread bodies
// for every (block, thread) of the same grid on the CPU, both take the grid from here. Indices are
// 64-bit from the start: blockIdx.x * blockDim.x in 32 bits wraps once a grid passes 2^32 threads,
// and t * N + n once a sequence passes 2^31 elements.

#include <cstdint>

#include "../core/macros.h"

namespace hnn_fast::grid {

inline constexpr int kThreads = 256;
inline constexpr int64_t kMaxBlocks = int64_t{1} << 20;

// The blocks a kernel over n neurons is launched with.
inline constexpr int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

// The grid-stride loop's start (the thread's first neuron) and step (the threads in the grid).
HNN_HOST_DEVICE int64_t first_index(uint32_t block, uint32_t block_dim, uint32_t thread) {
  return int64_t{block} * block_dim + thread;
}

HNN_HOST_DEVICE int64_t thread_count(uint32_t grid_dim, uint32_t block_dim) {
  return int64_t{grid_dim} * block_dim;
}

// Calls fn(n) for every neuron n < count that the thread starting at `first` handles.
template <typename Fn>
HNN_HOST_DEVICE void for_each_neuron(int64_t first, int64_t step, int64_t count, const Fn& fn) {
  for (int64_t n = first; n < count; n += step) fn(n);
}

// The offset of element (t, n) in a time-major buffer whose steps are stride_t elements apart.
HNN_HOST_DEVICE int64_t offset(int64_t t, int64_t stride_t, int64_t n) { return t * stride_t + n; }

// A per-neuron value: the buffer's entry, or the scalar when there is no buffer.
template <typename acc_t>
HNN_HOST_DEVICE acc_t neuron_value(const void* buffer, double value, int64_t n) {
  return buffer != nullptr ? static_cast<const acc_t*>(buffer)[n] : static_cast<acc_t>(value);
}

}  // namespace hnn_fast::grid
