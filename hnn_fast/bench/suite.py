"""The benchmark suite: copy bandwidth, then the fused ops against their reference loops (eager and
compiled), the recurrent LIF against its reference loop and peers, the peer libraries' LIF neurons,
and the registered models, into one results dict (see docs/benchmarks.md for its schema)."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone

import torch

from .. import ops
from . import models as model_registry
from . import recurrent
from .config import Config
from .machine import machine_info
from .ops_table import FORWARD, FORWARD_BACKWARD, LIF, LIF_DECAY, LIF_THRESHOLD, OPS, OpBench
from .peers import PEERS, not_installed, spike_agreement
from .timing import Stats, copy_bandwidth, forward_call, ratio, time_side_by_side, training_call

SCHEMA_VERSION = 1


class _Progress:
    """One progress line on stderr: tqdm when installed, else a plain line per step."""

    def __init__(self, total: int, enabled: bool):
        self._bar = None
        self._enabled = enabled
        self._done, self._total = 0, total
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self._bar = tqdm(
                total=total,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}]",
            )

    def step(self, description: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(description)
        elif self._enabled:
            print(f"[{self._done + 1}/{self._total}] {description}", file=sys.stderr, flush=True)

    def advance(self) -> None:
        self._done += 1
        if self._bar is not None:
            self._bar.update()

    def note(self, message: str) -> None:
        if self._bar is not None:
            self._bar.write(message, file=sys.stderr)
        elif self._enabled:
            print(message, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class _Run:
    def __init__(self, config: Config, progress: _Progress):
        self.config = config
        self.device = config.torch_device
        self.dtype = config.torch_dtype
        self.progress = progress
        self.skipped: list[dict] = []
        self._compiled: dict[tuple, Callable] = {}

    def skip(self, what: str, why: str) -> None:
        entry = {"what": what, "why": why}
        if entry not in self.skipped:
            self.skipped.append(entry)
            self.progress.note(f"skipped {what}: {why}")

    def generator(self) -> torch.Generator:
        return torch.Generator(device=self.device).manual_seed(self.config.seed)

    def time(self, variants: dict[str, Callable[[], object]]) -> dict[str, Stats]:
        c = self.config
        return time_side_by_side(
            variants,
            rounds=c.rounds,
            min_block_s=c.min_block_s,
            threads=c.threads,
            warmup=c.warmup,
            budget_s=c.variant_budget_s,
        )

    def compiled(self, op: OpBench, mode: str, size: tuple) -> Callable:
        # One compiled function per shape and mode, compiled for static shapes: a dynamic-shape
        # recompile of the unrolled T-step loop costs minutes on two cores.
        key = (op.name, mode, size, self.dtype, self.device)
        if key not in self._compiled:
            self._compiled[key] = torch.compile(op.reference, dynamic=False)
        return self._compiled[key]


def _op_calls(op: OpBench, mode: str, tensors, kwargs, grad):
    if mode == FORWARD:
        return lambda fn: forward_call(fn, tensors, kwargs)
    return lambda fn: training_call(fn, tensors, kwargs, op.primary_output, grad)


def _bench_op(run: _Run, op: OpBench, size_name: str, size: tuple, mode: str, copy_bps: float) -> dict:
    tensors, kwargs = op.make_inputs(size, run.dtype, run.device, run.generator())
    max_abs_error = None
    if mode == FORWARD_BACKWARD:
        tensors = [t.detach().requires_grad_() for t in tensors]
        grad = torch.ones_like(op.primary_output(op.fused(*tensors, **kwargs))).detach()
    else:
        grad = None
        with torch.no_grad():
            fused = op.primary_output(op.fused(*tensors, **kwargs)).float()
            ref = op.primary_output(op.reference(*tensors, **kwargs)).float()
            max_abs_error = float((fused - ref).abs().max()) if fused.numel() else 0.0
    call = _op_calls(op, mode, tensors, kwargs, grad)
    variants = {"fused": call(op.fused), "reference": call(op.reference)}
    compile_s = None
    if size_name in run.config.compile_sizes:
        compiled = call(run.compiled(op, mode, size))
        try:
            start = time.perf_counter()
            compiled()
            compile_s = time.perf_counter() - start
            variants["compiled"] = compiled
        except Exception as error:
            run.skip(
                f"torch.compile of reference {op.name} {mode} at {size_name} {list(size)}",
                f"compile failed: {error!r}"[:500],
            )
    else:
        run.skip(
            f"torch.compile of the reference loops at {size_name}",
            f"the {run.config.preset} preset compiles only at "
            f"{', '.join(run.config.compile_sizes) or 'no size'} (--full compiles at every size)",
        )
    times = run.time(variants)
    moved = op.bytes_moved(size, run.dtype, mode)
    fused_bps = moved / times["fused"].median_s
    return {
        "op": op.name,
        "group": op.group,
        "mode": mode,
        "size": size_name,
        "shape": list(size),
        "bytes_moved": moved,
        "times": {name: stats.to_json() for name, stats in times.items()},
        "compile_s": compile_s,
        "speedup_vs_reference": ratio(times["reference"], times["fused"]),
        "speedup_vs_compiled": ratio(times.get("compiled"), times["fused"]),
        "bytes_per_s": fused_bps,
        "copy_bandwidth_fraction": fused_bps / copy_bps,
        "max_abs_error": max_abs_error,
    }


def _targets(measured: list[dict]) -> list[dict]:
    """The targets of the ops and of the recurrent group that this run measured."""
    found = []
    sources = [(op.name, op.targets) for op in OPS] + [("lif_recurrent", recurrent.TARGETS)]
    for name, targets in sources:
        for target in targets:
            match = next(
                (
                    r
                    for r in measured
                    if r["op"] == name and r["mode"] == target.mode and r["size"] == target.size
                ),
                None,
            )
            if match is None:
                continue
            value = match[target.metric]
            found.append(
                {
                    "op": name,
                    "mode": target.mode,
                    "size": target.size,
                    "shape": match["shape"],
                    "metric": target.metric,
                    "value": value,
                    "at_least": target.at_least,
                    "met": None if value is None else value >= target.at_least,
                }
            )
    return found


def _peer_runners(run: _Run) -> list[dict]:
    """Every installed peer and backend that builds, each with its runner."""
    runners = []
    for peer in PEERS:
        version = peer.version()
        if version is None:
            run.skip(peer.name, not_installed(peer.distribution))
            continue
        try:
            backends = peer.backends(run.device)
        except Exception as error:
            run.skip(peer.name, f"could not list its backends: {error!r}")
            continue
        for backend in backends:
            try:
                runner = peer.build(backend, run.device, LIF_DECAY, LIF_THRESHOLD)
            except Exception as error:
                run.skip(f"{peer.name} [{backend}]", f"could not be built: {error!r}"[:500])
                continue
            runners.append(
                {
                    "peer": peer,
                    "backend": backend,
                    "version": version,
                    "runner": runner,
                    "label": f"{peer.name} [{backend}]",
                }
            )
    return runners


def _peer_agreement(run: _Run, runners: list[dict]) -> list[dict]:
    size = run.config.sizes["in-cache"]
    (x,), _ = LIF.make_inputs(size, run.dtype, run.device, run.generator())
    with torch.no_grad():
        ours, _ = ops.lif(x, decay=LIF_DECAY, threshold=LIF_THRESHOLD)
    entries = []
    for item in list(runners):
        peer = item["peer"]
        try:
            with torch.no_grad():
                theirs = item["runner"](peer.to_peer_input(x, LIF_DECAY))
            agreement = spike_agreement(ours, theirs)
        except Exception as error:
            run.skip(item["label"], f"failed on the agreement input: {error!r}"[:500])
            runners.remove(item)
            continue
        entries.append(
            {
                "peer": peer.name,
                "backend": item["backend"],
                "version": item["version"],
                "match": peer.match,
                "mapping": peer.mapping(LIF_DECAY, LIF_THRESHOLD),
                "shape": list(size),
                "agreement": agreement,
            }
        )
    return entries


def _peer_timings(run: _Run, runners: list[dict], size_name: str, mode: str) -> dict:
    size = run.config.sizes[size_name]
    (x,), _ = LIF.make_inputs(size, run.dtype, run.device, run.generator())
    lif_kwargs = dict(decay=LIF_DECAY, threshold=LIF_THRESHOLD)
    grad = torch.ones(size, device=run.device, dtype=run.dtype)
    variants = {}
    fused_input = x.detach().requires_grad_(mode == FORWARD_BACKWARD)
    variants["hnn_fast fused"] = _op_calls(LIF, mode, [fused_input], lif_kwargs, grad)(ops.lif)
    for item in runners:
        peer_input = item["peer"].to_peer_input(x, LIF_DECAY).detach()
        if mode == FORWARD:
            call = forward_call(item["runner"], [peer_input], {})
        else:
            call = training_call(item["runner"], [peer_input.requires_grad_()], {}, lambda s: s, grad)
        try:
            call()
        except Exception as error:
            run.skip(f"{item['label']} {mode} at {size_name}", f"failed: {error!r}"[:500])
            continue
        variants[item["label"]] = call
    times = run.time(variants)
    fused = times["hnn_fast fused"]
    return {
        "size": size_name,
        "shape": list(size),
        "mode": mode,
        "times": {label: stats.to_json() for label, stats in times.items()},
        "fused_speedup": {
            label: ratio(stats, fused) for label, stats in times.items() if label != "hnn_fast fused"
        },
    }


def _model_steps(case: model_registry.ModelCase, backend: str):
    def infer():
        ops.set_backend(backend)
        case.model.eval()
        with torch.no_grad():
            return case.model(*case.inputs)

    if not case.trainable:
        return {"inference": infer}
    optimizer = torch.optim.SGD(case.model.parameters(), lr=1e-3)

    def train():
        ops.set_backend(backend)
        case.model.train()
        optimizer.zero_grad(set_to_none=True)
        case.loss(case.model(*case.inputs), case.target).backward()
        optimizer.step()

    return {"train": train, "inference": infer}


def _count_steps(config: Config, peers: bool, n_models: int) -> int:
    n = 1
    for op in OPS:
        if op.group in config.only:
            n += len(config.sizes) * len(op.modes)
    if "recurrent" in config.only:
        n += recurrent.count_steps(config)
    if peers:
        n += 1 + 2 * len(config.peer_sizes)
    return n + 2 * n_models


def run(config: Config, *, progress: bool = True) -> dict:
    """Runs the suite and returns every figure, machine and config included."""
    if config.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda, but torch sees no CUDA device")
    wall = time.perf_counter()
    previous_threads, previous_backend = torch.get_num_threads(), ops.get_backend()
    torch.set_num_threads(config.threads)
    factories, failures = model_registry.model_factories() if "models" in config.only else ({}, {})
    bar = _Progress(_count_steps(config, "peers" in config.only, len(factories)), progress)
    run_ = _Run(config, bar)
    results = {
        "schema_version": SCHEMA_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(run_.device),
        "config": config.to_json(),
    }
    try:
        bar.step("copy bandwidth")
        results["copy_bandwidth"] = copy_bandwidth(
            run_.device,
            config.copy_megabytes,
            rounds=max(config.rounds, 3),
            min_block_s=config.min_block_s,
            threads=config.threads,
        )
        bar.advance()
        copy_bps = results["copy_bandwidth"]["bytes_per_s"]

        op_results = []
        for op in OPS:
            if op.group not in config.only:
                continue
            for size_name, size in config.sizes.items():
                for mode in op.modes:
                    bar.step(f"{op.name} {mode} {size_name}")
                    op_results.append(_bench_op(run_, op, size_name, tuple(size), mode, copy_bps))
                    bar.advance()
        results["ops"] = op_results
        if "recurrent" in config.only:
            results["recurrent"] = recurrent.bench(run_)
        results["targets"] = _targets(op_results + results.get("recurrent", {}).get("cases", []))

        if "peers" in config.only:
            bar.step("peers: spike agreement")
            runners = _peer_runners(run_)
            agreement = _peer_agreement(run_, runners)
            bar.advance()
            timings = []
            for size_name in config.sizes:
                if size_name not in config.peer_sizes:
                    run_.skip(
                        f"peers at {size_name}",
                        f"the {config.preset} preset times the peers only at "
                        f"{', '.join(config.peer_sizes)} (--full times them at every size)",
                    )
                    continue
                for mode in (FORWARD, FORWARD_BACKWARD):
                    bar.step(f"peers {mode} {size_name}")
                    if runners:
                        timings.append(_peer_timings(run_, runners, size_name, mode))
                    bar.advance()
            results["peers"] = {
                "decay": LIF_DECAY,
                "threshold": LIF_THRESHOLD,
                "agreement": agreement,
                "timings": timings,
            }

        if "models" in config.only:
            results["models"] = _bench_models(run_, factories, failures)
    finally:
        ops.set_backend(previous_backend)
        torch.set_num_threads(previous_threads)
        bar.close()
    results["skipped"] = run_.skipped
    results["machine"]["load_average_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    results["wall_s"] = time.perf_counter() - wall
    return results


def _bench_models(run: _Run, factories: dict, failures: dict) -> list[dict]:
    for module, why in failures.items():
        run.skip(f"model module {module}", f"import failed: {why}"[:500])
    if not factories:
        run.skip("models", "no model is registered (see hnn_fast/bench/models.py)")
    entries = []
    for name, factory in sorted(factories.items()):
        try:
            case = factory(run.device, run.dtype, run.config.preset)
        except Exception as error:
            run.skip(f"model {name}", f"its bench factory failed: {error!r}"[:500])
            run.progress.advance()
            run.progress.advance()
            continue
        fused, reference = _model_steps(case, "fused"), _model_steps(case, "reference")
        for mode in ("train", "inference"):
            if mode not in fused:
                run.skip(f"model {name} {mode}", "its weights are not learnt by gradient descent")
                run.progress.advance()
                continue
            run.progress.step(f"model {name} {mode}")
            times = run.time({"fused": fused[mode], "reference": reference[mode]})
            entries.append(
                {
                    "model": name,
                    "mode": mode,
                    "times": {k: v.to_json() for k, v in times.items()},
                    "speedup": ratio(times["reference"], times["fused"]),
                }
            )
            run.progress.advance()
    return entries
