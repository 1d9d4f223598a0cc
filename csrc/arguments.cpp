#include "arguments.h"

#include <array>
#include <cstddef>
#include <optional>
#include <sstream>
#include <string>

namespace hnn_fast {

at::ScalarType compute_dtype(at::ScalarType dtype) { return dtype == at::kDouble ? at::kDouble : at::kFloat; }

void check_sequence(const at::Tensor& x, std::string_view name) {
  TORCH_CHECK_VALUE(x.dim() >= 1, name, " must be a sequence [T, *shape] of rank >= 1, got a ", x.dim(),
                    "-d tensor");
  TORCH_CHECK_TYPE(at::isFloatingType(x.scalar_type()), name,
                   " must be a floating tensor (float32, float64, bfloat16 or float16), got ",
                   x.scalar_type());
}

int64_t neuron_count(const at::Tensor& x) {
  int64_t n = 1;
  for (int64_t d = 1; d < x.dim(); ++d) n *= x.size(d);
  return n;
}

at::Tensor as_time_major(const at::Tensor& x) {
  const int64_t T = x.size(0);
  const int64_t N = neuron_count(x);
  // Neurons are contiguous when the trailing dims are; the time stride is then free.
  int64_t expected = 1;
  bool neurons_contiguous = true;
  for (int64_t d = x.dim() - 1; d >= 1; --d) {
    if (x.size(d) != 1 && x.stride(d) != expected) {
      neurons_contiguous = false;
      break;
    }
    expected *= x.size(d);
  }
  if (neurons_contiguous && T > 0 && N > 0) {
    return x.as_strided({T, N}, {x.stride(0), 1});
  }
  return x.contiguous().view({T, N});
}

void check_same_device(const at::Tensor& x, const at::Tensor& other, std::string_view name) {
  TORCH_CHECK_VALUE(other.device() == x.device(), name, " must be on the same device as x (", x.device(),
                    "), got ", other.device());
}

static std::string shape_string(at::IntArrayRef sizes) {
  std::ostringstream out;
  out << sizes;
  return out.str();
}

// True when `sizes` broadcasts to `target` (right-aligned, each dim equal or 1).
static bool broadcasts_to(at::IntArrayRef sizes, at::IntArrayRef target) {
  if (sizes.size() > target.size()) return false;
  const size_t offset = target.size() - sizes.size();
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] != 1 && sizes[i] != target[offset + i]) return false;
  }
  return true;
}

static at::Tensor checked_float_param(const at::Tensor& p, std::string_view name, const at::Tensor& x) {
  check_same_device(x, p, name);
  TORCH_CHECK_TYPE(at::isFloatingType(p.scalar_type()), name, " must be a float or a floating tensor, got ",
                   p.scalar_type());
  return p;
}

at::Tensor per_neuron_buffer(const std::optional<at::Tensor>& p, std::string_view name, const at::Tensor& x) {
  if (!p.has_value() || !p->defined()) return {};
  checked_float_param(*p, name, x);
  const auto shape = x.sizes().slice(1);
  TORCH_CHECK_VALUE(broadcasts_to(p->sizes(), shape), name, " of shape ", shape_string(p->sizes()),
                    " does not broadcast to the neuron shape ", shape_string(shape));
  return p->to(compute_dtype(x.scalar_type())).expand(shape).contiguous().view({neuron_count(x)});
}

ThresholdBuffer threshold_buffer(const std::optional<at::Tensor>& threshold, const at::Tensor& x) {
  if (!threshold.has_value() || !threshold->defined()) return {};
  const at::Tensor& th = *threshold;
  if (th.dim() < x.dim()) return {per_neuron_buffer(threshold, "threshold", x), false};
  checked_float_param(th, "threshold", x);
  TORCH_CHECK_VALUE(th.dim() == x.dim() && broadcasts_to(th.sizes(), x.sizes()), "threshold of shape ",
                    shape_string(th.sizes()), " must broadcast to the neuron shape ",
                    shape_string(x.sizes().slice(1)), " or, per step, to x's shape ",
                    shape_string(x.sizes()));
  const auto buffer = th.to(compute_dtype(x.scalar_type())).expand(x.sizes()).contiguous();
  return {buffer.view({x.size(0), neuron_count(x)}), true};
}

at::Tensor initial_state_buffer(const std::optional<at::Tensor>& v0, const at::Tensor& x) {
  if (!v0.has_value() || !v0->defined()) return {};
  checked_float_param(*v0, "v0", x);
  const auto shape = x.sizes().slice(1);
  TORCH_CHECK_VALUE(v0->sizes() == shape, "v0 must have the neuron shape ", shape_string(shape),
                    " of x, got ", shape_string(v0->sizes()));
  return v0->to(compute_dtype(x.scalar_type())).contiguous().view({neuron_count(x)});
}

void check_decay_value(double decay) {
  TORCH_CHECK_VALUE(decay >= 0.0 && decay <= 1.0, "decay must be in [0, 1], got ", decay);
}

void check_alpha(double alpha) {
  TORCH_CHECK_VALUE(alpha > 0.0, "alpha (the surrogate's width or sharpness) must be positive, got ", alpha);
}

// The value of `name` in an argument's table of names; an unknown name is a ValueError that lists the
// table.
template <typename E, std::size_t N>
static E parse_named(const std::array<Named<E>, N>& table, std::string_view argument, std::string_view name) {
  const std::optional<E> value = find_named(table, name);
  TORCH_CHECK_VALUE(value.has_value(), argument, " must be ", one_of(table), ", got '", name, "'");
  return *value;
}

Reset parse_reset(std::string_view reset) { return parse_named(kResets, "reset", reset); }

Surrogate parse_surrogate(std::string_view surrogate) {
  return parse_named(kSurrogates, "surrogate", surrogate);
}

EncodeMode parse_encode_mode(std::string_view mode) { return parse_named(kEncodeModes, "mode", mode); }

Nonlinearity parse_nonlinearity(std::string_view nonlinearity) {
  return parse_named(kNonlinearities, "nonlinearity", nonlinearity);
}

WindowKernel parse_window_kernel(std::string_view kernel) {
  return parse_named(kWindowKernels, "kernel", kernel);
}

at::Tensor reduce_to_param(const at::Tensor& grad, const at::Tensor& param) {
  return at::sum_to(grad, param.sizes()).to(param.scalar_type());
}

}  // namespace hnn_fast
