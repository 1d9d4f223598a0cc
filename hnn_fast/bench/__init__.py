"""The benchmark suite behind `hnn-fast bench`. Models join it with
`hnn_fast.bench.models.register_model` (see that module); ops with an entry in
`hnn_fast.bench.ops_table.OPS`."""

from .config import Config
from .models import ModelCase, register_model

__all__ = ["Config", "ModelCase", "register_model"]
