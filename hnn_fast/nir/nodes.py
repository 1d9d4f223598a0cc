"""One hnn_fast or torch module <-> one NIR node, for the neurons and the stateless layers.

Neurons, with dt the time step (seconds) and NIR's  tau dv/dt = (v_leak - v) + r I  taken one forward
Euler step per time step,  v_t = (1 - dt/tau) v_{t-1} + (dt/tau) v_leak + (dt r/tau) I_t:
- LIF(decay, threshold, v_reset) <-> nir.LIF(tau = dt / (1 - decay), r = tau / dt, v_leak = 0,
  v_threshold = threshold, v_reset = v_reset); decay = 1 <-> nir.IF(r = 1 / dt).
- LeakyIntegrator(decay) <-> nir.LI(tau = dt / (1 - decay), r = tau / dt, v_leak = 0); decay = 1 <->
  nir.I(r = 1 / dt).
A NIR neuron whose input gain dt r / tau is not 1 comes in with an InputGain (x * gain) before it. It
starts at rest, v = v_leak (as Norse's do), and runs on u = v - v_leak with threshold and reset shifted
by v_leak; an LI's output gets v_leak added back. Soft reset has no NIR form and is refused.
A LIF or IF with a recurrent Linear or Affine node W (its spikes fed back to its input, the input
current then I = x + W s_{t-1} + b) is a RecurrentLIF with weight[i, j] = W[j, i] gain[j], and the
bias enters with the input: InputGain(gain, gain b) before it.
"""

from __future__ import annotations

import nir
import numpy as np
import torch
from torch import Tensor, nn

from ..nn import LIF, LeakyIntegrator, RecurrentLIF
from ..nn.layers import TimeDistributed

META = "hnn_fast."  # the prefix of hnn_fast's own keys in a node's metadata


class InputGain(nn.Module):
    """x * gain + bias, per neuron: a NIR neuron's input resistance, or its leak potential."""

    def __init__(self, gain: Tensor, bias: Tensor):
        super().__init__()
        self.register_buffer("gain", gain)
        self.register_buffer("bias", bias)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gain + self.bias


def _full(value, shape) -> np.ndarray:
    v = value.detach().cpu().double().numpy() if isinstance(value, Tensor) else np.asarray(value, np.float64)
    return np.broadcast_to(v, shape).astype(np.float64)


def _neuron_record(module: nn.Module) -> dict:
    learn_decay = module.decay_logit is not None
    decay = module.decay
    out = {
        f"{META}class": type(module).__name__,
        f"{META}learn_decay": learn_decay,
        f"{META}decay": decay.detach().cpu().numpy() if isinstance(decay, Tensor) else float(decay),
    }
    if isinstance(module, LIF):
        threshold = module.threshold
        out.update(
            {
                f"{META}learn_threshold": isinstance(threshold, nn.Parameter),
                f"{META}threshold": threshold.detach().cpu().numpy()
                if isinstance(threshold, Tensor)
                else float(threshold),
                f"{META}v_reset": module.v_reset,
                f"{META}detach_reset": module.detach_reset,
                f"{META}surrogate": module.surrogate,
                f"{META}alpha": module.alpha,
            }
        )
    for key, t in module.state_dict().items():
        out[f"{META}state.{key}"] = t.detach().cpu().numpy()
    return out


def lif_to_nir(module: LIF, shape: tuple, dt: float) -> nir.NIRNode:
    if module.reset != "hard":
        raise ValueError(
            f"LIF reset={module.reset!r} (subtracting the threshold) has no NIR form: NIR's LIF and IF "
            f"reset to v_reset; only reset='hard' exports"
        )
    decay, threshold = _full(module.decay, shape), _full(module.threshold, shape)
    v_reset, meta = np.full(shape, module.v_reset), _neuron_record(module)
    if (decay == 1).all():
        return nir.IF(r=np.full(shape, 1 / dt), v_threshold=threshold, v_reset=v_reset, metadata=meta)
    if (decay == 1).any():
        raise ValueError("LIF decay is 1 for some neurons only: NIR has no LIF with an infinite tau")
    tau = dt / (1 - decay)
    return nir.LIF(
        tau=tau, r=tau / dt, v_leak=np.zeros(shape), v_threshold=threshold, v_reset=v_reset, metadata=meta
    )


def li_to_nir(module: LeakyIntegrator, shape: tuple, dt: float) -> nir.NIRNode:
    decay, meta = _full(module.decay, shape), _neuron_record(module)
    if (decay == 1).all():
        return nir.I(r=np.full(shape, 1 / dt), metadata=meta)
    if (decay == 1).any():
        raise ValueError(
            "LeakyIntegrator decay is 1 for some neurons only: NIR has no LI with an infinite tau"
        )
    tau = dt / (1 - decay)
    return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(shape), metadata=meta)


def _meta(metadata: dict, key: str):
    value = metadata[f"{META}{key}"]
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) or getattr(value, "ndim", 1) == 0 else value


def _tensor_or_float(value):
    return torch.from_numpy(np.array(value)) if isinstance(value, np.ndarray) else float(value)


def _restore_neuron(node: nir.NIRNode) -> nn.Module | None:
    """The hnn_fast neuron recorded in the node's metadata, if any."""
    metadata = node.metadata or {}
    if f"{META}class" not in metadata:
        return None
    name = _meta(metadata, "class")
    kwargs = {
        "decay": _tensor_or_float(_meta(metadata, "decay")),
        "learn_decay": bool(_meta(metadata, "learn_decay")),
    }
    state = {
        key[len(f"{META}state.") :]: torch.from_numpy(np.array(value))
        for key, value in metadata.items()
        if key.startswith(f"{META}state.")
    }
    if name == "RecurrentLIF":
        kwargs["features"] = state["weight"].shape[0]
    if name in ("LIF", "RecurrentLIF"):
        kwargs.update(
            threshold=_tensor_or_float(_meta(metadata, "threshold")),
            learn_threshold=bool(_meta(metadata, "learn_threshold")),
            v_reset=float(_meta(metadata, "v_reset")),
            detach_reset=bool(_meta(metadata, "detach_reset")),
            surrogate=_meta(metadata, "surrogate"),
            alpha=float(_meta(metadata, "alpha")),
        )
    module = {"LIF": LIF, "LeakyIntegrator": LeakyIntegrator, "RecurrentLIF": RecurrentLIF}[name](**kwargs)
    module.load_state_dict(state)
    return module


def _uniform(a: np.ndarray, dtype: torch.dtype):
    """One float where every neuron has the same value (the fast path of the ops), else a tensor."""
    if a.size and (a == a.flat[0]).all():
        return float(a.flat[0])
    return _tensor(a, dtype)


def _numpy(a, dtype=np.float64) -> np.ndarray:
    """A node's field as an array: nir.read gives arrays, other writers (Norse) leave torch tensors."""
    return np.asarray(a.detach().cpu().numpy() if isinstance(a, Tensor) else a, dtype=dtype)


def _tensor(a, dtype: torch.dtype) -> Tensor:
    return torch.from_numpy(_numpy(a)).to(dtype)


def _arrays(node, *names) -> list[np.ndarray]:
    return [_numpy(getattr(node, n)) for n in names]


def neuron_from_nir(
    node: nir.NIRNode, dt: float, dtype: torch.dtype, recurrent: nir.NIRNode | None = None
) -> nn.Module:
    """nir.LIF / IF / LI / I -> the hnn_fast neuron (exactly as written when hnn_fast wrote it).
    recurrent: the Linear or Affine node through which a LIF or IF's spikes return to its own input;
    the neuron is then a RecurrentLIF."""
    restored = _restore_neuron(node)
    if restored is not None and _matches(restored, node, dt, recurrent):
        return restored
    if isinstance(node, (nir.LIF, nir.LI)):
        tau, r, v_leak = _arrays(node, "tau", "r", "v_leak")
        decay, gain = 1 - dt / tau, dt * r / tau
    else:  # IF, I: no leak
        (r,) = _arrays(node, "r")
        decay, gain, v_leak = np.ones_like(r), dt * r, np.zeros_like(r)
    if (decay < 0).any() or (decay > 1).any():
        raise ValueError(
            f"{type(node).__name__} with tau {np.min(dt / (1 - decay))}..{np.max(dt / (1 - decay))} s "
            f"and dt = {dt} s gives a decay 1 - dt/tau outside [0, 1]: dt must be at most tau"
        )
    # The neuron runs on u = v - v_leak, which starts at 0 when v starts at rest (v_leak) and obeys
    # u_t = decay u_{t-1} + gain I_t: no bias term, and threshold and reset shift by v_leak.
    bias, after = np.zeros_like(gain), None
    if isinstance(node, (nir.LIF, nir.IF)):
        v_threshold, v_reset = _arrays(node, "v_threshold", "v_reset")
        reset = _uniform(v_reset - v_leak, dtype)
        if isinstance(reset, Tensor):
            raise ValueError(f"{type(node).__name__}: hnn_fast's LIF takes one v_reset - v_leak, got several")
        options = (_uniform(decay, dtype), _uniform(v_threshold - v_leak, dtype))
        if recurrent is None:
            neuron = LIF(*options, v_reset=reset)
        else:
            weight, bias = _recurrent_weight(recurrent, gain, dtype)
            neuron = RecurrentLIF(len(gain), *options, v_reset=reset)
            neuron.weight = nn.Parameter(weight)
    else:
        neuron = LeakyIntegrator(_uniform(decay, dtype))
        if not np.all(v_leak == 0):
            after = InputGain(_tensor(np.ones_like(v_leak), dtype), _tensor(v_leak, dtype))
    before = (
        None
        if np.all(gain == 1) and np.all(bias == 0)
        else InputGain(_tensor(gain, dtype), _tensor(bias, dtype))
    )
    parts = [m for m in (before, neuron, after) if m is not None]
    return neuron if len(parts) == 1 else nn.Sequential(*parts)


def _recurrent_weight(node: nir.NIRNode, gain: np.ndarray, dtype: torch.dtype) -> tuple[Tensor, np.ndarray]:
    """A recurrent Linear / Affine node W [n, n] (to, from) -> RecurrentLIF's weight [from, to] with the
    input gain of the receiving neuron, and the bias as it enters the neuron (gain b)."""
    weight = _numpy(node.weight)
    n = len(gain)
    if weight.shape != (n, n):
        raise ValueError(
            f"the recurrent {type(node).__name__} of a layer of {n} neurons must have a weight [{n}, {n}], "
            f"got {list(weight.shape)}"
        )
    bias = _numpy(node.bias) if isinstance(node, nir.Affine) else np.zeros(n)
    return _tensor((weight * gain[:, None]).T, dtype), gain * bias


def _matches(module: nn.Module, node: nir.NIRNode, dt: float, recurrent: nir.NIRNode | None) -> bool:
    """Whether the node still says what the recorded module would write (not edited by another tool)."""
    if isinstance(module, RecurrentLIF) != (recurrent is not None):
        return False
    if recurrent is not None and not (
        isinstance(recurrent, nir.Linear)
        and np.array_equal(_numpy(recurrent.weight), _numpy(module.weight).T)
    ):
        return False
    shape = tuple(np.shape(node.v_threshold if hasattr(node, "v_threshold") else node.r))
    try:
        fresh = lif_to_nir(module, shape, dt) if isinstance(module, LIF) else li_to_nir(module, shape, dt)
    except ValueError:
        return False
    if type(fresh) is not type(node):
        return False
    fields = [f for f in ("tau", "r", "v_leak", "v_threshold", "v_reset") if hasattr(node, f)]
    return all(
        np.allclose(getattr(fresh, f), np.asarray(getattr(node, f)), rtol=1e-6, atol=0) for f in fields
    )


# ---- stateless layers --------------------------------------------------------------------------------


def _np(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def linear_to_nir(module: nn.Linear) -> nir.NIRNode:
    if module.bias is None:
        return nir.Linear(weight=_np(module.weight))
    return nir.Affine(weight=_np(module.weight), bias=_np(module.bias))


def conv_to_nir(module: nn.Conv1d | nn.Conv2d, input_shape: tuple) -> nir.NIRNode:
    if isinstance(module.padding, str) or module.padding_mode != "zeros":
        raise ValueError("a Conv with string padding or padding_mode other than 'zeros' has no NIR form here")
    cls = nir.Conv1d if isinstance(module, nn.Conv1d) else nir.Conv2d
    bias = _np(module.bias) if module.bias is not None else np.zeros(module.out_channels, np.float32)
    spatial = input_shape[-1:] if cls is nir.Conv1d else input_shape[-2:]
    args = (module.stride, module.padding, module.dilation)
    if cls is nir.Conv1d:
        args = tuple(a[0] for a in args)
    return cls(spatial, _np(module.weight), *args, module.groups, bias)


def pool_to_nir(module: nn.AvgPool2d | nn.LPPool2d) -> nir.NIRNode:
    kernel = np.broadcast_to(np.asarray(module.kernel_size), 2).copy()
    stride = np.broadcast_to(
        np.asarray(module.stride if module.stride is not None else module.kernel_size), 2
    ).copy()
    if isinstance(module, nn.AvgPool2d):
        if module.ceil_mode or not module.count_include_pad:
            raise ValueError("AvgPool2d with ceil_mode or count_include_pad=False has no NIR form")
        return nir.AvgPool2d(kernel, stride, np.broadcast_to(np.asarray(module.padding), 2).copy())
    if module.norm_type != 1 or module.ceil_mode:
        raise ValueError("an LPPool2d exports to NIR (as SumPool2d) only with norm_type=1, ceil_mode=False")
    return nir.SumPool2d(kernel, stride, np.zeros(2, np.int64))


def flatten_to_nir(module: nn.Flatten, input_shape: tuple, lead: int) -> nir.NIRNode:
    ndim = len(input_shape) + lead
    start, end = (d % ndim - lead for d in (module.start_dim, module.end_dim))
    if start < 0:
        raise ValueError(f"Flatten(start_dim={module.start_dim}) merges the time or batch dim into features")
    return nir.Flatten({"input": np.asarray(input_shape)}, start, end)


def layer_from_nir(node: nir.NIRNode, lead: int, dtype: torch.dtype) -> nn.Module:
    """A stateless NIR node -> its torch module in dtype, on inputs with `lead` leading dims (T, B)."""
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = _tensor(node.weight, dtype)
        module = nn.Linear(weight.shape[1], weight.shape[0], bias=isinstance(node, nir.Affine), dtype=dtype)
        with torch.no_grad():
            module.weight.copy_(weight)
            if module.bias is not None:
                module.bias.copy_(_tensor(node.bias, dtype))
        return module
    if isinstance(node, nir.Flatten):
        end = node.end_dim + lead if node.end_dim >= 0 else node.end_dim
        return nn.Flatten(node.start_dim + lead, end)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        weight = _tensor(node.weight, dtype)
        cls = nn.Conv1d if isinstance(node, nir.Conv1d) else nn.Conv2d
        padding = (
            node.padding if isinstance(node.padding, str) else tuple(np.atleast_1d(node.padding).tolist())
        )
        conv = cls(
            weight.shape[1] * int(node.groups),
            weight.shape[0],
            tuple(weight.shape[2:]),
            stride=tuple(np.atleast_1d(node.stride).tolist()),
            padding=padding,
            dilation=tuple(np.atleast_1d(node.dilation).tolist()),
            groups=int(node.groups),
            dtype=dtype,
        )
        with torch.no_grad():
            conv.weight.copy_(weight)
            conv.bias.copy_(_tensor(node.bias, dtype))
        return _distributed(conv, lead)
    if isinstance(node, nir.AvgPool2d):
        pool = nn.AvgPool2d(_ints(node.kernel_size), _ints(node.stride), _ints(node.padding))
        return _distributed(pool, lead)
    if isinstance(node, nir.SumPool2d):
        if np.any(np.asarray(node.padding) != 0):
            raise ValueError("SumPool2d with padding is not supported")
        return _distributed(nn.LPPool2d(1, _ints(node.kernel_size), _ints(node.stride)), lead)
    raise ValueError(f"NIR node {type(node).__name__} has no hnn_fast module")


def _ints(a) -> tuple[int, ...]:
    return tuple(int(v) for v in np.broadcast_to(np.asarray(a), 2))


def _distributed(module: nn.Module, lead: int) -> nn.Module:
    # Conv and pooling take one batch dim: time and batch are folded together for them.
    return TimeDistributed(module) if lead == 2 else module
