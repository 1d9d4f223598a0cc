"""What one run of the suite measures: the preset (tiny, quick, full) and the command-line overrides."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch

GROUPS = ("lif", "leaky", "hu", "recurrent", "peers", "models")
DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}

# Sizes are [T, *shape], time-major. "in-cache" is the size the LIF targets are stated at (8 MiB a
# tensor); "out-of-cache" is where a memory-bound kernel meets copy bandwidth: the tensors one LIF
# training step touches (x, spikes, h, grad_spikes, grad_x) must exceed the last-level cache, which is
# 300 MiB on the development machines. The copy buffer is 1 GiB for the same reason.
BOTH = ("in-cache", "out-of-cache")
# The recurrent group's sizes, [T, B, N] by kind (hnn_fast/bench/recurrent.py): "hrn" is the HRN
# reasoner's shape (one network of N neurons, a batch of questions, a stimulus of about 30 steps),
# "rsnn" a recurrent SNN trained by BPTT.
PRESETS = {
    # A mechanism check for the test suite: the sizes are labels only and nothing is compiled
    # (torch.compile of the reference loop takes seconds even at T=4).
    "tiny": dict(
        sizes={"in-cache": (4, 2, 64), "out-of-cache": (4, 4, 64)},
        compile_sizes=(),
        peer_sizes=BOTH,
        rounds=2,
        min_block_s=0.0,
        recurrent_sizes={"hrn": ((3, 8, 16), (3, 8, 24)), "rsnn": ((4, 4, 16),)},
        copy_megabytes=4,
        warmup=1,
    ),
    # `make bench`: compiles and times the peers only at the in-cache size, since each torch.compile
    # of the T-step loop costs 10-60 s on two cores (a recompile for a new shape as much again), and
    # a peer's Python loop takes seconds per call at the out-of-cache size.
    "quick": dict(
        sizes={"in-cache": (32, 64, 1024), "out-of-cache": (32, 256, 4096)},
        compile_sizes=("in-cache",),
        peer_sizes=("in-cache",),
        rounds=5,
        min_block_s=0.05,
        variant_budget_s=6.0,
        recurrent_sizes={
            "hrn": tuple((30, 1000, n) for n in (100, 500, 2000)),
            "rsnn": tuple((100, 64, n) for n in (256, 1024)),
        },
        copy_megabytes=1024,
        warmup=2,
    ),
    "full": dict(
        sizes={"in-cache": (32, 64, 1024), "out-of-cache": (64, 256, 4096)},
        compile_sizes=BOTH,
        peer_sizes=BOTH,
        rounds=9,
        min_block_s=0.2,
        recurrent_sizes={
            "hrn": tuple((30, 1000, n) for n in (100, 250, 500, 1000, 2000)),
            "rsnn": tuple((100, 64, n) for n in (256, 512, 1024)),
        },
        copy_megabytes=1024,
        warmup=2,
    ),
}


@dataclass
class Config:
    preset: str = "quick"
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = field(default_factory=torch.get_num_threads)
    only: tuple[str, ...] = GROUPS
    sizes: dict = field(default_factory=dict)
    compile_sizes: tuple[str, ...] = ()
    peer_sizes: tuple[str, ...] = ()
    recurrent_sizes: dict = field(default_factory=dict)
    rounds: int = 5
    min_block_s: float = 0.05
    # seconds of timing one variant may take after warm-up before it stops at 3 rounds; None: no limit
    variant_budget_s: float | None = None
    copy_megabytes: int = 256
    warmup: int = 2
    seed: int = 0

    @classmethod
    def from_preset(cls, preset: str, **overrides) -> Config:
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        unknown = set(overrides.get("only", ())) - set(GROUPS)
        if unknown:
            raise ValueError(f"--only takes {', '.join(GROUPS)}; unknown: {', '.join(sorted(unknown))}")
        if overrides.get("dtype", "float32") not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}")
        return cls(preset=preset, **{**PRESETS[preset], **overrides})

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    @property
    def torch_device(self) -> torch.device:
        return torch.device(self.device)

    def to_json(self) -> dict:
        data = asdict(self)
        data["only"] = list(self.only)
        data["compile_sizes"] = list(self.compile_sizes)
        data["peer_sizes"] = list(self.peer_sizes)
        data["sizes"] = {name: list(size) for name, size in self.sizes.items()}
        data["recurrent_sizes"] = {
            kind: [list(size) for size in sizes] for kind, sizes in self.recurrent_sizes.items()
        }
        return data
