// CUDA kernels of one step of the recurrent LIF: the per-thread bodies are in grid/lif_recurrent.h
// (math in core/lif_recurrent.h and core/lif.h, host code and the time loop in lif_recurrent.cpp).

#include "../grid/dispatch.h"
#include "../grid/lif_recurrent.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {

void lif_recurrent_step_cuda(const LifRecurrentStepParams& p, c10::ScalarType dtype) {
  grid::dispatch_reset<grid::LifRecurrentStep>(dtype, p.reset, cuda::launcher(p));
}

void lif_recurrent_backward_step_cuda(const LifRecurrentBackwardStepParams& p, c10::ScalarType dtype) {
  grid::dispatch_reset<grid::LifRecurrentBackwardStep>(dtype, p.reset, cuda::launcher(p));
}

}  // namespace hnn_fast
