// CUDA kernels of hu_encode: the per-thread bodies are in grid/hu_encode.h (math in core/hu.h, host code in
// hu_encode.cpp).

#include "../grid/dispatch.h"
#include "../grid/hu_encode.h"
#include "../kernels.h"
#include "launch.cuh"

namespace hnn_fast {

void hu_encode_forward_cuda(const HuEncodeForwardParams& p, c10::ScalarType dtype) {
  grid::dispatch<grid::HuEncodeForward>(dtype, cuda::launcher(p));
}

void hu_encode_backward_cuda(const HuEncodeBackwardParams& p, c10::ScalarType dtype) {
  grid::dispatch<grid::HuEncodeBackward>(dtype, cuda::launcher(p));
}

}  // namespace hnn_fast
