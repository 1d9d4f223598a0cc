"""Other libraries' LIF neurons, set up to match hnn_fast.ops.lif with a hard reset to 0:

    h_t = decay * v_{t-1} + x_t,   s_t = H(h_t - threshold),   v_t = h_t * (1 - s_t)

Each adapter states how its parameters map onto ours and whether the dynamics are identical
("exact") or identical only after rescaling the input ("rescaled", equal up to rounding). The suite
checks the claim by feeding each the same input and counting agreeing spikes. Peers are optional
(the `peers` extra); one that is missing or fails is reported and skipped. RECURRENT_PEERS are the
recurrent LIF's, timed on the recurrent group's sizes."""

from __future__ import annotations

import importlib.metadata
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

# (input in the peer's units) -> spikes [T, *shape]
Runner = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Peer:
    name: str
    distribution: str
    match: str  # "exact" or "rescaled"
    mapping: Callable[[float, float], str]
    backends: Callable[[torch.device], list[str]]
    # (backend, device, decay, threshold) -> runner
    build: Callable[[str, torch.device, float, float], Runner]
    # ours -> the peer's input units
    to_peer_input: Callable[[Tensor, float], Tensor] = lambda x, decay: x

    def version(self) -> str | None:
        return installed_version(self.distribution)


def installed_version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def not_installed(distribution: str) -> str:
    """Why a missing peer is skipped, and how to install it."""
    return f"{distribution} is not installed (pip install 'hnn_fast[peers]', or make bench-peers)"


def _snntorch_build(backend, device, decay, threshold):
    import snntorch

    neuron = snntorch.Leaky(beta=decay, threshold=threshold, reset_mechanism="zero").to(device)

    def run(x):
        mem = torch.zeros_like(x[0])
        spikes = []
        for x_t in x:
            spike, mem = neuron(x_t, mem)
            spikes.append(spike)
        return torch.stack(spikes)

    return run


def _spikingjelly_lif_node():
    from spikingjelly.activation_based import neuron

    return neuron.LIFNode


def _spikingjelly_has_backend_argument() -> bool:
    # SpikingJelly <= 0.0.0.0.15 picks a backend per node; 2.x picks the CUDA implementation itself.
    return "backend" in inspect.signature(_spikingjelly_lif_node().__init__).parameters


def _spikingjelly_backends(device):
    if device.type != "cuda":
        return ["torch"]
    if _spikingjelly_has_backend_argument():
        return [
            b
            for b in ("torch", "cupy", "triton")
            if b in _spikingjelly_lif_node()(step_mode="m").supported_backends
        ]
    return ["torch", "triton", "cuda"]


def _spikingjelly_select_cuda_implementation(name: str, device: torch.device) -> None:
    # SpikingJelly 2.x reads SJ_LIF_CUDA_IMPLEMENTATION once at import and caches its choice per
    # device, for the whole process; switching between its implementations means resetting that
    # private state. The check first keeps the reset out of all but the first call of a block.
    from spikingjelly._ops import lif

    selection = lif._selection
    index = device.index if device.index is not None else torch.cuda.current_device()
    current = selection._selections.get(index)
    if current is not None and current.name == name:
        return
    selection._requested = name
    selection._selections.clear()
    chosen = selection.diagnostics(device)
    if chosen["implementation"] != name:
        raise RuntimeError(f"SpikingJelly {name} implementation unavailable: {chosen['unavailable']}")


def _spikingjelly_build(backend, device, decay, threshold):
    options = dict(
        tau=1.0 / (1.0 - decay),
        decay_input=False,
        v_threshold=threshold,
        v_reset=0.0,
        detach_reset=False,
        step_mode="m",
    )
    if _spikingjelly_has_backend_argument():
        options["backend"] = backend
    select = device.type == "cuda" and "backend" not in options
    node = _spikingjelly_lif_node()(**options).to(device)

    def run(x):
        if select:
            _spikingjelly_select_cuda_implementation(backend, device)
        node.reset()
        return node(x)

    if select:
        _spikingjelly_select_cuda_implementation(backend, device)
    return run


# Norse integrates an ODE with step dt; a synaptic time constant of dt makes the current
# instantaneous (the whole input enters in the step it arrives), and tau_mem = dt / (1 - decay)
# leaves decay * v + (1 - decay) * i, so an input scaled by 1 / (1 - decay) gives our dynamics.
_NORSE_DT = 1e-3


def _norse_build(backend, device, decay, threshold):
    import norse.torch as norse

    as_tensor = torch.as_tensor
    parameters = norse.LIFParameters(
        tau_syn_inv=as_tensor(1.0 / _NORSE_DT),
        tau_mem_inv=as_tensor((1.0 - decay) / _NORSE_DT),
        v_leak=as_tensor(0.0),
        v_th=as_tensor(threshold),
        v_reset=as_tensor(0.0),
    )
    neuron = norse.LIF(p=parameters, dt=_NORSE_DT).to(device)
    return lambda x: neuron(x)[0]


PEERS: list[Peer] = [
    Peer(
        name="snnTorch Leaky",
        distribution="snntorch",
        match="exact",
        mapping=lambda decay, threshold: (
            f"Leaky(beta={decay}, threshold={threshold}, reset_mechanism='zero'), stepped over T; "
            "its reset at step t comes from the spike of step t-1 (reset_delay), which is our "
            "v_{t-1} = h_{t-1} (1 - s_{t-1}); it fires on mem > threshold where we fire on >=, and "
            "its reset carries no gradient (our detach_reset=True)"
        ),
        backends=lambda device: ["torch"],
        build=_snntorch_build,
    ),
    Peer(
        name="SpikingJelly LIFNode",
        distribution="spikingjelly",
        match="exact",
        mapping=lambda decay, threshold: (
            f"LIFNode(tau={1.0 / (1.0 - decay):g} = 1/(1-decay), decay_input=False, "
            f"v_threshold={threshold}, v_reset=0.0, detach_reset=False, step_mode='m')"
        ),
        backends=_spikingjelly_backends,
        build=_spikingjelly_build,
    ),
    Peer(
        name="Norse LIF",
        distribution="norse",
        match="rescaled",
        mapping=lambda decay, threshold: (
            f"LIF(LIFParameters(tau_syn_inv=1/dt, tau_mem_inv={1.0 - decay:g}/dt, v_leak=0, "
            f"v_th={threshold}, v_reset=0), dt={_NORSE_DT:g}) fed x / (1 - decay): equal to ours "
            "up to rounding; it fires on v > v_th where we fire on >="
        ),
        backends=lambda device: ["torch"],
        build=_norse_build,
        to_peer_input=lambda x, decay: x / (1.0 - decay),
    ),
]


@dataclass(frozen=True)
class RecurrentPeer:
    """A peer of hnn_fast.ops.lif_recurrent. build(weight [N, N], decay, threshold) returns the runner
    and the tensors besides the input that its gradient reaches (its copy of the weight)."""

    name: str
    distribution: str
    mapping: Callable[[float, float], str]
    build: Callable[[Tensor, float, float], tuple[Runner, list[Tensor]]]

    def version(self) -> str | None:
        return installed_version(self.distribution)


def _snntorch_rleaky(reset_mechanism: str):
    def build(weight, decay, threshold):
        import snntorch

        neuron = snntorch.RLeaky(
            beta=decay,
            threshold=threshold,
            reset_mechanism=reset_mechanism,
            all_to_all=True,
            linear_features=weight.shape[0],
        ).to(weight.device, weight.dtype)
        # nn.Linear computes s @ weight^T + bias: our synapse matrix transposed, without a bias.
        with torch.no_grad():
            neuron.recurrent.weight.copy_(weight.t())
            neuron.recurrent.bias.zero_()
        neuron.recurrent.bias.requires_grad_(False)

        def run(x):
            spike, mem = neuron.reset_mem()
            spikes = []
            for x_t in x:
                spike, mem = neuron(x_t, spike, mem)
                spikes.append(spike)
            return torch.stack(spikes)

        return run, [neuron.recurrent.weight]

    return build


def _rleaky_mapping(reset_mechanism: str, how: str) -> Callable[[float, float], str]:
    return lambda decay, threshold: (
        f"RLeaky(beta={decay}, threshold={threshold}, reset_mechanism='{reset_mechanism}', "
        "all_to_all=True, linear_features=N), its recurrent nn.Linear holding our weight transposed and "
        f"a zero bias without gradient, stepped over T; {how}. Its reset acts one step late (from the "
        "previous step's membrane), so its spikes differ from ours and are not compared"
    )


RECURRENT_PEERS: list[RecurrentPeer] = [
    RecurrentPeer(
        name="snnTorch RLeaky",
        distribution="snntorch",
        mapping=_rleaky_mapping(
            "zero",
            "the reset of our default (hard, to 0); snnTorch evaluates the state, recurrent product "
            "included, twice per step for this reset, and its reset clears the input of the step "
            "after a spike too",
        ),
        build=_snntorch_rleaky("zero"),
    ),
    RecurrentPeer(
        name="snnTorch RLeaky subtract",
        distribution="snntorch",
        mapping=_rleaky_mapping(
            "subtract", "its fastest reset: one recurrent product per step, as every other variant"
        ),
        build=_snntorch_rleaky("subtract"),
    ),
]


def spike_agreement(ours: Tensor, theirs: Tensor) -> dict:
    """How many spikes agree: spikes in both / spikes in either (1.0 when identical), and the
    fraction of all neuron-steps whose outputs are equal."""
    ours, theirs = ours.detach().bool(), theirs.detach().to(torch.float32).bool()
    both = int((ours & theirs).sum())
    either = int((ours | theirs).sum())
    return {
        "spikes_ours": int(ours.sum()),
        "spikes_peer": int(theirs.sum()),
        "spikes_both": both,
        "spike_agreement": both / either if either else 1.0,
        "elementwise_agreement": float((ours == theirs).float().mean()),
    }
