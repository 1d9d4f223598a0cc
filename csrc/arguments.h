#pragma once

// Argument checking and preparation shared by every op's host code. Errors name the argument and
// what was expected; TORCH_CHECK_VALUE / TORCH_CHECK_TYPE surface in Python as ValueError / TypeError.

#include <ATen/ATen.h>

#include <optional>
#include <string_view>

#include "core/options.h"

namespace hnn_fast {

// The dtype the kernels compute in: fp64 for fp64 inputs, fp32 for everything else.
at::ScalarType compute_dtype(at::ScalarType dtype);

// x must be a floating tensor of rank >= 1 ([T, *shape]).
void check_sequence(const at::Tensor& x, std::string_view name);

// A view of x as [T, N] whose neurons are contiguous (time may have any stride); copies only when
// the neuron dimensions are not contiguous.
at::Tensor as_time_major(const at::Tensor& x);

// The number of neurons N = prod(shape) of a [T, *shape] sequence.
int64_t neuron_count(const at::Tensor& x);

void check_same_device(const at::Tensor& x, const at::Tensor& other, std::string_view name);

// A per-neuron parameter given as a tensor broadcastable to `shape`, as a contiguous [N] buffer in the
// compute dtype. Returns an undefined tensor when p is absent.
at::Tensor per_neuron_buffer(const std::optional<at::Tensor>& p, std::string_view name, const at::Tensor& x);

// A threshold: broadcastable to `shape` (-> [N]) or, when it has x's rank, to [T, *shape] (-> [T, N]).
struct ThresholdBuffer {
  at::Tensor buffer;
  bool per_step = false;
};
ThresholdBuffer threshold_buffer(const std::optional<at::Tensor>& threshold, const at::Tensor& x);

// v0 must have exactly the neuron shape of x; returned as [N] in the compute dtype.
at::Tensor initial_state_buffer(const std::optional<at::Tensor>& v0, const at::Tensor& x);

void check_decay_value(double decay);
void check_alpha(double alpha);

// The enum of a string argument, from its table in core/options.h.
Reset parse_reset(std::string_view reset);
Surrogate parse_surrogate(std::string_view surrogate);
EncodeMode parse_encode_mode(std::string_view mode);
Nonlinearity parse_nonlinearity(std::string_view nonlinearity);
WindowKernel parse_window_kernel(std::string_view kernel);

// Reduce a gradient computed at the expanded size back to the parameter's own shape and dtype.
at::Tensor reduce_to_param(const at::Tensor& grad, const at::Tensor& param);

// The placeholder a backward op returns for a gradient nobody asked for: a fresh empty tensor each
// time, since the outputs of a functional op must not alias each other.
inline at::Tensor unwanted_grad(const at::Tensor& like) { return at::empty({0}, like.options()); }

inline const void* data_or_null(const at::Tensor& t) { return t.defined() ? t.const_data_ptr() : nullptr; }
inline void* mutable_data_or_null(const at::Tensor& t) {
  return t.defined() ? t.mutable_data_ptr() : nullptr;
}

}  // namespace hnn_fast
