"""Recurrent spiking layers in NIR, written as NIR writes an RSNN (snnTorch's RLeaky does the same): a
subgraph Input -> LIF -> Output whose LIF also feeds its spikes back to its own input through a Linear,
the cycle LIF -> Linear -> LIF. On the way in, every LIF or IF whose output returns to its input
through one Linear or Affine node of its own is taken for one recurrent layer, in a subgraph or in the
graph itself (snnTorch's older exporter writes the subgraph's nodes into the enclosing graph); any
other cycle stays in the graph, which the import then refuses."""

from __future__ import annotations

import nir
import numpy as np

from ..nn import RecurrentLIF
from .nodes import lif_to_nir

_SPIKING = (nir.LIF, nir.IF)
_WEIGHTS = (nir.Linear, nir.Affine)


def recurrent_to_nir(module: RecurrentLIF, input_shape: tuple, dt: float) -> nir.NIRGraph:
    """The layer as a subgraph; the Linear holds weight.T, NIR's weights being [to, from]."""
    shape = tuple(input_shape)
    if shape != (module.features,):
        raise ValueError(
            f"RecurrentLIF({module.features}) exports to NIR on inputs [T, B, {module.features}], got "
            f"per-sample shape {list(shape)}"
        )
    io = np.asarray(shape)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input({"input": io}),
            "lif": lif_to_nir(module, shape, dt),
            "w_rec": nir.Linear(weight=module.weight.detach().cpu().numpy().T.copy()),
            "output": nir.Output({"output": io}),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
    )


def fold_recurrence(graph: nir.NIRGraph) -> tuple[nir.NIRGraph, dict[str, nir.NIRNode]]:
    """The graph without its recurrent connections, and {spiking node: its recurrent weight node}."""
    recurrent: dict[str, nir.NIRNode] = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, _WEIGHTS):
            continue
        sources = [s for s, d in graph.edges if d == name]
        targets = [d for s, d in graph.edges if s == name]
        neuron = sources[0] if len(sources) == 1 else None
        if targets == sources and isinstance(graph.nodes.get(neuron), _SPIKING) and neuron not in recurrent:
            recurrent[neuron] = name
    if not recurrent:
        return graph, {}
    weights = set(recurrent.values())
    folded = nir.NIRGraph(
        nodes={n: v for n, v in graph.nodes.items() if n not in weights},
        edges=[(s, d) for s, d in graph.edges if s not in weights and d not in weights],
        metadata=graph.metadata,
        type_check=False,
    )
    return folded, {neuron: graph.nodes[w] for neuron, w in recurrent.items()}
