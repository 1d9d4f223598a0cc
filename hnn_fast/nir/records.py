"""A module's exact state as flat NIR metadata (names to scalars, strings and arrays, what nir.write
stores), and back. Only the classes of a fixed table are rebuilt, from their recorded attributes,
parameters, buffers and children, so reading a graph never runs code from the file."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from ..nn import hybrid_units
from ..options import NONLINEARITIES

# The classes a record may name: the hybrid units, their stages, and the torch layers they hold.
_NONLINEARITY_CLASSES = {type(make()).__name__: type(make()) for make in NONLINEARITIES.values()}
RECORD_CLASSES: dict[str, type[nn.Module]] = {
    **{
        cls.__name__: cls
        for cls in (
            hybrid_units.HybridUnit,
            hybrid_units.S2AHU,
            hybrid_units.A2SHU,
            hybrid_units.ModulationHU,
            hybrid_units.WindowFilter,
            hybrid_units.Encoder,
            hybrid_units.LearnableSampler,
            hybrid_units.Binarize,
            hybrid_units.ScaledSigmoid,
            nn.Identity,
            nn.Sequential,
            nn.Linear,
        )
    },
    **_NONLINEARITY_CLASSES,
}
# What every nn.Module sets in __init__: rebuilt by nn.Module.__init__, never recorded.
_MODULE_INTERNALS = frozenset(vars(nn.Module()))
# Between a child's name and its keys; not "/", which HDF5 (nir.write) reads as a group path.
SEP = ":"
# A generator cannot be stored; a restored Encoder draws from the default generator.
_NOT_RECORDED = (torch.Generator,)


def record(module: nn.Module, prefix: str = "") -> dict:
    """module -> {name: value} with names "<prefix>class", "<prefix>attr.<a>", "<prefix>param.<p>", ..."""
    name = type(module).__name__
    if RECORD_CLASSES.get(name) is not type(module):
        raise ValueError(
            f"{name} has no NIR form in hnn_fast: a hybrid unit's stages must be hnn_fast stages, named "
            f"nonlinearities, nn.Linear or nn.Sequential of them"
        )
    out = {f"{prefix}class": name}
    for key, value in vars(module).items():
        if key in _MODULE_INTERNALS:
            continue
        out.update(_attribute(prefix, key, value, name))
    for key, p in module._parameters.items():
        out[f"{prefix}param.{key}"] = _array(p) if p is not None else np.zeros(0)
        if p is None:
            out[f"{prefix}none.{key}"] = True
    for key, b in module._buffers.items():
        out[f"{prefix}buffer.{key}"] = _array(b) if b is not None else np.zeros(0)
        if b is None:  # a state at rest
            out[f"{prefix}none.{key}"] = True
    # the non-persistent buffers (a stateful module's state) stay out of state_dict once rebuilt
    out[f"{prefix}transient"] = ",".join(sorted(module._non_persistent_buffers_set))
    # HDF5 lists keys sorted: the orders of parameters, buffers and children are kept explicitly
    for kind, names in (
        ("params", module._parameters),
        ("buffers", module._buffers),
        ("children", module._modules),
    ):
        out[f"{prefix}{kind}"] = ",".join(names)
    for key, child in module._modules.items():
        out.update(record(child, f"{prefix}{key}{SEP}"))
    return out


def _attribute(prefix: str, key: str, value, owner: str) -> dict:
    if value is None or isinstance(value, _NOT_RECORDED):
        return {f"{prefix}none.{key}": True}
    if isinstance(value, (bool, int, float, str)):
        return {f"{prefix}attr.{key}": value}
    if isinstance(value, Tensor):
        return {f"{prefix}tensor.{key}": _array(value)}
    if isinstance(value, (tuple, list)) and all(isinstance(v, (int, float)) for v in value):
        return {f"{prefix}tuple.{key}": np.asarray(value, dtype=np.int64 if _ints(value) else np.float64)}
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return {f"{prefix}strings.{key}": ",".join(value)}
    raise ValueError(f"{owner}.{key} ({type(value).__name__}) cannot be written to NIR")


def _ints(values) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _array(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def restore(metadata: dict, prefix: str = "") -> nn.Module:
    """The module a record describes (see record)."""
    name = _python(metadata[f"{prefix}class"])
    if name not in RECORD_CLASSES:
        raise ValueError(f"the NIR graph names a module {name!r} that hnn_fast does not rebuild")
    module = RECORD_CLASSES[name].__new__(RECORD_CLASSES[name])
    # The recorded attributes, parameters and children are the whole state: __init__ is not rerun.
    nn.Module.__init__(module)
    for key, value in metadata.items():
        rest = key[len(prefix) :] if key.startswith(prefix) else SEP
        kind, _, attr = rest.partition(".")
        if SEP in rest or not attr:
            continue
        if kind == "attr":
            setattr(module, attr, _python(value))
        elif (
            kind == "none"
            and f"{prefix}param.{attr}" not in metadata
            and f"{prefix}buffer.{attr}" not in metadata
        ):
            setattr(module, attr, None)
        elif kind == "tensor":
            setattr(module, attr, torch.from_numpy(np.array(value)))
        elif kind == "tuple":
            setattr(module, attr, tuple(np.asarray(value).tolist()))
        elif kind == "strings":
            text = _python(value)
            setattr(module, attr, text.split(",") if text else [])
    for attr in _names(metadata, f"{prefix}params"):
        none = metadata.get(f"{prefix}none.{attr}", False)
        value = None if none else nn.Parameter(torch.from_numpy(np.array(metadata[f"{prefix}param.{attr}"])))
        module.register_parameter(attr, value)
    transient = set(_names(metadata, f"{prefix}transient"))
    for attr in _names(metadata, f"{prefix}buffers"):
        none = metadata.get(f"{prefix}none.{attr}", False)
        value = None if none else torch.from_numpy(np.array(metadata[f"{prefix}buffer.{attr}"]))
        module.register_buffer(attr, value, persistent=attr not in transient)
    for child in _names(metadata, f"{prefix}children"):
        module.add_module(child, restore(metadata, f"{prefix}{child}{SEP}"))
    return module


def _names(metadata: dict, key: str) -> list[str]:
    text = _python(metadata[key])
    return text.split(",") if text else []


def _python(value):
    """h5py hands numpy scalars and bytes back: the Python value that was written."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value
