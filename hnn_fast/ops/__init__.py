"""The fused ops, one module each: a typed wrapper over torch.ops.hnn_fast with its fake-tensor and
autograd registrations. Schemas: csrc/registration.cpp. Semantics: hnn_fast/reference.py. Names and
defaults: hnn_fast/options.py. Every piece of an op: csrc/README.md."""

from ._common import get_backend, set_backend
from .hu_encode import hu_encode
from .hu_window import hu_window
from .leaky_integrate import leaky_integrate
from .lif import lif
from .lif_recurrent import lif_recurrent

__all__ = ["get_backend", "hu_encode", "hu_window", "leaky_integrate", "lif", "lif_recurrent", "set_backend"]
