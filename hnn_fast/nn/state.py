"""Step modes and state for every module that keeps a state over time (neurons, streaming HUs).

A module that keeps state subclasses `StatefulModule`:

- `super().__init__(step_mode, stateful)`: `step_mode="m"` (multi-step: inputs `[T, B, ...]`, the
  default) or `"s"` (one step: inputs `[B, ...]`, as SpikingJelly names them). The mode is never
  guessed from a shape. A single-step module always keeps its state between calls; a multi-step one
  only when `stateful=True` (streaming), otherwise each call starts from rest.
- `self.register_state("v")` for each state tensor: a non-persistent buffer, None at rest, so that
  `.to()`, `.cuda()`, `.half()` and DDP move it with the module while `state_dict()` leaves it out.
- in `forward`, `self.initial_state("v", x)` gives the held state (None at rest, or when the module
  does not keep state) after checking that it matches the input's shape, and `self.keep_state("v",
  value)` stores the new one when the module keeps state. A single-step module keeps the graph behind
  it, so that backpropagation runs through the T calls of a sequence (`detach_states` cuts it); a
  streaming multi-step module keeps it detached, each call its own backward graph (truncated
  backpropagation through time over chunks).
- `self.next_step()` counts the single-step calls since rest (a streaming hybrid unit's position in its
  window or code), back to 0 on reset.
- `self.as_multistep(x)` / `self.from_multistep(y)` turn a single-step input into a one-step sequence
  and back, so that a forward written for `[T, ...]` serves both modes; that one-step call goes through
  the same fused kernel, so T single-step calls equal one multi-step call bit for bit (fp32, fp64).

`reset_states(model)` returns every such submodule to rest, `detach_states(model)` cuts the graph
behind the held states while keeping their values (for truncated BPTT inside one forward sequence),
`ddp_ignore_states(model)` keeps DistributedDataParallel from overwriting each rank's states with rank
0's.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

STEP_MODES = ("m", "s")


def check_bool(value, argument: str) -> bool:
    """value if it is a bool; a TypeError naming the argument otherwise (so that "False" is not True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{argument} must be a bool, got {value!r} ({type(value).__name__})")
    return value


class StatefulModule(nn.Module):
    """The base of modules with state over time; see the module docstring for how a subclass plugs in."""

    def __init__(self, step_mode: str = "m", stateful: bool | None = None):
        super().__init__()
        if step_mode not in STEP_MODES:
            raise ValueError(f"step_mode must be 'm' or 's', got {step_mode!r}")
        if stateful is None:
            stateful = step_mode == "s"
        check_bool(stateful, "stateful")
        if step_mode == "s" and not stateful:
            raise ValueError("step_mode='s' keeps the state between calls; stateful=False contradicts it")
        self.step_mode, self.stateful = step_mode, stateful
        self._state_names: list[str] = []
        self.steps = 0

    def register_state(self, name: str) -> None:
        self.register_buffer(name, None, persistent=False)
        self._state_names.append(name)

    def reset_state(self) -> None:
        """Back to rest: the next call starts from the initial state."""
        for name in self._state_names:
            setattr(self, name, None)
        self.steps = 0

    def next_step(self) -> int:
        """The index of this single-step call since rest (0 for the first)."""
        self.steps += 1
        return self.steps - 1

    def detach_state(self) -> None:
        """Keep the state's values, drop the graph behind them."""
        for name in self._state_names:
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.detach())

    def as_multistep(self, x: Tensor) -> Tensor:
        return x.unsqueeze(0) if self.step_mode == "s" else x

    def from_multistep(self, y: Tensor) -> Tensor:
        return y.squeeze(0) if self.step_mode == "s" else y

    def initial_state(self, name: str, x: Tensor) -> Tensor | None:
        """The held state for the sequence x = [T, *shape] (multi-step form), checked against shape."""
        if not self.stateful:
            return None
        value = getattr(self, name)
        if value is None:
            return None
        self.check_state_shape(name, value.shape, x.shape[1:])
        return value.to(x.dtype)

    def check_state_shape(self, name: str, held: tuple[int, ...], shape: tuple[int, ...]) -> None:
        """A clear error when the state was kept for inputs of shape `held` and one step now has `shape`."""
        if tuple(held) != tuple(shape):
            step = "x" if self.step_mode == "s" else "x[t]"
            raise ValueError(
                f"{type(self).__name__} holds its state {name!r} for inputs of shape {tuple(held)}, "
                f"but {step} has shape {tuple(shape)}; call hnn_fast.nn.reset_states(model) (or "
                "module.reset_state()) before a sequence of another shape, such as a smaller last batch"
            )

    def keep_state(self, name: str, value: Tensor) -> None:
        if self.stateful:
            setattr(self, name, value if self.step_mode == "s" else value.detach())

    def extra_repr(self) -> str:
        return f"step_mode={self.step_mode!r}, stateful={self.stateful}"


def reset_states(module: nn.Module) -> None:
    """Return every StatefulModule in module (itself included) to rest."""
    for m in module.modules():
        if isinstance(m, StatefulModule):
            m.reset_state()


def detach_states(module: nn.Module) -> None:
    """Cut the graph behind every held state in module, keeping the values (truncated BPTT)."""
    for m in module.modules():
        if isinstance(m, StatefulModule):
            m.detach_state()


def state_names(module: nn.Module) -> list[str]:
    """The qualified names of every state buffer in module ("0.v", "encoder.discretize.spikes", ...),
    whether held or at rest."""
    return [
        f"{prefix}.{name}" if prefix else name
        for prefix, m in module.named_modules()
        if isinstance(m, StatefulModule)
        for name in m._state_names
    ]


def ddp_ignore_states(module: nn.Module) -> None:
    """Keep DistributedDataParallel from broadcasting the states of module; call it before wrapping.

    DDP (broadcast_buffers=True, its default) copies rank 0's buffers to every rank before each forward,
    which would hand every rank rank 0's membrane. A state belongs to the samples of its own rank, so it
    is left out, as DDP's ignore list allows; the other buffers (BatchNorm statistics) are still synced.
    """
    ignored = set(getattr(module, "_ddp_params_and_buffers_to_ignore", ())) | set(state_names(module))
    DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, sorted(ignored))
