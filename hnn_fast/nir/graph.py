"""to_nir: trace a model into a NIR graph (nirtorch), one node per module; from_nir: a NIR graph into
a model that runs on whole sequences, an nn.Sequential for a chain of nodes."""

from __future__ import annotations

import collections
import itertools
import os

import nir
import nirtorch
import numpy as np
import torch
from torch import Tensor, nn

from ..nn import LIF, LeakyIntegrator, RecurrentLIF, hybrid_units
from ..nn.layers import TimeDistributed
from . import nodes
from .hybrid import HU_CLASSES, hu_from_nir, hu_to_nir, is_hu, leads
from .nodes import META
from .recurrent import fold_recurrence, recurrent_to_nir

DEFAULT_DT = 1e-3  # seconds per time step, Norse's default
_NEURONS = (LIF, LeakyIntegrator, RecurrentLIF)
_LAYERS = (nn.Linear, nn.Flatten, nn.Conv1d, nn.Conv2d, nn.AvgPool2d, nn.LPPool2d)
_HU_TYPES = (hybrid_units.HybridUnit, hybrid_units.S2AHU, hybrid_units.A2SHU, hybrid_units.ModulationHU)
_NEURON_NODES = (nir.LIF, nir.IF, nir.LI, nir.I)


def to_nir(module: nn.Module, sample_data: Tensor, *, dt: float = DEFAULT_DT) -> nir.NIRGraph:
    """The model as a NIR graph. sample_data is one input (any T and batch): it is run once to learn
    every module's input shape. Shapes in the graph exclude the leading dims: [T, B] in the spiking
    part, [B] before an A2S unit. dt (seconds per step) sets the neurons' time constants
    (hnn_fast.nir.nodes). Soft-reset LIF and modules without a NIR form are refused by name."""
    if isinstance(module, (*_NEURONS, *_LAYERS, *_HU_TYPES, TimeDistributed)):
        module = nn.Sequential(module)
    shapes = _input_shapes(module, sample_data)

    def convert(m: nn.Module) -> nir.NIRNode:
        full, lead = shapes[m]
        shape = tuple(full[lead:])
        if isinstance(m, RecurrentLIF):
            return recurrent_to_nir(m, shape, dt)
        if isinstance(m, LIF):
            return nodes.lif_to_nir(m, shape, dt)
        if isinstance(m, LeakyIntegrator):
            return nodes.li_to_nir(m, shape, dt)
        if isinstance(m, HU_CLASSES):
            return hu_to_nir(m, shape)
        if isinstance(m, TimeDistributed):
            return _distributed_to_nir(m, tuple(full[2:]))
        return _layer_to_nir(m, shape, lead)

    module_map = {cls: convert for cls in (*_NEURONS, *_LAYERS, *_HU_TYPES, TimeDistributed)}
    graph = nirtorch.torch_to_nir(module, module_map, default_dict=None)
    graph.metadata = {**(graph.metadata if isinstance(graph.metadata, dict) else {}), f"{META}dt": float(dt)}
    return graph


def _layer_to_nir(m: nn.Module, shape: tuple, lead: int) -> nir.NIRNode:
    if isinstance(m, nn.Linear):
        return nodes.linear_to_nir(m)
    if isinstance(m, nn.Flatten):
        return nodes.flatten_to_nir(m, shape, lead)
    if isinstance(m, (nn.Conv1d, nn.Conv2d)):
        return nodes.conv_to_nir(m, shape)
    return nodes.pool_to_nir(m)


def _distributed_to_nir(m: TimeDistributed, shape: tuple) -> nir.NIRNode:
    if isinstance(m.module, nn.Sequential):
        raise ValueError("TimeDistributed of several modules: write one TimeDistributed per module for NIR")
    return _layer_to_nir(m.module, shape, 1)


def _input_shapes(module: nn.Module, sample_data: Tensor) -> dict[nn.Module, tuple[tuple, int]]:
    """Each module's full input shape and its number of leading (time, batch) dims, from one run."""
    mapped = (*_NEURONS, *_LAYERS, *_HU_TYPES, TimeDistributed)
    leaves = _mapped_leaves(module, mapped)
    calls: list[tuple[nn.Module, tuple]] = []
    handles = [
        m.register_forward_pre_hook(lambda m, args: calls.append((m, tuple(args[0].shape)))) for m in leaves
    ]
    try:
        with torch.no_grad():
            module(sample_data)
    finally:
        for h in handles:
            h.remove()
    # The time and batch dims in call order: neurons and time-distributed layers take [T, B, ...], a
    # hybrid unit sets them by its kind, a plain layer takes what came before it.
    first = next((m for m, _ in calls if not isinstance(m, _LAYERS)), None)
    lead = leads(first)[0] if isinstance(first, HU_CLASSES) else 2
    shapes = {}
    for m, shape in calls:
        if isinstance(m, (*_NEURONS, TimeDistributed)):
            lead = 2
        elif isinstance(m, HU_CLASSES):
            lead_in, lead_out = leads(m)
            shapes.setdefault(m, (shape, lead_in))
            lead = lead_out
            continue
        shapes.setdefault(m, (shape, lead))
    return shapes


def _mapped_leaves(module: nn.Module, mapped: tuple) -> list[nn.Module]:
    found = []

    def walk(m: nn.Module, path: str) -> None:
        if isinstance(m, mapped):
            found.append(m)
        elif type(m) is nn.Sequential or (not isinstance(m, nn.Sequential) and list(m.children())):
            for name, child in m.named_children():
                walk(child, f"{path}.{name}" if path else name)
        else:
            raise ValueError(
                f"{path or 'the model'} ({type(m).__name__}) has no NIR form; hnn_fast writes LIF, "
                f"RecurrentLIF, LeakyIntegrator, hybrid units, Linear, Conv1d/2d, Flatten, AvgPool2d, "
                f"LPPool2d (norm 1) and TimeDistributed of those"
            )

    walk(module, "")
    return found


# ---- from NIR ----------------------------------------------------------------------------------------


def from_nir(
    graph: nir.NIRGraph | str | os.PathLike, *, dt: float | None = None, dtype: torch.dtype = torch.float32
) -> nn.Module:
    """A NIR graph (or a file nir.write wrote) as an hnn_fast model on whole sequences [T, B, ...]
    ([B, ...] where the graph starts with an A2S unit). dt: seconds per step, by default the one
    hnn_fast recorded in the graph, else DEFAULT_DT. dtype: that of the parameters made from the graph's
    arrays (a module hnn_fast recorded comes back in its own). A chain of nodes becomes an nn.Sequential,
    a LIF or IF in a cycle with its own Linear or Affine a RecurrentLIF (hnn_fast.nir.recurrent)."""
    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(os.fspath(graph))
    if dt is None:
        dt = float(np.asarray((graph.metadata or {}).get(f"{META}dt", DEFAULT_DT)))
    graph, recurrent = fold_recurrence(graph)
    order, inputs = _topological(graph)
    first = next(
        (graph.nodes[n] for n in order if is_hu(graph.nodes[n]) or isinstance(graph.nodes[n], _NEURON_NODES)),
        None,
    )
    lead = leads(hu_from_nir(first))[0] if first is not None and is_hu(first) else 2
    modules, lead_of = {}, {}
    for name in order:
        node = graph.nodes[name]
        lead_in = max((lead_of[p] for p in inputs[name]), default=lead)
        modules[name], lead_of[name] = _module(node, dt, lead_in, dtype, recurrent.get(name))
    return _assemble(graph, order, inputs, modules)


def _module(
    node: nir.NIRNode, dt: float, lead: int, dtype: torch.dtype, recurrent: nir.NIRNode | None = None
) -> tuple[nn.Module, int]:
    if isinstance(node, (nir.Input, nir.Output)):
        return nn.Identity(), lead
    if is_hu(node):
        unit = hu_from_nir(node)
        return unit, leads(unit)[1]
    if isinstance(node, _NEURON_NODES):
        return nodes.neuron_from_nir(node, dt, dtype, recurrent), lead
    if isinstance(node, nir.NIRGraph):
        node, inner_recurrent = fold_recurrence(node)
        order, inputs = _topological(node)
        inner, lead_of = {}, {}
        for name in order:
            lead_in = max((lead_of[p] for p in inputs[name]), default=lead)
            inner[name], lead_of[name] = _module(
                node.nodes[name], dt, lead_in, dtype, inner_recurrent.get(name)
            )
        body = [n for n in order if not isinstance(node.nodes[n], (nir.Input, nir.Output))]
        if len(body) == 1 and body[0] in inner_recurrent:  # the subgraph of one recurrent layer is the layer
            return inner[body[0]], lead_of[order[-1]]
        return _assemble(node, order, inputs, inner), lead_of[order[-1]]
    if isinstance(node, nir.CubaLIF):
        raise ValueError(
            "nir.CubaLIF (a LIF with a synaptic current) has no hnn_fast neuron; nir.LIF, IF, LI and I do"
        )
    return nodes.layer_from_nir(node, lead, dtype), lead


def _topological(graph: nir.NIRGraph) -> tuple[list[str], dict[str, list[str]]]:
    inputs: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for src, dst in graph.edges:
        inputs[dst].append(src)
    pending = {name: len(srcs) for name, srcs in inputs.items()}
    ready = collections.deque(name for name, n in pending.items() if n == 0)
    order = []
    while ready:
        name = ready.popleft()
        order.append(name)
        for src, dst in graph.edges:
            if src == name:
                pending[dst] -= 1
                if pending[dst] == 0:
                    ready.append(dst)
    if len(order) != len(graph.nodes):
        cycle = sorted(set(graph.nodes) - set(order))
        raise NotImplementedError(
            f"the NIR graph has a recurrent connection (a cycle through {cycle}) that is not a recurrent "
            f"layer: hnn_fast imports a cycle only as a LIF or IF whose output returns to its own input "
            f"through one Linear or Affine node (a RecurrentLIF)"
        )
    return order, inputs


def _name(name: str) -> str:
    return name.replace(".", "_")


def _assemble(graph: nir.NIRGraph, order: list[str], inputs: dict, modules: dict) -> nn.Module:
    outputs = [n for n in order if isinstance(graph.nodes[n], nir.Output)]
    chain = (
        len(outputs) == 1
        and all(len(inputs[n]) <= 1 for n in order)
        and all(inputs[b] == [a] for a, b in itertools.pairwise(order))
    )
    if chain:
        body = [
            (_name(n), m)
            for n, m in modules.items()
            if not isinstance(graph.nodes[n], (nir.Input, nir.Output))
        ]
        return nn.Sequential(collections.OrderedDict(body))
    return NIRGraphModule(order, inputs, modules, outputs)


class NIRGraphModule(nn.Module):
    """A feed-forward NIR graph that is not a chain: each node gets the sum of its inputs (NIR's rule for
    several incoming edges) and the output is the Output node's value (a tuple for several)."""

    def __init__(self, order: list[str], inputs: dict, modules: dict, outputs: list[str]):
        super().__init__()
        self.nodes = nn.ModuleDict({_name(n): m for n, m in modules.items()})
        self.order = [_name(n) for n in order]
        self.inputs = {_name(n): [_name(s) for s in srcs] for n, srcs in inputs.items()}
        self.outputs = [_name(n) for n in outputs]

    def forward(self, x: Tensor):
        values = {}
        for name in self.order:
            srcs = self.inputs[name]
            value = sum(values[s] for s in srcs[1:]) + values[srcs[0]] if srcs else x
            values[name] = self.nodes[name](value)
        out = [values[n] for n in self.outputs]
        return out[0] if len(out) == 1 else tuple(out)
