// CUDA kernels of hu_window: the per-thread bodies are in grid/hu_window.h (math in core/hu.h, host code in
// hu_window.cpp).

#include "../grid/dispatch.h"
#include "../grid/hu_window.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {

void hu_window_forward_cuda(const HuWindowForwardParams& p, c10::ScalarType dtype) {
  grid::dispatch<grid::HuWindowForward>(dtype, cuda::launcher(p));
}

void hu_window_backward_cuda(const HuWindowBackwardParams& p, c10::ScalarType dtype) {
  grid::dispatch<grid::HuWindowBackward>(dtype, cuda::launcher(p));
}

}  // namespace hnn_fast
