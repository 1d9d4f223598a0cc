// Host code of the `lif_recurrent` and `lif_recurrent_backward` ops: argument checks, output
// allocation and the time loop. Between the elementwise steps (the CPU or CUDA kernel) the recurrent
// input s_{t-1} @ W and, backwards, dL/dh_t @ W^T are matrix products through ATen (BLAS on the CPU,
// cuBLAS on the GPU): a step's product depends on the previous step's spikes, so the loop is
// sequential, and the vendor GEMM is faster than a hand-written one at every N the ops target. The
// weight gradient sum_t s_{t-1}^T dL/dh_t is a single product over all steps after the loop, on the
// saved spikes as they lie.

#include <ATen/ATen.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include "arguments.h"
#include "kernels.h"

namespace hnn_fast {
namespace {

struct Dims {
  int64_t T, B, N;
};

Dims check_recurrent(const at::Tensor& x, const at::Tensor& weight) {
  check_sequence(x, "x");
  TORCH_CHECK_VALUE(x.dim() == 3, "x must be [T, B, N] (steps, samples, neurons), got a ", x.dim(),
                    "-d tensor");
  check_same_device(x, weight, "weight");
  TORCH_CHECK_TYPE(weight.scalar_type() == x.scalar_type(), "weight must have x's dtype ", x.scalar_type(),
                   ", got ", weight.scalar_type());
  const int64_t B = x.size(1), N = x.size(2);
  const bool shared = weight.dim() == 2 && weight.size(0) == N && weight.size(1) == N;
  const bool per_sample =
      weight.dim() == 3 && weight.size(0) == B && weight.size(1) == N && weight.size(2) == N;
  TORCH_CHECK_VALUE(shared || per_sample, "weight must be [N, N] = [", N, ", ", N,
                    "] (shared) or [B, N, N] = [", B, ", ", N, ", ", N, "] (one per sample), got ",
                    weight.sizes());
  return {x.size(0), B, N};
}

// s0 as [B, N] in the compute dtype, or an undefined tensor when absent (zeros).
at::Tensor initial_spikes(const std::optional<at::Tensor>& s0, const at::Tensor& x) {
  if (!s0.has_value() || !s0->defined()) return {};
  check_same_device(x, *s0, "s0");
  TORCH_CHECK_TYPE(at::isFloatingType(s0->scalar_type()), "s0 must be a floating tensor, got ",
                   s0->scalar_type());
  TORCH_CHECK_VALUE(s0->sizes() == x.sizes().slice(1), "s0 must be [B, N] = ", x.sizes().slice(1), ", got ",
                    s0->sizes());
  return s0->to(compute_dtype(x.scalar_type()));
}

// out [B, N] = s [B, N] @ w, w [N, N] or [B, N, N]: the calls hnn_fast.reference.recurrent_input makes
// (torch.matmul reaches the same mm and bmm), so the products, and hence the spikes, agree bit for bit.
void matmul_into(at::Tensor& out, const at::Tensor& s, const at::Tensor& w) {
  if (w.dim() == 2) {
    at::mm_out(out, s, w);
  } else {
    at::Tensor out3 = out.unsqueeze(1);
    at::bmm_out(out3, s.unsqueeze(1), w);
  }
}

// sum_t a_t^T b_t over a, b = [S, B, N]: [N, N] summed over the batch too (weight_dim 2), or
// [B, N, N] one per sample (weight_dim 3). The shared case is one product over S * B rows in place.
at::Tensor outer_sum(const at::Tensor& a, const at::Tensor& b, int64_t weight_dim) {
  const int64_t N = a.size(2);
  if (weight_dim == 2) return at::mm(a.reshape({-1, N}).t(), b.reshape({-1, N}));
  return at::bmm(a.permute({1, 2, 0}), b.permute({1, 0, 2}));
}

// Row t of a [T, M] tensor whose rows are contiguous.
template <typename T>
T* row(const at::Tensor& t2, int64_t t) {
  return static_cast<T*>(
      static_cast<void*>(static_cast<char*>(t2.data_ptr()) + t * t2.stride(0) * t2.element_size()));
}

void step(const LifRecurrentStepParams& p, const at::Tensor& x) {
#ifdef HNN_FAST_WITH_CUDA
  if (x.is_cuda()) return lif_recurrent_step_cuda(p, x.scalar_type());
#endif
  lif_recurrent_step_cpu(p, x.scalar_type());
}

void backward_step(const LifRecurrentBackwardStepParams& p, const at::Tensor& x) {
#ifdef HNN_FAST_WITH_CUDA
  if (x.is_cuda()) return lif_recurrent_backward_step_cuda(p, x.scalar_type());
#endif
  lif_recurrent_backward_step_cpu(p, x.scalar_type());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lif_recurrent(
    const at::Tensor& x, const at::Tensor& weight, const std::optional<at::Tensor>& v0,
    const std::optional<at::Tensor>& s0, const std::optional<at::Tensor>& decay, double decay_value,
    const std::optional<at::Tensor>& threshold, double threshold_value, c10::string_view reset,
    double v_reset, bool detach_reset, c10::string_view surrogate, double alpha, bool save_h) {
  const auto [T, B, N] = check_recurrent(x, weight);
  parse_surrogate(surrogate);
  check_alpha(alpha);
  const c10::DeviceGuard guard(x.device());
  if (!decay.has_value()) check_decay_value(decay_value);
  const at::Tensor x2 = as_time_major(x);
  const at::Tensor v0_buf = initial_state_buffer(v0, x);
  const at::Tensor s0_buf = initial_spikes(s0, x);
  const at::Tensor decay_buf = per_neuron_buffer(decay, "decay", x);
  const ThresholdBuffer th = threshold_buffer(threshold, x);
  const int64_t M = B * N;

  const auto acc = compute_dtype(x.scalar_type());
  const auto acc_options = x.options().dtype(acc);
  at::Tensor spikes = at::empty(x.sizes(), x.options().memory_format(at::MemoryFormat::Contiguous));
  at::Tensor h = at::empty(save_h ? x.sizes() : at::IntArrayRef{0}, acc_options);
  at::Tensor v = v0_buf.defined() ? v0_buf.clone() : at::zeros({M}, acc_options);
  // The products run in the compute dtype: for fp16/bf16 the sum of up to N weights is not rounded to
  // the input dtype, and the spikes s_{t-1} go through a compute-dtype copy.
  const at::Tensor w = weight.to(acc);
  const bool same_dtype = acc == x.scalar_type();
  at::Tensor s_acc = same_dtype ? at::Tensor() : at::empty({B, N}, acc_options);
  at::Tensor recurrent = at::zeros({B, N}, acc_options);

  LifRecurrentStepParams p;
  p.M = M;
  p.recurrent = recurrent.const_data_ptr();
  p.decay = data_or_null(decay_buf);
  p.decay_value = decay_value;
  p.threshold_value = threshold_value;
  p.reset = parse_reset(reset);
  p.v_reset = v_reset;
  p.v = v.mutable_data_ptr();
  const at::Tensor spikes2 = spikes.view({T, M});
  at::Tensor s_prev = s0_buf;
  for (int64_t t = 0; t < T && M > 0; ++t) {
    if (s_prev.defined()) matmul_into(recurrent, s_prev, w);  // else zeros: s_0 = 0
    p.x = row<const void>(x2, t);
    p.threshold = th.per_step ? row<const void>(th.buffer, t) : data_or_null(th.buffer);
    p.spikes = row<void>(spikes2, t);
    p.h = save_h ? row<void>(h.view({T, M}), t) : nullptr;
    step(p, x);
    s_prev = spikes[t];
    if (!same_dtype) s_prev = s_acc.copy_(s_prev);
  }
  return {spikes, v.view({B, N}).to(x.scalar_type()), h};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> lif_recurrent_backward(
    const at::Tensor& grad_spikes, const at::Tensor& grad_v_last, const at::Tensor& h,
    const at::Tensor& spikes, const at::Tensor& weight, const std::optional<at::Tensor>& v0,
    const std::optional<at::Tensor>& s0, const std::optional<at::Tensor>& decay, double decay_value,
    const std::optional<at::Tensor>& threshold, double threshold_value, c10::string_view reset,
    double v_reset, bool detach_reset, c10::string_view surrogate, double alpha,
    std::array<bool, 5> output_mask) {
  const at::Tensor& x = grad_spikes;  // same shape, dtype and device as the forward's x
  const auto [T, B, N] = check_recurrent(x, weight);
  const auto acc = compute_dtype(x.scalar_type());
  TORCH_CHECK_VALUE(h.sizes() == x.sizes(), "h must have the shape of grad_spikes ", x.sizes(), ", got ",
                    h.sizes(), " (was the forward run with save_h=False?)");
  TORCH_CHECK_TYPE(h.scalar_type() == acc, "h must be in the compute dtype ", acc, ", got ", h.scalar_type());
  TORCH_CHECK_VALUE(spikes.sizes() == x.sizes(), "spikes must have the shape of grad_spikes ", x.sizes(),
                    ", got ", spikes.sizes());
  check_alpha(alpha);
  const c10::DeviceGuard guard(x.device());
  check_same_device(x, grad_v_last, "grad_v_last");
  check_same_device(x, h, "h");
  check_same_device(x, spikes, "spikes");
  const at::Tensor v0_buf = initial_state_buffer(v0, x);
  const at::Tensor s0_buf = initial_spikes(s0, x);
  const at::Tensor decay_buf = per_neuron_buffer(decay, "decay", x);
  const ThresholdBuffer th = threshold_buffer(threshold, x);
  const auto [need_weight, need_v0, need_s0, need_decay, need_threshold] = output_mask;
  TORCH_CHECK_VALUE(!need_v0 || v0_buf.defined(), "a v0 gradient needs a v0 tensor");
  TORCH_CHECK_VALUE(!need_s0 || s0_buf.defined(), "an s0 gradient needs an s0 tensor");
  TORCH_CHECK_VALUE(!need_decay || decay_buf.defined(), "a decay gradient needs a decay tensor");
  TORCH_CHECK_VALUE(!need_threshold || th.buffer.defined(), "a threshold gradient needs a threshold tensor");

  const int64_t M = B * N;
  const auto acc_options = x.options().dtype(acc);
  const at::Tensor gs2 = grad_spikes.contiguous().view({T, M});
  const at::Tensor h2 = h.contiguous().view({T, M});
  at::Tensor grad_v = at::empty({M}, acc_options);
  grad_v.view({B, N}).copy_(grad_v_last);
  at::Tensor grad_h = at::empty({T, M}, acc_options);
  at::Tensor grad_rec = at::zeros({B, N}, acc_options);  // dL/ds_t through step t+1
  const at::Tensor w = weight.to(acc);
  const at::Tensor w_t = w.dim() == 2 ? w.t() : w.transpose(1, 2);
  at::Tensor grad_decay = need_decay ? at::zeros({M}, acc_options) : at::Tensor();
  at::Tensor grad_threshold = need_threshold ? at::zeros(th.buffer.sizes(), acc_options) : at::Tensor();

  LifRecurrentBackwardStepParams p;
  p.M = M;
  p.v0 = data_or_null(v0_buf);
  p.decay = data_or_null(decay_buf);
  p.decay_value = decay_value;
  p.threshold_value = threshold_value;
  p.reset = parse_reset(reset);
  p.v_reset = v_reset;
  p.detach_reset = detach_reset;
  p.surrogate = parse_surrogate(surrogate);
  p.alpha = alpha;
  p.grad_v = grad_v.mutable_data_ptr();
  p.grad_decay = mutable_data_or_null(grad_decay);
  const auto threshold_at = [&](int64_t t) {
    return th.per_step ? row<const void>(th.buffer, t) : data_or_null(th.buffer);
  };
  for (int64_t t = T - 1; t >= 0 && M > 0; --t) {
    p.grad_spikes = row<const void>(gs2, t);
    p.grad_recurrent = t < T - 1 ? grad_rec.const_data_ptr() : nullptr;
    p.h = row<const void>(h2, t);
    p.h_prev = t > 0 ? row<const void>(h2, t - 1) : nullptr;
    p.threshold = threshold_at(t);
    p.threshold_prev = t > 0 ? threshold_at(t - 1) : nullptr;
    p.grad_h = row<void>(grad_h, t);
    p.grad_threshold = need_threshold
                           ? (th.per_step ? row<void>(grad_threshold, t) : grad_threshold.mutable_data_ptr())
                           : nullptr;
    backward_step(p, x);
    if (t > 0 || need_s0) matmul_into(grad_rec, grad_h[t].view({B, N}), w_t);
  }

  at::Tensor grad_weight = unwanted_grad(x);
  if (need_weight) {
    // s_{t-1} against dL/dh_t for every step: the forward's spikes of steps 1..T-1 against the
    // gradients of steps 2..T in one product, read where they lie, then s0's term added onto it.
    const at::Tensor g = grad_h.view({T, B, N});
    grad_weight = T > 1 ? outer_sum(spikes.narrow(0, 0, T - 1).to(acc), g.narrow(0, 1, T - 1), weight.dim())
                        : at::zeros(weight.sizes(), acc_options);
    if (s0_buf.defined()) grad_weight += outer_sum(s0_buf.unsqueeze(0), g.narrow(0, 0, 1), weight.dim());
    grad_weight = grad_weight.to(weight.scalar_type());
  }
  return {
      grad_h.view(x.sizes()).to(x.scalar_type()),
      grad_weight,
      need_v0 ? grad_v.view({B, N}).to(v0->scalar_type()) : unwanted_grad(x),
      need_s0 ? grad_rec.to(s0->scalar_type()) : unwanted_grad(x),
      need_decay ? reduce_to_param(grad_decay.view({B, N}), *decay) : unwanted_grad(x),
      need_threshold
          ? reduce_to_param(grad_threshold.view(th.per_step ? x.sizes() : at::IntArrayRef{B, N}), *threshold)
          : unwanted_grad(x)};
}

}  // namespace

TORCH_LIBRARY_IMPL(hnn_fast, CPU, m) {
  m.impl("lif_recurrent", &lif_recurrent);
  m.impl("lif_recurrent_backward", &lif_recurrent_backward);
}

#ifdef HNN_FAST_WITH_CUDA
TORCH_LIBRARY_IMPL(hnn_fast, CUDA, m) {
  m.impl("lif_recurrent", &lif_recurrent);
  m.impl("lif_recurrent_backward", &lif_recurrent_backward);
}
#endif

}  // namespace hnn_fast
