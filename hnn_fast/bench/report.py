"""Console tables and results files."""

from __future__ import annotations

import json
from pathlib import Path


def _ms(stats: dict | None) -> str:
    if stats is None:
        return "-"
    return f"{stats['median_s'] * 1e3:.3g} ±{stats['iqr_s'] * 1e3:.2g}"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def render(results: dict) -> str:
    """The whole run as plain-text tables: times are medians in ms ± the interquartile range."""
    m, c = results["machine"], results["config"]
    copy = results["copy_bandwidth"]
    out = [
        f"hnn_fast bench ({c['preset']}) on {c['device']} {m['gpu'] or m['cpu_model']}, {c['dtype']}, "
        f"{c['threads']} threads, torch {m['torch_version']}, commit {(m['git_commit'] or '?')[:10]}"
        f"{' (dirty)' if m['git_dirty'] else ''}, "
        f"load {m['load_average'] and round(m['load_average'][0], 2)}",
        f"copy bandwidth: {copy['bytes_per_s'] / 1e9:.2f} GB/s "
        f"(dst.copy_(src), {copy['buffer_bytes'] >> 20} MiB, {_ms(copy['time'])} ms)",
    ]
    if results.get("ops"):
        rows = [
            [
                r["op"],
                r["mode"],
                r["size"],
                "x".join(map(str, r["shape"])),
                _ms(r["times"]["fused"]),
                _ms(r["times"]["reference"]),
                _ms(r["times"].get("compiled")),
                _x(r["speedup_vs_reference"]),
                _x(r["speedup_vs_compiled"]),
                f"{r['bytes_per_s'] / 1e9:.2f}",
                _pct(r["copy_bandwidth_fraction"]),
            ]
            for r in results["ops"]
        ]
        out += [
            "",
            "Ops: fused vs reference eager loop vs torch.compile of it (ms)",
            _table(
                [
                    "op",
                    "mode",
                    "size",
                    "shape",
                    "fused",
                    "eager",
                    "compiled",
                    "vs eager",
                    "vs compiled",
                    "GB/s",
                    "of copy bw",
                ],
                rows,
            ),
        ]
    recurrent = results.get("recurrent")
    if recurrent and recurrent["cases"]:
        peer_names = [p["peer"] for p in recurrent["peers"]]
        rows = [
            [
                r["size"],
                "x".join(map(str, r["shape"])),
                r["mode"],
                f"{100 * r['firing_rate']:.1f}%",
                _ms(r["times"]["fused"]),
                _ms(r["times"]["reference"]),
                *[_ms(r["times"].get(name)) for name in peer_names],
                _x(r["speedup_vs_reference"]),
                *[_x(r["speedup_vs_peers"].get(name)) for name in peer_names],
                f"{r['product_flop_per_s'] / 1e9:.1f}",
            ]
            for r in recurrent["cases"]
        ]
        out += [
            "",
            f"Recurrent LIF: fused vs the reference's Python loop{''.join(f' vs {n}' for n in peer_names)} "
            f"(ms; decay={recurrent['decay']}, threshold={recurrent['threshold']}, weight "
            f"{recurrent['weight']})",
            _table(
                [
                    "size",
                    "TxBxN",
                    "mode",
                    "fires",
                    "fused",
                    "reference loop",
                    *peer_names,
                    "vs reference",
                    *[f"vs {name}" for name in peer_names],
                    "product GFLOP/s",
                ],
                rows,
            ),
            *[f"  {p['peer']} {p['version']}: {p['mapping']}" for p in recurrent["peers"]],
        ]
    if results.get("targets"):
        rows = [
            [
                t["op"],
                t["mode"],
                t["size"],
                t["metric"],
                f"{t['at_least']:g}",
                "-" if t["value"] is None else f"{t['value']:.3g}",
                {True: "met", False: "NOT MET", None: "not measured"}[t["met"]],
            ]
            for t in results["targets"]
        ]
        out += ["", "Targets", _table(["op", "mode", "size", "metric", "at least", "value", ""], rows)]
    peers = results.get("peers")
    if peers and peers["agreement"]:
        rows = [
            [
                a["peer"],
                a["backend"],
                a["version"],
                a["match"],
                f"{a['agreement']['spikes_both']}/{a['agreement']['spikes_ours']}",
                f"{100 * a['agreement']['spike_agreement']:.3f}%",
            ]
            for a in peers["agreement"]
        ]
        out += [
            "",
            f"Peers: spike agreement with hnn_fast.ops.lif (decay={peers['decay']}, threshold="
            f"{peers['threshold']}, hard reset to 0)",
            _table(["peer", "backend", "version", "dynamics", "both/ours", "agree"], rows),
            *[f"  {a['peer']}: {a['mapping']}" for a in peers["agreement"]],
        ]
    if peers and peers["timings"]:
        rows = []
        for t in peers["timings"]:
            for label, stats in t["times"].items():
                rows.append(
                    [
                        t["mode"],
                        t["size"],
                        "x".join(map(str, t["shape"])),
                        label,
                        _ms(stats),
                        _x(t["fused_speedup"].get(label)) if label in t["fused_speedup"] else "",
                    ]
                )
        out += [
            "",
            "Peers: LIF times (ms) and how much faster hnn_fast fused is",
            _table(["mode", "size", "shape", "implementation", "time", "fused faster by"], rows),
        ]
    if results.get("models"):
        rows = [
            [r["model"], r["mode"], _ms(r["times"]["fused"]), _ms(r["times"]["reference"]), _x(r["speedup"])]
            for r in results["models"]
        ]
        out += [
            "",
            "Models: one step on fused vs reference ops (ms)",
            _table(["model", "step", "fused", "reference", "speedup"], rows),
        ]
    if results.get("skipped"):
        out += ["", "Skipped", *[f"  {s['what']}: {s['why']}" for s in results["skipped"]]]
    out += ["", f"wall time {results['wall_s']:.0f} s"]
    return "\n".join(out)


def results_filename(results: dict) -> str:
    stamp = results["created"].replace(":", "").replace("-", "").replace("+0000", "Z")
    return f"{stamp}-{results['config']['device']}-{results['config']['preset']}.json"


def write(results: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n")
    return path


def load_history(directory: Path) -> list[dict]:
    """Every results file in `directory`, oldest first; files that are not results are ignored."""
    runs = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(data, dict) and "schema_version" in data and "created" in data:
            runs.append(data)
    return sorted(runs, key=lambda r: r["created"])
