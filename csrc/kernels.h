#pragma once

// The per-backend kernel launchers, defined in cpu/<op>_cpu.cpp and cuda/<op>_cuda.cu. The host code
// (<op>.cpp) checks arguments, allocates outputs and fills a parameter struct (core/params.h); these
// only run the time loop.

#include <c10/core/ScalarType.h>

#include "core/params.h"

namespace hnn_fast {

void lif_forward_cpu(const LifForwardParams& p, c10::ScalarType dtype);
void lif_backward_cpu(const LifBackwardParams& p, c10::ScalarType dtype);
void leaky_forward_cpu(const LeakyForwardParams& p, c10::ScalarType dtype);
void leaky_backward_cpu(const LeakyBackwardParams& p, c10::ScalarType dtype);
void hu_window_forward_cpu(const HuWindowForwardParams& p, c10::ScalarType dtype);
void hu_window_backward_cpu(const HuWindowBackwardParams& p, c10::ScalarType dtype);
void hu_encode_forward_cpu(const HuEncodeForwardParams& p, c10::ScalarType dtype);
void hu_encode_backward_cpu(const HuEncodeBackwardParams& p, c10::ScalarType dtype);
void lif_recurrent_step_cpu(const LifRecurrentStepParams& p, c10::ScalarType dtype);
void lif_recurrent_backward_step_cpu(const LifRecurrentBackwardStepParams& p, c10::ScalarType dtype);

#ifdef HNN_FAST_WITH_CUDA
void lif_forward_cuda(const LifForwardParams& p, c10::ScalarType dtype);
void lif_backward_cuda(const LifBackwardParams& p, c10::ScalarType dtype);
void leaky_forward_cuda(const LeakyForwardParams& p, c10::ScalarType dtype);
void leaky_backward_cuda(const LeakyBackwardParams& p, c10::ScalarType dtype);
void hu_window_forward_cuda(const HuWindowForwardParams& p, c10::ScalarType dtype);
void hu_window_backward_cuda(const HuWindowBackwardParams& p, c10::ScalarType dtype);
void hu_encode_forward_cuda(const HuEncodeForwardParams& p, c10::ScalarType dtype);
void hu_encode_backward_cuda(const HuEncodeBackwardParams& p, c10::ScalarType dtype);
void lif_recurrent_step_cuda(const LifRecurrentStepParams& p, c10::ScalarType dtype);
void lif_recurrent_backward_step_cuda(const LifRecurrentBackwardStepParams& p, c10::ScalarType dtype);
#endif

}  // namespace hnn_fast
