// CUDA kernels of the multi-step LIF: the per-thread bodies are in grid/lif.h (math in core/lif.h, host
// code in lif.cpp).

#include "../grid/dispatch.h"
#include "../grid/lif.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {

void lif_forward_cuda(const LifForwardParams& p, c10::ScalarType dtype) {
  grid::dispatch_reset<grid::LifForward>(dtype, p.neuron.reset, cuda::launcher(p));
}

void lif_backward_cuda(const LifBackwardParams& p, c10::ScalarType dtype) {
  grid::dispatch_reset<grid::LifBackward>(dtype, p.neuron.reset, cuda::launcher(p));
}

}  // namespace hnn_fast
