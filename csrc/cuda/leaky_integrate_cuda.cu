// CUDA kernels of the leaky integrator: the per-thread bodies are in grid/leaky_integrate.h (math in
// core/leaky.h, host code in leaky_integrate.cpp).

#include "../grid/dispatch.h"
#include "../grid/leaky_integrate.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {

void leaky_forward_cuda(const LeakyForwardParams& p, c10::ScalarType dtype) {
  grid::dispatch<grid::LeakyForward>(dtype, cuda::launcher(p));
}

void leaky_backward_cuda(const LeakyBackwardParams& p, c10::ScalarType dtype) {
  grid::dispatch<grid::LeakyBackward>(dtype, cuda::launcher(p));
}

}  // namespace hnn_fast
