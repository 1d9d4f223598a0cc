#pragma once

#include <cstdint>

#include "hu.h"
#include "lif.h"
#include "surrogate.h"

namespace hnn_fast {

// Plain parameter structs handed from the device-independent host code (csrc/*.cpp) to the CPU and
// CUDA kernels. Sequences are time-major [T, N]: N neurons contiguous, `*_stride_t` elements between
// steps. "acc" buffers are in the compute type (float, or double for fp64 inputs); the others are in
// the input dtype. A null per-neuron pointer means "use the scalar value".

// The neuron's parameters, the same for the forward and the backward.
struct LifNeuron {
  const void* v0 = nullptr;     // acc [N] or null (zeros)
  const void* decay = nullptr;  // acc [N] or null
  double decay_value = 0.0;
  const void* threshold = nullptr;  // acc [N], acc [T, N] when threshold_per_step, or null
  bool threshold_per_step = false;
  double threshold_value = 1.0;
  Reset reset = Reset::Hard;
  double v_reset = 0.0;
};

struct LifForwardParams {
  int64_t T = 0, N = 0;
  const void* x = nullptr;  // [T, N], input dtype
  int64_t x_stride_t = 0;
  LifNeuron neuron;
  void* spikes = nullptr;  // [T, N], input dtype
  void* v_last = nullptr;  // [N], input dtype
  void* h = nullptr;       // acc [T, N], or null when no backward will run
};

struct LifBackwardParams {
  int64_t T = 0, N = 0;
  const void* grad_spikes = nullptr;  // [T, N], input dtype
  const void* grad_v_last = nullptr;  // acc [N]
  const void* h = nullptr;            // acc [T, N]
  const void* grad_h = nullptr;       // acc [T, N], or null when nothing outside reads h
  LifNeuron neuron;
  bool detach_reset = false;
  Surrogate surrogate = Surrogate::Rectangle;
  double alpha = 1.0;
  void* grad_x = nullptr;          // [T, N], input dtype
  void* grad_v0 = nullptr;         // acc [N]
  void* grad_decay = nullptr;      // acc [N] or null (not wanted)
  void* grad_threshold = nullptr;  // acc [N] or [T, N] (per step), or null (not wanted)
};

struct LeakyForwardParams {
  int64_t T = 0, N = 0;
  const void* x = nullptr;  // [T, N], input dtype
  int64_t x_stride_t = 0;
  const void* v0 = nullptr;     // acc [N] or null
  const void* decay = nullptr;  // acc [N] or null
  double decay_value = 0.0;
  void* v_seq = nullptr;  // [T, N], input dtype
};

struct LeakyBackwardParams {
  int64_t T = 0, N = 0;
  const void* grad_v_seq = nullptr;  // [T, N], input dtype
  const void* v_seq = nullptr;       // [T, N], input dtype
  const void* v0 = nullptr;          // acc [N] or null
  const void* decay = nullptr;       // acc [N] or null
  double decay_value = 0.0;
  void* grad_x = nullptr;      // [T, N], input dtype
  void* grad_v0 = nullptr;     // acc [N]
  void* grad_decay = nullptr;  // acc [N] or null
};

// hu_window: y [K, N] from x [T, N]. Weights: acc [channels, window] (channels 1: shared; else one row
// per channel of `inner` consecutive neurons), or null for the fixed kernels.
struct HuWindowForwardParams {
  int64_t T = 0, N = 0, K = 0, window = 1, stride = 1;
  const void* x = nullptr;  // [T, N], input dtype
  int64_t x_stride_t = 0;
  WindowKernel kernel = WindowKernel::Mean;
  double decay = 0.0;
  const void* weights = nullptr;
  int64_t channels = 1, inner = 0;
  void* y = nullptr;  // [K, N], input dtype
};

struct HuWindowBackwardParams {
  int64_t T = 0, N = 0, K = 0, window = 1, stride = 1;
  const void* grad_y = nullptr;  // [K, N], input dtype
  const void* x = nullptr;       // [T, N], input dtype, or null when no weight gradient is wanted
  int64_t x_stride_t = 0;
  WindowKernel kernel = WindowKernel::Mean;
  double decay = 0.0;
  const void* weights = nullptr;
  int64_t channels = 1, inner = 0;
  void* grad_x = nullptr;        // [T, N], input dtype, or null when not wanted
  void* grad_weights = nullptr;  // acc [window, N] per-neuron partial sums, or null when not wanted
};

// hu_encode: s [T, N] from a [N]; uniform (Poisson only): acc [T, N].
struct HuEncodeForwardParams {
  int64_t T = 0, N = 0;
  const void* a = nullptr;  // [N], input dtype
  const void* uniform = nullptr;
  EncodeMode mode = EncodeMode::Rate;
  Nonlinearity nonlinearity = Nonlinearity::Identity;
  void* spikes = nullptr;  // [T, N], input dtype
};

struct HuEncodeBackwardParams {
  int64_t T = 0, N = 0;
  const void* grad_spikes = nullptr;  // [T, N], input dtype
  const void* a = nullptr;            // [N], input dtype
  EncodeMode mode = EncodeMode::Rate;
  Nonlinearity nonlinearity = Nonlinearity::Identity;
  void* grad_a = nullptr;  // [N], input dtype
};

// lif_recurrent: one step over M = B * N neurons. The host code runs the time loop, computes the
// recurrent input between steps (a matrix product) and points every field at step t's rows.
struct LifRecurrentStepParams {
  int64_t M = 0;
  const void* x = nullptr;          // x_t [M], input dtype
  const void* recurrent = nullptr;  // acc [M]: r_t = s_{t-1} @ W
  const void* decay = nullptr;      // acc [M] or null
  double decay_value = 0.0;
  const void* threshold = nullptr;  // acc [M] (theta_t) or null
  double threshold_value = 1.0;
  Reset reset = Reset::Hard;
  double v_reset = 0.0;
  void* v = nullptr;       // acc [M]: v_{t-1} in, v_t out
  void* spikes = nullptr;  // s_t [M], input dtype
  void* h = nullptr;       // acc h_t [M], or null when no backward will run
};

struct LifRecurrentBackwardStepParams {
  int64_t M = 0;
  const void* grad_spikes = nullptr;     // dL/ds_t from outside [M], input dtype
  const void* grad_recurrent = nullptr;  // acc [M]: dL/ds_t through r_{t+1}, or null at the last step
  const void* h = nullptr;               // acc h_t [M]
  // v_{t-1}, for the decay gradient: recomputed from h_{t-1} (acc [M]) and theta_{t-1} (acc [M] or
  // null), or at t = 0 (h_prev null) the initial membrane v0 (acc [M] or null: zeros).
  const void* h_prev = nullptr;
  const void* threshold_prev = nullptr;
  const void* v0 = nullptr;
  const void* decay = nullptr;  // acc [M] or null
  double decay_value = 0.0;
  const void* threshold = nullptr;  // acc theta_t [M] or null
  double threshold_value = 1.0;
  Reset reset = Reset::Hard;
  double v_reset = 0.0;
  bool detach_reset = false;
  Surrogate surrogate = Surrogate::Rectangle;
  double alpha = 1.0;
  void* grad_v = nullptr;          // acc [M]: dL/dv_t in, dL/dv_{t-1} out
  void* grad_h = nullptr;          // acc dL/dh_t [M] (= dL/dx_t)
  void* grad_decay = nullptr;      // acc [M], accumulated, or null
  void* grad_threshold = nullptr;  // acc [M], accumulated (a per-step one: its own zeroed row), or null
};

}  // namespace hnn_fast
