"""Hybrid units (HUs): Y = Q(F(H(W(X)))) (docs/design.md; Eq. 1 and 4-6 of the paper), as modules.

A HybridUnit has three replaceable stages, each an nn.Module attribute:
- `window_filter`: W and H fused (ops.hu_window), spikes [T, *shape] -> values [K, *shape];
- `nonlinearity`: F, a named function or any module (an MLP, ...);
- `discretize`: Q: an A2S code (ops.hu_encode), a learnable sampler, a binarisation, or nothing.
When Q is a code of ops.hu_encode and F is one of its named functions, F runs inside that fused op
(`nonlinearity` is then the identity and `discretize.nonlinearity` names F).
Every parameter is fixed (a designable HU) unless asked to be learnable.

step_mode (state.py): "m" (the default) maps whole sequences, "s" streams one step [*shape] per call.
A single-step W keeps the last `window` steps and returns a window's value [*shape] on the call that
completes it, None on the others; a single-step Q codes the value of the first call of each T-step
cycle and returns one step of that code per call. Either way T single-step calls give what one
multi-step call gives.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .. import ops, reference
from ..ops.hu_window import window_arguments
from ..options import (
    DEFAULT_DROP_LAST,
    DEFAULT_ENCODE_MODE,
    DEFAULT_NONLINEARITY,
    DEFAULT_SURROGATE,
    DEFAULT_THRESHOLD,
    DEFAULT_WINDOW_KERNEL,
    ENCODE_MODES,
    NONLINEARITIES,
    check_name,
    surrogate_alpha,
)
from .state import StatefulModule, check_bool


def make_nonlinearity(spec: str | nn.Module | None) -> nn.Module:
    """F: a name of hu_encode's nonlinearities, any module, or None (the identity)."""
    if spec is None:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    check_name(spec, NONLINEARITIES, "nonlinearity", "a module")
    return NONLINEARITIES[spec]()


class WindowFilter(StatefulModule):
    """W and H: windows of `window` steps every `stride` steps of x = [T, *shape], each reduced by a
    temporal kernel (ops.hu_window): "sum", "mean", "exp" (with decay) or a weights tensor
    ([window] or [C, window]). learnable=True makes the weights a parameter initialised from the kernel,
    per channel when `channels` is given (C = shape[0]).

    step_mode="s" takes one step [*shape] per call and keeps the last `window` steps (state "held"):
    the call that completes a window returns its value [*shape], the others None. None rather than
    the last value, so that a streaming consumer runs once per window and never mistakes a repeat for
    a new window. A stream has no last step, so only complete windows are emitted (drop_last then
    shapes multi-step calls only)."""

    def __init__(
        self,
        window: int,
        stride: int | None = None,
        kernel: str | Tensor = DEFAULT_WINDOW_KERNEL,
        *,
        decay: float | None = None,
        drop_last: bool = DEFAULT_DROP_LAST,
        learnable: bool = False,
        channels: int | None = None,
        step_mode: str = "m",
    ):
        super().__init__(step_mode)
        self.register_state("held")
        window, stride, _, _, _ = window_arguments(window, stride, kernel, decay)
        self.window, self.stride, self.drop_last = window, stride, drop_last
        self.kernel, self.decay = kernel, decay
        if learnable:
            init = reference.window_weights(kernel, window, decay, torch.float32).detach().clone()
            if channels is not None and init.dim() == 1:
                init = init.expand(channels, window).clone()
            self.weights = nn.Parameter(init)
        elif isinstance(kernel, Tensor):
            self.register_buffer("weights", kernel.detach().clone())
        else:
            self.weights = None

    def forward(self, x: Tensor) -> Tensor | None:
        if self.step_mode == "m":
            return self.windows(x)
        if self.held is not None:
            self.check_state_shape("held", self.held.shape[1:], x.shape)
        step = x.unsqueeze(0)
        self.held = step if self.held is None else torch.cat([self.held, step])[-self.window :]
        seen = self.next_step() + 1
        if seen < self.window or (seen - self.window) % self.stride:
            return None
        return self.windows(self.held)[0]

    def windows(self, x: Tensor) -> Tensor:
        """The multi-step map [T, *shape] -> [K, *shape]."""
        if self.weights is not None:
            return ops.hu_window(x, self.window, self.stride, kernel=self.weights, drop_last=self.drop_last)
        return ops.hu_window(
            x, self.window, self.stride, kernel=self.kernel, decay=self.decay, drop_last=self.drop_last
        )

    def extra_repr(self) -> str:
        kernel = (
            "learnable"
            if isinstance(self.weights, nn.Parameter)
            else ("weights" if self.weights is not None else repr(self.kernel))
        )
        return (
            f"window={self.window}, stride={self.stride}, kernel={kernel}, drop_last={self.drop_last}, "
            f"{super().extra_repr()}"
        )


class _Code(StatefulModule):
    """A Q that turns one value into T steps: a subclass defines `code`, the multi-step map
    [*shape] -> [T, *shape], and `train_steps`, its T.
    step_mode="s": the first call of each cycle of T calls codes its value and keeps the train (state
    "spikes", its graph included); every call returns the next step [*shape] of that train. The calls
    in between only give their input's shape, which must match (a new value enters at a new cycle)."""

    def __init__(self, T: int, step_mode: str):
        super().__init__(step_mode)
        self.register_state("spikes")
        if step_mode == "s" and T < 1:
            raise ValueError(f"step_mode='s' emits one of T steps per call and needs T >= 1, got T={T}")

    def forward(self, a: Tensor, *args) -> Tensor:
        if self.step_mode == "m":
            return self.code(a, *args)
        t = self.steps % self.train_steps
        if t == 0:
            self.spikes = self.code(a, *args)
        else:
            self.check_state_shape("spikes", self.spikes.shape[1:], a.shape)
        self.next_step()
        return self.spikes[t]


class Encoder(_Code):
    """Sampler, F and Q of an A2S unit fused (ops.hu_encode): values [*shape] -> spikes [T, *shape] by a
    "rate", "poisson" or "latency" code of p = clamp(F(a), 0, 1). `generator` makes Poisson draws
    reproducible (one given to forward() wins). step_mode="s": one step per call (_Code)."""

    def __init__(
        self,
        T: int,
        mode: str = DEFAULT_ENCODE_MODE,
        nonlinearity: str = DEFAULT_NONLINEARITY,
        generator: torch.Generator | None = None,
        step_mode: str = "m",
    ):
        ops.hu_encode(torch.zeros(0), T, mode=mode, nonlinearity=nonlinearity)  # argument checks
        super().__init__(T, step_mode)
        self.T, self.mode, self.nonlinearity, self.generator = T, mode, nonlinearity, generator

    @property
    def train_steps(self) -> int:
        return self.T

    def code(self, a: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return ops.hu_encode(
            a,
            self.T,
            mode=self.mode,
            nonlinearity=self.nonlinearity,
            generator=generator if generator is not None else self.generator,
        )

    def extra_repr(self) -> str:
        return f"T={self.T}, mode={self.mode!r}, nonlinearity={self.nonlinearity!r}, {super().extra_repr()}"


class LearnableSampler(_Code):
    """A learnable A2S sampler as in the authors' hnn package: u_t = w_t * a + b_t for t = 0..T-1, then
    s_t = H(u_t - threshold) with a surrogate gradient. It runs on ops.lif with decay 0 (no memory, so
    each step is a plain threshold); gradients flow to w, b and a.

    w and b have shape [T, *param_shape] (param_shape () shares them over neurons). They start as a
    thermometer code of a in [0, 1]: w_t = 1, b_t = threshold - (t + 0.5) / T, so s_t = [a >= (t+0.5)/T]
    and the count is round(T a). step_mode="s": one step per call (_Code)."""

    def __init__(
        self,
        T: int,
        *,
        param_shape: Sequence[int] = (),
        threshold: float = DEFAULT_THRESHOLD,
        surrogate: str = DEFAULT_SURROGATE,
        alpha: float | None = None,
        step_mode: str = "m",
    ):
        if not isinstance(T, int) or T < 0:
            raise ValueError(f"T (the number of steps) must be an int >= 0, got {T!r}")
        super().__init__(T, step_mode)
        steps = (torch.arange(T, dtype=torch.float32) + 0.5) / max(T, 1)
        shape = (T, *param_shape)
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter((threshold - steps).view(T, *([1] * len(param_shape))).expand(shape).clone())
        self.threshold = float(threshold)
        self.surrogate, self.alpha = surrogate, surrogate_alpha(surrogate, alpha)

    @property
    def train_steps(self) -> int:
        return self.weight.shape[0]

    def code(self, a: Tensor) -> Tensor:
        T = self.weight.shape[0]
        extra = a.dim() - (self.weight.dim() - 1)
        if extra < 0:
            raise ValueError(
                f"a of shape {tuple(a.shape)} has fewer dims than the sampler's param_shape "
                f"{tuple(self.weight.shape[1:])}"
            )
        w = self.weight.view(T, *([1] * extra), *self.weight.shape[1:])
        b = self.bias.view(T, *([1] * extra), *self.bias.shape[1:])
        u = w * a + b
        spikes, _ = ops.lif(
            u, decay=0.0, threshold=self.threshold, reset="hard", surrogate=self.surrogate, alpha=self.alpha
        )
        return spikes

    def extra_repr(self) -> str:
        return (
            f"T={self.weight.shape[0]}, threshold={self.threshold}, surrogate={self.surrogate!r}, "
            f"alpha={self.alpha}, {super().extra_repr()}"
        )


class _BinarizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, g: Tensor, level: float) -> Tensor:
        return (g >= level).to(g.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad, None


class Binarize(nn.Module):
    """Q for modulation: 1 where g >= level else 0, with a straight-through gradient (d/dg = 1)."""

    def __init__(self, level: float = 0.5):
        super().__init__()
        self.level = float(level)

    def forward(self, g: Tensor) -> Tensor:
        return _BinarizeSTE.apply(g, self.level)

    def extra_repr(self) -> str:
        return f"level={self.level}"


class ScaledSigmoid(nn.Module):
    """sigmoid(k x): k sets the gate's sharpness (the authors' HMN code uses k = 100)."""

    def __init__(self, k: float = 1.0, learnable: bool = False):
        super().__init__()
        self.k = nn.Parameter(torch.tensor(float(k))) if learnable else float(k)

    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.k * x)


def make_discretize(
    spec: str | nn.Module | None,
    T: int | None,
    nonlinearity: str = DEFAULT_NONLINEARITY,
    step_mode: str = "m",
) -> nn.Module:
    """Q: None (none, S2A or modulation), an ops.hu_encode code ("rate", "poisson", "latency"; F fused
    when named), "learnable" (LearnableSampler), "binary" (Binarize), or any module. step_mode reaches
    the codes that make spike trains."""
    if spec is None:
        return nn.Identity()
    if isinstance(spec, nn.Module):
        return spec
    check_name(spec, (*ENCODE_MODES, "learnable", "binary"), "discretize", "a module", "None")
    if spec == "binary":
        return Binarize()
    if T is None:
        raise ValueError(f"discretize={spec!r} makes spike trains and needs T, the number of steps")
    if spec == "learnable":
        return LearnableSampler(T, step_mode=step_mode)
    return Encoder(T, spec, nonlinearity, step_mode=step_mode)


class HybridUnit(nn.Module):
    """Y = Q(F(H(W(X)))), each stage a replaceable module (see the module docstring).

    window, stride, kernel, decay, drop_last, learn_kernel, channels: W and H (WindowFilter); window=None
    skips them (an A2S or modulation unit). nonlinearity: F. discretize, T: Q (make_discretize).
    step_mode: "m" or "s" for W and for a Q that makes spike trains (the module docstring); a
    single-step unit returns None while its window fills.
    """

    def __init__(
        self,
        *,
        window: int | None = None,
        stride: int | None = None,
        kernel: str | Tensor = DEFAULT_WINDOW_KERNEL,
        decay: float | None = None,
        drop_last: bool = DEFAULT_DROP_LAST,
        learn_kernel: bool = False,
        channels: int | None = None,
        nonlinearity: str | nn.Module | None = DEFAULT_NONLINEARITY,
        discretize: str | nn.Module | None = None,
        T: int | None = None,
        step_mode: str = "m",
    ):
        super().__init__()
        self.window_filter = (
            nn.Identity()
            if window is None
            else WindowFilter(
                window,
                stride,
                kernel,
                decay=decay,
                drop_last=drop_last,
                learnable=learn_kernel,
                channels=channels,
                step_mode=step_mode,
            )
        )
        fuse = (
            isinstance(discretize, str)
            and discretize in ENCODE_MODES
            and isinstance(nonlinearity, str)
            and nonlinearity in NONLINEARITIES
        )
        if fuse:
            self.nonlinearity = nn.Identity()
            self.discretize = make_discretize(discretize, T, nonlinearity, step_mode)
        else:
            self.nonlinearity = make_nonlinearity(nonlinearity)
            self.discretize = make_discretize(discretize, T, step_mode=step_mode)
        self.step_mode = step_mode

    def forward(self, x: Tensor) -> Tensor | None:
        y = self.window_filter(x)
        return None if y is None else self.discretize(self.nonlinearity(y))


class S2AHU(HybridUnit):
    """Spikes to values: [T, *shape] -> [K, *shape] by windows and a temporal kernel, then F.
    A designable rate decoder is S2AHU(window=T) (the mean over all steps): K = 1, and
    keep_window_dim=False returns [*shape] instead of [1, *shape]. learn_kernel=True and a module as
    nonlinearity make a learnable one. step_mode="s" takes one step [*shape] per call and returns a
    window's value [*shape] on the call that completes it, None on the others (WindowFilter);
    keep_window_dim shapes multi-step results only."""

    def __init__(
        self,
        window: int,
        stride: int | None = None,
        kernel: str | Tensor = DEFAULT_WINDOW_KERNEL,
        *,
        decay: float | None = None,
        drop_last: bool = DEFAULT_DROP_LAST,
        learn_kernel: bool = False,
        channels: int | None = None,
        nonlinearity: str | nn.Module | None = DEFAULT_NONLINEARITY,
        keep_window_dim: bool = True,
        step_mode: str = "m",
    ):
        super().__init__(
            window=window,
            stride=stride,
            kernel=kernel,
            decay=decay,
            drop_last=drop_last,
            learn_kernel=learn_kernel,
            channels=channels,
            nonlinearity=nonlinearity,
            step_mode=step_mode,
        )
        self.keep_window_dim = check_bool(keep_window_dim, "keep_window_dim")

    def forward(self, x: Tensor) -> Tensor | None:
        y = super().forward(x)
        if self.keep_window_dim or self.step_mode == "s":
            return y
        if y.shape[0] != 1:
            raise ValueError(
                f"keep_window_dim=False drops the window dim of a single window, but {y.shape[0]} windows "
                f"were made of {x.shape[0]} steps (window={self.window_filter.window}, "
                f"stride={self.window_filter.stride})"
            )
        return y[0]

    def extra_repr(self) -> str:
        return f"keep_window_dim={self.keep_window_dim}"


class A2SHU(HybridUnit):
    """Values to spikes: [*shape] -> [T, *shape] by F then a code: "rate", "poisson", "latency" (fused in
    ops.hu_encode when F is named) or "learnable" (LearnableSampler). `sampler` passes keyword
    arguments to the LearnableSampler of mode="learnable" (param_shape, threshold, surrogate, alpha).
    step_mode="s" takes a value [*shape] per call and returns one step [*shape] of its code: the value
    of the first call of each T-step cycle is coded, the next T - 1 calls emit the rest of that train
    (the step counter is state: reset_states starts a new cycle). A module given as mode must then be
    a single-step StatefulModule itself."""

    def __init__(
        self,
        T: int,
        mode: str | nn.Module = DEFAULT_ENCODE_MODE,
        *,
        nonlinearity: str | nn.Module | None = DEFAULT_NONLINEARITY,
        sampler: dict | None = None,
        step_mode: str = "m",
    ):
        if sampler is not None:
            if mode != "learnable":
                raise ValueError(f"sampler configures mode='learnable', but mode is {mode!r}")
            mode = LearnableSampler(T, **sampler, step_mode=step_mode)
        if isinstance(mode, nn.Module) and step_mode != getattr(mode, "step_mode", "m"):
            raise ValueError(
                f"A2SHU(step_mode={step_mode!r}) needs a discretize module of the same step_mode, got "
                f"{type(mode).__name__} in step_mode {getattr(mode, 'step_mode', 'm')!r}"
            )
        super().__init__(nonlinearity=nonlinearity, discretize=mode, T=T, step_mode=step_mode)

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode!r}"


class ModulationHU(HybridUnit):
    """Modulation: ANN features [*, in_features] -> one value per neuron of an SNN layer, [*, *neurons].

    F is Linear + sigmoid(k x) (a gate in (0, 1)); binarize=True adds Q, a 0/1 gate at level 0.5 with a
    straight-through gradient. The output is offset + scale * gate: with the defaults, the gate itself.
    It is shaped to feed a threshold: for spikes x = [T, B, *neurons],
    LIF(...).forward(x, threshold=hu(features)) with features [B, in_features] (or nn.LIF's own
    threshold argument) uses one threshold per neuron and sample; gradients flow back into the HU.
    """

    def __init__(
        self,
        in_features: int,
        neurons: int | Sequence[int],
        *,
        k: float = 1.0,
        learn_k: bool = False,
        binarize: bool = False,
        scale: float = 1.0,
        offset: float = 0.0,
    ):
        neurons = (neurons,) if isinstance(neurons, int) else tuple(neurons)
        super().__init__(
            nonlinearity=nn.Sequential(nn.Linear(in_features, math.prod(neurons)), ScaledSigmoid(k, learn_k)),
            discretize=Binarize() if binarize else None,
        )
        self.neurons = neurons
        self.scale, self.offset = float(scale), float(offset)

    def forward(self, features: Tensor) -> Tensor:
        gate = super().forward(features)
        return (self.offset + self.scale * gate).unflatten(-1, self.neurons)

    def extra_repr(self) -> str:
        return f"neurons={self.neurons}, scale={self.scale}, offset={self.offset}"


class LatencyDecoder(nn.Module):
    """The designable inverse of the latency code (A2SHU(T, "latency"), ops.hu_encode): spikes
    [T, *shape] -> values [*shape], the first spike at step t read as 1 - t / (T - 1) (1 when T = 1),
    no spike as 0. A value that went through the code comes back within half a step, 0.5 / (T - 1).
    The gradient reaches the first spike of each train."""

    def forward(self, spikes: Tensor) -> Tensor:
        T = spikes.shape[0]
        first = spikes * (spikes.cumsum(0) == 1)
        steps = torch.arange(T, device=spikes.device, dtype=spikes.dtype)
        values = 1 - steps / max(T - 1, 1)
        return (first * values.view(T, *([1] * (spikes.dim() - 1)))).sum(0)
