"""Hybrid units as NIR subgraphs.

A hybrid unit becomes one NIRGraph node: Input -> its stages in order -> Output. A stage that is a NIR
primitive is written as one (nn.Linear as Affine/Linear, Binarize as Threshold); the others (windows
and temporal kernels, named nonlinearities, spike codes, learnable samplers) have no NIR primitive
and are written as identity subgraphs whose metadata names the stage and its parameters, so that a
reader sees the structure; NIR has no operator for them. The unit's whole state (every attribute,
parameter and buffer, hnn_fast.nir.records) is the subgraph's metadata, and hnn_fast rebuilds the unit
from that alone, exactly.
"""

from __future__ import annotations

import nir
import numpy as np
from torch import nn

from ..nn import hybrid_units
from .nodes import META, linear_to_nir
from .records import record, restore

HU_KEY = f"{META}hu."
HU_CLASSES = (hybrid_units.HybridUnit,)  # S2AHU, A2SHU and ModulationHU are HybridUnits
# Stages that turn values into spike trains: a unit with one adds the time dim.
_SPIKE_CODES = (hybrid_units.Encoder, hybrid_units.LearnableSampler)


def leads(unit: hybrid_units.HybridUnit) -> tuple[int, int]:
    """The leading (time, batch) dims of the unit's input and output: 2 with a time dim, 1 without."""
    windows = not isinstance(unit.window_filter, nn.Identity)
    lead_in = 2 if windows else 1
    lead_out = lead_in
    if windows and not getattr(unit, "keep_window_dim", True):
        lead_out -= 1
    if isinstance(unit.discretize, _SPIKE_CODES):
        lead_out += 1
    return lead_in, lead_out


def _stages(unit: nn.Module):
    for role in ("window_filter", "nonlinearity", "discretize"):
        stage = getattr(unit, role)
        parts = list(stage.named_children()) if isinstance(stage, nn.Sequential) else [("", stage)]
        for i, (_, part) in enumerate(parts):
            if not isinstance(part, nn.Identity):
                yield (f"{role}_{i}" if len(parts) > 1 else role), part


def _stage_node(stage: nn.Module, shape: tuple) -> tuple[nir.NIRNode, tuple]:
    if isinstance(stage, nn.Linear):
        return linear_to_nir(stage), (stage.out_features,)
    if isinstance(stage, hybrid_units.Binarize):
        return nir.Threshold(threshold=np.full(shape, stage.level)), shape
    metadata = {f"{META}stage.{k}": v for k, v in record(stage).items()}
    identity = nir.NIRGraph(
        nodes={
            "input": nir.Input({"input": np.asarray(shape)}),
            "output": nir.Output({"output": np.asarray(shape)}),
        },
        edges=[("input", "output")],
        metadata=metadata,
    )
    return identity, shape


def hu_to_nir(unit: hybrid_units.HybridUnit, input_shape: tuple) -> nir.NIRGraph:
    """The unit as a NIR subgraph on per-sample input_shape (its input without time and batch)."""
    shape = tuple(input_shape)
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input({"input": np.asarray(shape)})}
    edges, last = [], "input"
    for name, stage in _stages(unit):
        nodes[name], shape = _stage_node(stage, shape)
        edges.append((last, name))
        last = name
    nodes["output"] = nir.Output({"output": np.asarray(shape)})
    edges.append((last, "output"))
    metadata = {f"{HU_KEY}{k}": v for k, v in record(unit).items()}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def is_hu(node: nir.NIRNode) -> bool:
    return isinstance(node, nir.NIRGraph) and f"{HU_KEY}class" in (node.metadata or {})


def hu_from_nir(node: nir.NIRGraph) -> hybrid_units.HybridUnit:
    metadata = {k[len(HU_KEY) :]: v for k, v in node.metadata.items() if k.startswith(HU_KEY)}
    unit = restore(metadata)
    if not isinstance(unit, hybrid_units.HybridUnit):
        raise ValueError(f"the NIR hybrid-unit record holds a {type(unit).__name__}, not a hybrid unit")
    return unit
