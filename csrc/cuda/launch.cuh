#pragma once

// The one CUDA-only piece of every kernel: the launch. A kernel is a per-thread body (csrc/grid/), run
// by every thread of the grid grid::blocks_for gives; the host harness (grid/harness.cpp) runs the same
// bodies over the same grid on the CPU. One thread per neuron, the time loop inside the thread, the
// membrane in registers; neurons are contiguous, so every step's loads and stores coalesce.

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>

#include "../grid/grid.h"

namespace hnn_fast::cuda {

template <typename Thread>
__global__ void run_thread(const typename Thread::Params p) {
  Thread::run(p, grid::first_index(blockIdx.x, blockDim.x, threadIdx.x),
              grid::thread_count(gridDim.x, blockDim.x));
}

// Launches the body on the current stream over the neurons of p.
template <typename Thread>
void launch(const typename Thread::Params& p) {
  run_thread<Thread>
      <<<grid::blocks_for(Thread::count(p)), grid::kThreads, 0, c10::cuda::getCurrentCUDAStream().stream()>>>(
          p);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

// What grid::dispatch calls with the body it picked: its launch over p.
template <typename Params>
auto launcher(const Params& p) {
  return [&p]<typename Thread>() { launch<Thread>(p); };
}

}  // namespace hnn_fast::cuda
