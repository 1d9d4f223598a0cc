"""NIR (the Neuromorphic Intermediate Representation, https://neuroir.org) graphs in and out:
to_nir(model, sample_data) and from_nir(graph), the names Norse uses. Neurons map to nir.LIF / IF /
LI / I with a time step dt (hnn_fast.nir.nodes), RecurrentLIF to a LIF with a recurrent Linear
(hnn_fast.nir.recurrent), layers to their NIR nodes, hybrid units to subgraphs that hnn_fast reads back
exactly (hnn_fast.nir.hybrid). docs/interop.md has the mapping."""

from .graph import DEFAULT_DT, NIRGraphModule, from_nir, to_nir
from .nodes import InputGain

__all__ = ["DEFAULT_DT", "InputGain", "NIRGraphModule", "from_nir", "to_nir"]
