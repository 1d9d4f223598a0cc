"""Side-by-side timing: every variant of one comparison is timed in the same rounds, so that a
machine shared with other work slows them all alike and their ratios stay meaningful."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils import benchmark


@dataclass(frozen=True)
class Stats:
    """Seconds per call of one variant: the median over rounds and its spread."""

    median_s: float
    iqr_s: float
    min_s: float
    max_s: float
    rounds: int
    calls_per_round: int

    @classmethod
    def of(cls, times: list[float], calls_per_round: int) -> Stats:
        quartiles = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else times * 3
        return cls(
            statistics.median(times),
            quartiles[2] - quartiles[0],
            min(times),
            max(times),
            len(times),
            calls_per_round,
        )

    def to_json(self) -> dict:
        return dict(self.__dict__)


def ratio(slow: Stats | None, fast: Stats | None) -> float | None:
    """How many times faster `fast` is than `slow`, by their medians; None when one is missing."""
    return slow.median_s / fast.median_s if slow is not None and fast is not None else None


def forward_call(fn, tensors, kwargs):
    """fn(*tensors, **kwargs) without autograd: what a forward measurement times."""

    def call():
        with torch.no_grad():
            return fn(*tensors, **kwargs)

    return call


def training_call(fn, tensors, kwargs, primary, grad):
    """The forward and the gradient of primary(output) with respect to every tensor in `tensors`."""

    def call():
        out = primary(fn(*tensors, **kwargs))
        return torch.autograd.grad(out, tensors, grad)

    return call


def _timer(fn: Callable[[], object], threads: int) -> benchmark.Timer:
    # Timer synchronises the accelerator around each block, so GPU times are complete.
    return benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)


def time_side_by_side(
    variants: dict[str, Callable[[], object]],
    *,
    rounds: int,
    min_block_s: float,
    threads: int,
    warmup: int = 2,
    budget_s: float | None = None,
) -> dict[str, Stats]:
    """Times each variant in `rounds` interleaved blocks; a block repeats the call until it lasts
    about min_block_s, so fast variants are not dominated by timer overhead. With budget_s, a slow
    variant stops after the rounds that fit in it, but never before 3 (or `rounds` if fewer)."""
    timers = {name: _timer(fn, threads) for name, fn in variants.items()}
    calls, planned = {}, {}
    for name in variants:
        # The fastest warm-up call sizes the blocks. A call of over a second has warmed up in its
        # first run already; more warm-up would only lengthen the run.
        single = timers[name].timeit(1).median
        for _ in range(warmup - 1 if single < 1.0 else 0):
            single = min(single, timers[name].timeit(1).median)
        calls[name] = max(1, math.ceil(min_block_s / max(single, 1e-9)))
        fitting = rounds if budget_s is None else int(budget_s // (single * calls[name]))
        planned[name] = max(min(3, rounds), min(rounds, fitting))
    times: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for r in range(rounds):
        # Rotating the order keeps any one variant from always running right after another.
        for name in names[r % len(names) :] + names[: r % len(names)]:
            if r < planned[name]:
                times[name].append(timers[name].timeit(calls[name]).median)
    return {name: Stats.of(times[name], calls[name]) for name in names}


def copy_bandwidth(
    device: torch.device, megabytes: int, *, rounds: int, min_block_s: float, threads: int
) -> dict:
    """Bytes per second of dst.copy_(src) on a buffer far larger than the caches: the ceiling a
    memory-bound kernel is measured against. A copy reads and writes every byte: 2 * nbytes."""
    numel = megabytes * 2**20 // 4
    src = torch.rand(numel, device=device)
    dst = torch.empty_like(src)
    stats = time_side_by_side(
        {"copy": lambda: dst.copy_(src)}, rounds=rounds, min_block_s=min_block_s, threads=threads
    )["copy"]
    moved = 2 * src.nbytes
    return {
        "buffer_bytes": src.nbytes,
        "bytes_moved": moved,
        "time": stats.to_json(),
        "bytes_per_s": moved / stats.median_s,
    }
