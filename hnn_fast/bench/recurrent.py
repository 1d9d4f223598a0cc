"""The recurrent group: hnn_fast.ops.lif_recurrent against the reference's Python loop over the steps
(hnn_fast.reference.lif_recurrent) and the recurrent peers (snnTorch RLeaky), side by side at the
sizes of Config.recurrent_sizes. "hrn" is the HRN reasoner's shape, timed forward only (its weights
are written by a rule, not learnt); "rsnn" a recurrent SNN trained by backpropagation through time,
forward and forward+backward. Every implementation is bound by the same dense products (2 T B N^2
flops forward, three times as many forward+backward), so each entry also gives the fused op's rate
in those flops: how close it runs to the machine's matrix product."""

from __future__ import annotations

import math

import torch

from .. import ops, reference
from .ops_table import FORWARD, FORWARD_BACKWARD, LIF_DECAY, LIF_THRESHOLD, Target
from .peers import RECURRENT_PEERS, not_installed
from .timing import forward_call, ratio, training_call

KIND_MODES = {"hrn": (FORWARD,), "rsnn": (FORWARD, FORWARD_BACKWARD)}
TARGETS = tuple(Target(FORWARD_BACKWARD, f"rsnn-{n}", "speedup_vs_reference", 5.0) for n in (256, 1024))


def size_name(kind: str, shape) -> str:
    return f"{kind}-{shape[-1]}"


def count_steps(config) -> int:
    return sum(len(sizes) * len(KIND_MODES[kind]) for kind, sizes in config.recurrent_sizes.items())


def make_inputs(shape, dtype, device, generator):
    """x [T, B, N] and a shared weight [N, N] scaled so that the network fires sparsely but does fire."""
    n = shape[-1]
    x = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
    weight = torch.randn((n, n), generator=generator, device=device, dtype=torch.float32) / math.sqrt(n)
    return x.to(dtype), weight.to(dtype)


def _fused(x, weight):
    return ops.lif_recurrent(x, weight, decay=LIF_DECAY, threshold=LIF_THRESHOLD)[0]


def _reference(x, weight):
    return reference.lif_recurrent(x, weight, decay=LIF_DECAY, threshold=LIF_THRESHOLD)[0]


def _installed_peers(run) -> list[tuple]:
    found = []
    for peer in RECURRENT_PEERS:
        version = peer.version()
        if version is None:
            run.skip(peer.name, not_installed(peer.distribution))
        else:
            found.append((peer, version))
    return found


def _peer_call(peer, x, weight, mode):
    runner, parameters = peer.build(weight.detach(), LIF_DECAY, LIF_THRESHOLD)
    x = x.detach().requires_grad_(mode == FORWARD_BACKWARD)
    if mode == FORWARD:
        return forward_call(runner, [x], {})
    # The runner reads its parameters itself; they are passed for autograd.grad only.
    return training_call(lambda x, *_: runner(x), [x, *parameters], {}, lambda s: s, torch.ones_like(x))


def _calls(run, x, weight, mode, peers) -> dict:
    """The variants of one measurement, each a call that runs it once."""
    if mode == FORWARD:
        variants = {
            "fused": forward_call(_fused, [x, weight], {}),
            "reference": forward_call(_reference, [x, weight], {}),
        }
    else:
        x, weight = x.detach().requires_grad_(), weight.detach().requires_grad_()
        grad = torch.ones_like(x)
        variants = {
            name: training_call(fn, [x, weight], {}, lambda s: s, grad)
            for name, fn in (("fused", _fused), ("reference", _reference))
        }
    for peer, _ in peers:
        try:
            call = _peer_call(peer, x, weight, mode)
            call()
        except Exception as error:
            run.skip(f"{peer.name} {mode} at {list(x.shape)}", f"failed: {error!r}"[:500])
            continue
        variants[peer.name] = call
    return variants


def _bench_case(run, kind: str, shape: tuple, mode: str, peers) -> dict:
    x, weight = make_inputs(shape, run.dtype, run.device, run.generator())
    with torch.no_grad():
        fused = _fused(x, weight)
        max_abs_error = (
            float((fused.float() - _reference(x, weight).float()).abs().max()) if mode == FORWARD else None
        )
    times = run.time(_calls(run, x, weight, mode, peers))
    T, B, N = shape
    flops = 2 * T * B * N * N * (1 if mode == FORWARD else 3)
    return {
        "op": "lif_recurrent",
        "kind": kind,
        "size": size_name(kind, shape),
        "mode": mode,
        "shape": list(shape),
        "firing_rate": float(fused.float().mean()),
        "times": {name: stats.to_json() for name, stats in times.items()},
        "speedup_vs_reference": ratio(times["reference"], times["fused"]),
        "speedup_vs_peers": {
            name: ratio(stats, times["fused"])
            for name, stats in times.items()
            if name not in ("fused", "reference")
        },
        "product_flops": flops,
        "product_flop_per_s": flops / times["fused"].median_s,
        "max_abs_error": max_abs_error,
    }


def bench(run) -> dict:
    """Every kind, size and mode of run.config.recurrent_sizes; `run` is the suite's _Run."""
    peers = _installed_peers(run)
    cases = []
    for kind, sizes in run.config.recurrent_sizes.items():
        for shape in sizes:
            for mode in KIND_MODES[kind]:
                run.progress.step(f"lif_recurrent {mode} {size_name(kind, shape)}")
                cases.append(_bench_case(run, kind, tuple(shape), mode, peers))
                run.progress.advance()
    return {
        "decay": LIF_DECAY,
        "threshold": LIF_THRESHOLD,
        "weight": "shared [N, N], normal / sqrt(N); x standard normal",
        "peers": [
            {"peer": peer.name, "version": version, "mapping": peer.mapping(LIF_DECAY, LIF_THRESHOLD)}
            for peer, version in peers
        ],
        "cases": cases,
    }
