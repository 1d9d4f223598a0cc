// The host harness of the CUDA kernels: internal `hnn_fast::_grid_*` ops (schemas in registration.cpp)
// that run a kernel's per-thread body (grid/<op>.h) for every (block, thread) of the grid its CUDA
// launcher uses, on the CPU, next to the CPU kernel on the same parameter struct, so that a machine
// without a GPU checks the CUDA kernels' indexing, grid-stride loop and dtype handling against the CPU
// kernels (tests/ops/test_cuda_grid.py). They take the buffers exactly as the kernels read them (the
// host code's preparation is not theirs to test): sequences [T, N] with contiguous neurons, per-neuron
// buffers [N] in the compute dtype. Each returns the CPU kernel's outputs and the grid's.

#include <ATen/ATen.h>
#include <torch/library.h>

#include <limits>
#include <optional>
#include <string_view>
#include <tuple>
#include <vector>

#include "../arguments.h"
#include "../kernels.h"
#include "dispatch.h"
#include "hu_encode.h"
#include "hu_window.h"
#include "leaky_integrate.h"
#include "lif.h"
#include "lif_recurrent.h"

namespace hnn_fast::grid {
namespace {

using Outputs = std::vector<at::Tensor>;
using Compared = std::tuple<Outputs, Outputs>;

// What cuda::launch does on the GPU, serially: the body for every thread of every block. blocks > 0
// launches that many blocks instead of the launcher's count, so that a small problem reaches the
// grid-stride loop (more neurons than threads).
template <typename Thread>
void run_grid(const typename Thread::Params& p, int64_t blocks) {
  const int64_t grid = blocks > 0 ? blocks : blocks_for(Thread::count(p));
  const int64_t step = thread_count(static_cast<uint32_t>(grid), kThreads);
  for (int64_t b = 0; b < grid; ++b) {
    for (int t = 0; t < kThreads; ++t)
      Thread::run(p, first_index(static_cast<uint32_t>(b), kThreads, t), step);
  }
}

template <typename Params>
auto host_launcher(const Params& p, int64_t blocks) {
  return [&p, blocks]<typename Thread>() { run_grid<Thread>(p, blocks); };
}

void check_blocks(int64_t blocks) {
  TORCH_CHECK_VALUE(blocks >= 0 && blocks <= kMaxBlocks, "blocks must be 0 (the launcher's grid) or 1 to ",
                    kMaxBlocks, ", got ", blocks);
}

// A buffer the kernel reads: a CPU tensor of exactly this dtype and shape, contiguous except that a
// time-major sequence ([T, N], time_strided) may have any step stride.
const void* input(const at::Tensor& t, std::string_view name, at::ScalarType dtype, at::IntArrayRef shape,
                  bool time_strided = false) {
  TORCH_CHECK_VALUE(t.device().is_cpu(), name, " must be a CPU tensor, got one on ", t.device());
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, name, " must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.sizes() == shape, name, " must have shape ", shape, ", got ", t.sizes());
  const bool laid_out = time_strided ? t.size(1) <= 1 || t.stride(1) == 1 : t.is_contiguous();
  TORCH_CHECK_VALUE(
      laid_out, name,
      time_strided ? " must have contiguous neurons (stride 1 in dim 1)" : " must be contiguous",
      ", got strides ", t.strides());
  return t.const_data_ptr();
}

const void* optional_input(const std::optional<at::Tensor>& t, std::string_view name, at::ScalarType dtype,
                           at::IntArrayRef shape) {
  return t.has_value() ? input(*t, name, dtype, shape) : nullptr;
}

// The step stride of a [T, N] sequence, as the host code's time-major view gives it.
int64_t step_stride(const at::Tensor& x) { return x.size(0) > 1 ? x.stride(0) : x.size(1); }

// An output buffer: NaN wherever the kernel writes nothing, so that an element no thread reaches shows.
at::Tensor output(at::IntArrayRef shape, at::ScalarType dtype) {
  return at::full(shape, std::numeric_limits<double>::quiet_NaN(), at::TensorOptions().dtype(dtype));
}

void* output_into(Outputs& outputs, at::IntArrayRef shape, at::ScalarType dtype, bool wanted = true) {
  outputs.push_back(wanted ? output(shape, dtype) : at::empty({0}, at::TensorOptions().dtype(dtype)));
  return wanted ? outputs.back().mutable_data_ptr() : nullptr;
}

// An in-out buffer (a state the kernel updates, an accumulated gradient): a copy of its input.
void* in_out(Outputs& outputs, const std::optional<at::Tensor>& initial, std::string_view name,
             at::ScalarType dtype, at::IntArrayRef shape) {
  optional_input(initial, name, dtype, shape);
  outputs.push_back(initial.has_value() ? initial->clone()
                                        : at::empty({0}, at::TensorOptions().dtype(dtype)));
  return initial.has_value() ? outputs.back().mutable_data_ptr() : nullptr;
}

// The CPU kernel and the grid on copies of p, each with its own outputs: allocate(q) points q at them.
template <typename Params, typename Allocate, typename Cpu, typename Grid>
Compared compare(const Params& p, const Allocate& allocate, const Cpu& cpu, const Grid& grid) {
  Params on_cpu = p, on_grid = p;
  Outputs cpu_out = allocate(on_cpu), grid_out = allocate(on_grid);
  cpu(on_cpu);
  grid(on_grid);
  return {cpu_out, grid_out};
}

at::ScalarType acc_of(const at::Tensor& x) { return compute_dtype(x.scalar_type()); }

// ---- leaky_integrate ---------------------------------------------------------------------------------

Compared leaky_integrate(const at::Tensor& x, const std::optional<at::Tensor>& v0,
                         const std::optional<at::Tensor>& decay, double decay_value, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(x, "x");
  TORCH_CHECK_VALUE(x.dim() == 2, "x must be [T, N], got ", x.sizes());
  const auto dtype = x.scalar_type(), acc = acc_of(x);
  LeakyForwardParams p;
  p.T = x.size(0);
  p.N = x.size(1);
  p.x = input(x, "x", dtype, x.sizes(), true);
  p.x_stride_t = step_stride(x);
  p.v0 = optional_input(v0, "v0", acc, {p.N});
  p.decay = optional_input(decay, "decay", acc, {p.N});
  p.decay_value = decay_value;
  return compare(
      p,
      [&](LeakyForwardParams& q) {
        Outputs out;
        q.v_seq = output_into(out, {q.T, q.N}, dtype);
        return out;
      },
      [&](const LeakyForwardParams& q) { leaky_forward_cpu(q, dtype); },
      [&](const LeakyForwardParams& q) { dispatch<LeakyForward>(dtype, host_launcher(q, blocks)); });
}

Compared leaky_integrate_backward(const at::Tensor& grad_v_seq, const at::Tensor& v_seq,
                                  const std::optional<at::Tensor>& v0, const std::optional<at::Tensor>& decay,
                                  double decay_value, bool want_decay, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(grad_v_seq, "grad_v_seq");
  TORCH_CHECK_VALUE(grad_v_seq.dim() == 2, "grad_v_seq must be [T, N], got ", grad_v_seq.sizes());
  const auto dtype = grad_v_seq.scalar_type(), acc = acc_of(grad_v_seq);
  LeakyBackwardParams p;
  p.T = grad_v_seq.size(0);
  p.N = grad_v_seq.size(1);
  p.grad_v_seq = input(grad_v_seq, "grad_v_seq", dtype, grad_v_seq.sizes());
  p.v_seq = input(v_seq, "v_seq", dtype, grad_v_seq.sizes());
  p.v0 = optional_input(v0, "v0", acc, {p.N});
  p.decay = optional_input(decay, "decay", acc, {p.N});
  p.decay_value = decay_value;
  return compare(
      p,
      [&](LeakyBackwardParams& q) {
        Outputs out;
        q.grad_x = output_into(out, {q.T, q.N}, dtype);
        q.grad_v0 = output_into(out, {q.N}, acc);
        q.grad_decay = output_into(out, {q.N}, acc, want_decay);
        return out;
      },
      [&](const LeakyBackwardParams& q) { leaky_backward_cpu(q, dtype); },
      [&](const LeakyBackwardParams& q) { dispatch<LeakyBackward>(dtype, host_launcher(q, blocks)); });
}

// ---- hu_window ---------------------------------------------------------------------------------------

// The window, stride, kernel and weights ([channels, window] in the compute dtype) of either direction.
template <typename Params>
void window_params(Params& p, int64_t window, int64_t stride, std::string_view kernel, double decay,
                   const std::optional<at::Tensor>& weights, at::ScalarType acc) {
  TORCH_CHECK_VALUE(window > 0 && stride > 0, "window and stride must be positive, got ", window, " and ",
                    stride);
  p.window = window;
  p.stride = stride;
  p.kernel = parse_window_kernel(kernel);
  p.decay = decay;
  TORCH_CHECK_VALUE(weights.has_value() == (p.kernel == WindowKernel::Weights),
                    "weights are given exactly when kernel='weights'");
  p.channels = weights.has_value() ? weights->size(0) : 1;
  TORCH_CHECK_VALUE(
      weights.has_value() ? weights->dim() == 2 && p.channels > 0 && p.N % p.channels == 0 : true,
      "weights must be [channels, window] with channels dividing N = ", p.N);
  p.weights = optional_input(weights, "weights", acc, {p.channels, window});
  p.inner = p.N / p.channels;
}

Compared hu_window(const at::Tensor& x, int64_t K, int64_t window, int64_t stride, c10::string_view kernel,
                   double decay, const std::optional<at::Tensor>& weights, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(x, "x");
  TORCH_CHECK_VALUE(x.dim() == 2, "x must be [T, N], got ", x.sizes());
  TORCH_CHECK_VALUE(K >= 0 && (K == 0 || (K - 1) * stride < x.size(0)), "K = ", K,
                    " windows must start inside the sequence");
  const auto dtype = x.scalar_type();
  HuWindowForwardParams p;
  p.T = x.size(0);
  p.N = x.size(1);
  p.K = K;
  p.x = input(x, "x", dtype, x.sizes(), true);
  p.x_stride_t = step_stride(x);
  window_params(p, window, stride, kernel, decay, weights, acc_of(x));
  return compare(
      p,
      [&](HuWindowForwardParams& q) {
        Outputs out;
        q.y = output_into(out, {q.K, q.N}, dtype);
        return out;
      },
      [&](const HuWindowForwardParams& q) { hu_window_forward_cpu(q, dtype); },
      [&](const HuWindowForwardParams& q) { dispatch<HuWindowForward>(dtype, host_launcher(q, blocks)); });
}

Compared hu_window_backward(const at::Tensor& grad_y, const std::optional<at::Tensor>& x, int64_t T,
                            int64_t window, int64_t stride, c10::string_view kernel, double decay,
                            const std::optional<at::Tensor>& weights, bool want_x, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(grad_y, "grad_y");
  TORCH_CHECK_VALUE(grad_y.dim() == 2, "grad_y must be [K, N], got ", grad_y.sizes());
  const int64_t K = grad_y.size(0);
  TORCH_CHECK_VALUE(T > 0 && (K == 0 || (K - 1) * stride < T), "grad_y's ", K,
                    " windows must start inside a sequence of length T = ", T);
  const auto dtype = grad_y.scalar_type(), acc = acc_of(grad_y);
  HuWindowBackwardParams p;
  p.T = T;
  p.N = grad_y.size(1);
  p.K = K;
  p.grad_y = input(grad_y, "grad_y", dtype, grad_y.sizes());
  p.x = x.has_value() ? input(*x, "x", dtype, {T, p.N}, true) : nullptr;
  p.x_stride_t = x.has_value() ? step_stride(*x) : 0;
  window_params(p, window, stride, kernel, decay, weights, acc);
  return compare(
      p,
      [&](HuWindowBackwardParams& q) {
        Outputs out;
        q.grad_x = output_into(out, {q.T, q.N}, dtype, want_x);
        q.grad_weights = output_into(out, {q.window, q.N}, acc, x.has_value());
        return out;
      },
      [&](const HuWindowBackwardParams& q) { hu_window_backward_cpu(q, dtype); },
      [&](const HuWindowBackwardParams& q) { dispatch<HuWindowBackward>(dtype, host_launcher(q, blocks)); });
}

// ---- hu_encode ---------------------------------------------------------------------------------------

Compared hu_encode(const at::Tensor& a, int64_t T, c10::string_view mode, c10::string_view nonlinearity,
                   const std::optional<at::Tensor>& uniform, int64_t blocks) {
  check_blocks(blocks);
  TORCH_CHECK_VALUE(a.dim() == 1, "a must be [N], got ", a.sizes());
  TORCH_CHECK_VALUE(T >= 0, "T must be >= 0, got ", T);
  const auto dtype = a.scalar_type();
  HuEncodeForwardParams p;
  p.T = T;
  p.N = a.size(0);
  p.a = input(a, "a", dtype, a.sizes());
  p.mode = parse_encode_mode(mode);
  p.nonlinearity = parse_nonlinearity(nonlinearity);
  TORCH_CHECK_VALUE(uniform.has_value() == (p.mode == EncodeMode::Poisson),
                    "uniform is given exactly when mode='poisson'");
  p.uniform = optional_input(uniform, "uniform", acc_of(a), {T, p.N});
  return compare(
      p,
      [&](HuEncodeForwardParams& q) {
        Outputs out;
        q.spikes = output_into(out, {q.T, q.N}, dtype);
        return out;
      },
      [&](const HuEncodeForwardParams& q) { hu_encode_forward_cpu(q, dtype); },
      [&](const HuEncodeForwardParams& q) { dispatch<HuEncodeForward>(dtype, host_launcher(q, blocks)); });
}

Compared hu_encode_backward(const at::Tensor& grad_spikes, const at::Tensor& a, c10::string_view mode,
                            c10::string_view nonlinearity, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(grad_spikes, "grad_spikes");
  TORCH_CHECK_VALUE(grad_spikes.dim() == 2, "grad_spikes must be [T, N], got ", grad_spikes.sizes());
  const auto dtype = grad_spikes.scalar_type();
  HuEncodeBackwardParams p;
  p.T = grad_spikes.size(0);
  p.N = grad_spikes.size(1);
  p.grad_spikes = input(grad_spikes, "grad_spikes", dtype, grad_spikes.sizes());
  p.a = input(a, "a", dtype, {p.N});
  p.mode = parse_encode_mode(mode);
  p.nonlinearity = parse_nonlinearity(nonlinearity);
  return compare(
      p,
      [&](HuEncodeBackwardParams& q) {
        Outputs out;
        q.grad_a = output_into(out, {q.N}, dtype);
        return out;
      },
      [&](const HuEncodeBackwardParams& q) { hu_encode_backward_cpu(q, dtype); },
      [&](const HuEncodeBackwardParams& q) { dispatch<HuEncodeBackward>(dtype, host_launcher(q, blocks)); });
}

// ---- lif_recurrent: one step -------------------------------------------------------------------------

// The neuron's fields of either step's parameters: decay and threshold [M] in the compute dtype.
template <typename Params>
void neuron_params(Params& p, at::ScalarType acc, const std::optional<at::Tensor>& decay, double decay_value,
                   const std::optional<at::Tensor>& threshold, double threshold_value, std::string_view reset,
                   double v_reset) {
  p.decay = optional_input(decay, "decay", acc, {p.M});
  p.decay_value = decay_value;
  p.threshold = optional_input(threshold, "threshold", acc, {p.M});
  p.threshold_value = threshold_value;
  p.reset = parse_reset(reset);
  p.v_reset = v_reset;
}

Compared lif_recurrent_step(const at::Tensor& x, const at::Tensor& recurrent, const at::Tensor& v,
                            const std::optional<at::Tensor>& decay, double decay_value,
                            const std::optional<at::Tensor>& threshold, double threshold_value,
                            c10::string_view reset, double v_reset, bool save_h, int64_t blocks) {
  check_blocks(blocks);
  TORCH_CHECK_VALUE(x.dim() == 1, "x must be one step [M], got ", x.sizes());
  const auto dtype = x.scalar_type(), acc = acc_of(x);
  LifRecurrentStepParams p;
  p.M = x.size(0);
  p.x = input(x, "x", dtype, x.sizes());
  p.recurrent = input(recurrent, "recurrent", acc, {p.M});
  neuron_params(p, acc, decay, decay_value, threshold, threshold_value, reset, v_reset);
  return compare(
      p,
      [&](LifRecurrentStepParams& q) {
        Outputs out;
        q.v = in_out(out, v, "v", acc, {q.M});
        q.spikes = output_into(out, {q.M}, dtype);
        q.h = output_into(out, {q.M}, acc, save_h);
        return out;
      },
      [&](const LifRecurrentStepParams& q) { lif_recurrent_step_cpu(q, dtype); },
      [&](const LifRecurrentStepParams& q) {
        dispatch_reset<LifRecurrentStep>(dtype, q.reset, host_launcher(q, blocks));
      });
}

Compared lif_recurrent_backward_step(
    const at::Tensor& grad_spikes, const std::optional<at::Tensor>& grad_recurrent, const at::Tensor& h,
    const std::optional<at::Tensor>& h_prev, const std::optional<at::Tensor>& threshold_prev,
    const std::optional<at::Tensor>& v0, const at::Tensor& grad_v,
    const std::optional<at::Tensor>& grad_decay, const std::optional<at::Tensor>& grad_threshold,
    const std::optional<at::Tensor>& decay, double decay_value, const std::optional<at::Tensor>& threshold,
    double threshold_value, c10::string_view reset, double v_reset, bool detach_reset,
    c10::string_view surrogate, double alpha, int64_t blocks) {
  check_blocks(blocks);
  TORCH_CHECK_VALUE(grad_spikes.dim() == 1, "grad_spikes must be one step [M], got ", grad_spikes.sizes());
  const auto dtype = grad_spikes.scalar_type(), acc = acc_of(grad_spikes);
  LifRecurrentBackwardStepParams p;
  p.M = grad_spikes.size(0);
  p.grad_spikes = input(grad_spikes, "grad_spikes", dtype, grad_spikes.sizes());
  p.grad_recurrent = optional_input(grad_recurrent, "grad_recurrent", acc, {p.M});
  p.h = input(h, "h", acc, {p.M});
  p.h_prev = optional_input(h_prev, "h_prev", acc, {p.M});
  p.threshold_prev = optional_input(threshold_prev, "threshold_prev", acc, {p.M});
  p.v0 = optional_input(v0, "v0", acc, {p.M});
  neuron_params(p, acc, decay, decay_value, threshold, threshold_value, reset, v_reset);
  p.detach_reset = detach_reset;
  p.surrogate = parse_surrogate(surrogate);
  p.alpha = alpha;
  return compare(
      p,
      [&](LifRecurrentBackwardStepParams& q) {
        Outputs out;
        q.grad_v = in_out(out, grad_v, "grad_v", acc, {q.M});
        q.grad_h = output_into(out, {q.M}, acc);
        q.grad_decay = in_out(out, grad_decay, "grad_decay", acc, {q.M});
        q.grad_threshold = in_out(out, grad_threshold, "grad_threshold", acc, {q.M});
        return out;
      },
      [&](const LifRecurrentBackwardStepParams& q) { lif_recurrent_backward_step_cpu(q, dtype); },
      [&](const LifRecurrentBackwardStepParams& q) {
        dispatch_reset<LifRecurrentBackwardStep>(dtype, q.reset, host_launcher(q, blocks));
      });
}

// ---- lif ---------------------------------------------------------------------------------------------

// The neuron's buffers, in the compute dtype: v0 and decay [N], threshold [N] or [T, N] (per step).
LifNeuron lif_neuron(int64_t T, int64_t N, at::ScalarType acc, const std::optional<at::Tensor>& v0,
                     const std::optional<at::Tensor>& decay, double decay_value,
                     const std::optional<at::Tensor>& threshold, double threshold_value,
                     std::string_view reset, double v_reset) {
  LifNeuron neuron;
  neuron.v0 = optional_input(v0, "v0", acc, {N});
  neuron.decay = optional_input(decay, "decay", acc, {N});
  neuron.decay_value = decay_value;
  neuron.threshold_per_step = threshold.has_value() && threshold->dim() == 2;
  neuron.threshold = neuron.threshold_per_step ? optional_input(threshold, "threshold", acc, {T, N})
                                               : optional_input(threshold, "threshold", acc, {N});
  neuron.threshold_value = threshold_value;
  neuron.reset = parse_reset(reset);
  neuron.v_reset = v_reset;
  return neuron;
}

Compared lif(const at::Tensor& x, const std::optional<at::Tensor>& v0, const std::optional<at::Tensor>& decay,
             double decay_value, const std::optional<at::Tensor>& threshold, double threshold_value,
             c10::string_view reset, double v_reset, bool save_h, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(x, "x");
  TORCH_CHECK_VALUE(x.dim() == 2, "x must be [T, N], got ", x.sizes());
  const auto dtype = x.scalar_type(), acc = acc_of(x);
  LifForwardParams p;
  p.T = x.size(0);
  p.N = x.size(1);
  p.x = input(x, "x", dtype, x.sizes(), true);
  p.x_stride_t = step_stride(x);
  p.neuron = lif_neuron(p.T, p.N, acc, v0, decay, decay_value, threshold, threshold_value, reset, v_reset);
  return compare(
      p,
      [&](LifForwardParams& q) {
        Outputs out;
        q.spikes = output_into(out, {q.T, q.N}, dtype);
        q.v_last = output_into(out, {q.N}, dtype);
        q.h = output_into(out, {q.T, q.N}, acc, save_h);
        return out;
      },
      [&](const LifForwardParams& q) { lif_forward_cpu(q, dtype); },
      [&](const LifForwardParams& q) {
        dispatch_reset<LifForward>(dtype, q.neuron.reset, host_launcher(q, blocks));
      });
}

// output_mask: the decay and threshold gradients (v0's is always computed).
Compared lif_backward(const at::Tensor& grad_spikes, const std::optional<at::Tensor>& grad_v_last,
                      const std::optional<at::Tensor>& grad_h, const at::Tensor& h,
                      const std::optional<at::Tensor>& v0, const std::optional<at::Tensor>& decay,
                      double decay_value, const std::optional<at::Tensor>& threshold, double threshold_value,
                      c10::string_view reset, double v_reset, bool detach_reset, c10::string_view surrogate,
                      double alpha, std::array<bool, 2> output_mask, int64_t blocks) {
  check_blocks(blocks);
  check_sequence(grad_spikes, "grad_spikes");
  TORCH_CHECK_VALUE(grad_spikes.dim() == 2, "grad_spikes must be [T, N], got ", grad_spikes.sizes());
  const auto dtype = grad_spikes.scalar_type(), acc = acc_of(grad_spikes);
  LifBackwardParams p;
  p.T = grad_spikes.size(0);
  p.N = grad_spikes.size(1);
  p.grad_spikes = input(grad_spikes, "grad_spikes", dtype, grad_spikes.sizes());
  p.grad_v_last = optional_input(grad_v_last, "grad_v_last", acc, {p.N});
  p.grad_h = optional_input(grad_h, "grad_h", acc, grad_spikes.sizes());
  p.h = input(h, "h", acc, grad_spikes.sizes());
  p.neuron = lif_neuron(p.T, p.N, acc, v0, decay, decay_value, threshold, threshold_value, reset, v_reset);
  p.detach_reset = detach_reset;
  p.surrogate = parse_surrogate(surrogate);
  p.alpha = alpha;
  const auto [need_decay, need_threshold] = output_mask;
  TORCH_CHECK_VALUE(!need_decay || decay.has_value(), "a decay gradient needs a decay tensor");
  TORCH_CHECK_VALUE(!need_threshold || threshold.has_value(),
                    "a threshold gradient needs a threshold tensor");
  return compare(
      p,
      [&](LifBackwardParams& q) {
        Outputs out;
        q.grad_x = output_into(out, {q.T, q.N}, dtype);
        q.grad_v0 = output_into(out, {q.N}, acc);
        q.grad_decay = output_into(out, {q.N}, acc, need_decay);
        q.grad_threshold = output_into(
            out, q.neuron.threshold_per_step ? std::vector<int64_t>{q.T, q.N} : std::vector<int64_t>{q.N},
            acc, need_threshold);
        return out;
      },
      [&](const LifBackwardParams& q) { lif_backward_cpu(q, dtype); },
      [&](const LifBackwardParams& q) {
        dispatch_reset<LifBackward>(dtype, q.neuron.reset, host_launcher(q, blocks));
      });
}

// ---- the grid itself ---------------------------------------------------------------------------------

int64_t blocks(int64_t count) {
  TORCH_CHECK_VALUE(count >= 0, "count must be >= 0, got ", count);
  return blocks_for(count);
}

// The offsets (t, n) of a [T, count] buffer with step stride stride_t for the neurons n that thread
// `thread` of block `block` handles in a grid of `grid_blocks` blocks: the addresses its body reads at
// step t, without a buffer of that size.
at::Tensor offsets(int64_t count, int64_t grid_blocks, int64_t block, int64_t thread, int64_t t,
                   int64_t stride_t) {
  TORCH_CHECK_VALUE(count >= 0, "count must be >= 0, got ", count);
  TORCH_CHECK_VALUE(grid_blocks >= 1 && grid_blocks <= kMaxBlocks, "blocks must be 1 to ", kMaxBlocks,
                    ", got ", grid_blocks);
  TORCH_CHECK_VALUE(block >= 0 && block < grid_blocks, "block must be in [0, ", grid_blocks, "), got ",
                    block);
  TORCH_CHECK_VALUE(thread >= 0 && thread < kThreads, "thread must be in [0, ", kThreads, "), got ", thread);
  TORCH_CHECK_VALUE(t >= 0 && stride_t >= 0, "t and stride_t must be >= 0, got ", t, " and ", stride_t);
  const int64_t first = first_index(static_cast<uint32_t>(block), kThreads, static_cast<uint32_t>(thread));
  const int64_t step = thread_count(static_cast<uint32_t>(grid_blocks), kThreads);
  TORCH_CHECK_VALUE(count <= first || (count - first - 1) / step < (int64_t{1} << 20),
                    "the thread would visit more than 2^20 neurons");
  std::vector<int64_t> out;
  for_each_neuron(first, step, count, [&](int64_t n) { out.push_back(offset(t, stride_t, n)); });
  return at::tensor(out, at::TensorOptions().dtype(at::kLong));
}

}  // namespace

TORCH_LIBRARY_IMPL(hnn_fast, CPU, m) {
  m.impl("_grid_lif", &lif);
  m.impl("_grid_lif_backward", &lif_backward);
  m.impl("_grid_leaky_integrate", &leaky_integrate);
  m.impl("_grid_leaky_integrate_backward", &leaky_integrate_backward);
  m.impl("_grid_hu_window", &hu_window);
  m.impl("_grid_hu_window_backward", &hu_window_backward);
  m.impl("_grid_hu_encode", &hu_encode);
  m.impl("_grid_hu_encode_backward", &hu_encode_backward);
  m.impl("_grid_lif_recurrent_step", &lif_recurrent_step);
  m.impl("_grid_lif_recurrent_backward_step", &lif_recurrent_backward_step);
}

// No tensor argument to dispatch on.
TORCH_LIBRARY_IMPL(hnn_fast, CompositeExplicitAutograd, m) {
  m.impl("_grid_blocks", &blocks);
  m.impl("_grid_offsets", &offsets);
}

}  // namespace hnn_fast::grid
