"""`hnn-fast bench plot`: the history of the results files and the latest run's ratios, in one PNG."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


def _key(r: dict) -> str:
    return f"{r['op']} {r['mode']} {r['size']}"


def plot(runs: list[dict], out: Path) -> Path:
    if not runs:
        raise ValueError("no results files to plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    latest = runs[-1]
    device = latest["config"]["device"]
    history = [r for r in runs if r["config"]["device"] == device and r.get("ops")]
    fig, (ax_speed, ax_bw, ax_latest) = plt.subplots(3, 1, figsize=(11, 13))

    # Runs are spaced evenly and labelled by date: runs come in bursts, days apart.
    series: dict[str, tuple[list, list, list]] = {}
    for index, run in enumerate(history):
        for r in run["ops"]:
            indices, speedups, fractions = series.setdefault(_key(r), ([], [], []))
            indices.append(index)
            speedups.append(r["speedup_vs_reference"])
            fractions.append(r["copy_bandwidth_fraction"])
    for key, (indices, speedups, fractions) in sorted(series.items()):
        ax_speed.plot(indices, speedups, marker="o", label=key)
        ax_bw.plot(indices, [100 * f for f in fractions], marker="o", label=key)
    labels = [
        f"{datetime.fromisoformat(r['created']):%Y-%m-%d %H:%M}\n{r['config']['preset']}" for r in history
    ]
    ax_speed.set(
        title=f"History on {device}: fused speedup over the reference eager loop",
        ylabel="speedup (x)",
        yscale="log",
    )
    ax_bw.set(
        title="Fused op bandwidth as a fraction of measured copy bandwidth", ylabel="% of copy bandwidth"
    )
    for ax in (ax_speed, ax_bw):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
        ax.set_xticks(range(len(history)), labels, fontsize=7)
        ax.set_xlim(-0.5, len(history) - 0.5)

    labels, values, colors = [], [], []
    for r in latest.get("ops", []):
        for metric, color in (("speedup_vs_reference", "tab:blue"), ("speedup_vs_compiled", "tab:orange")):
            if r[metric] is not None:
                labels.append(f"{_key(r)} vs {'eager' if metric.endswith('reference') else 'compiled'}")
                values.append(r[metric])
                colors.append(color)
    for t in (latest.get("peers") or {}).get("timings", []):
        for label, ratio in t["fused_speedup"].items():
            labels.append(f"LIF {t['mode']} {t['size']} vs {label}")
            values.append(ratio)
            colors.append("tab:green")
    for r in latest.get("models", []):
        labels.append(f"model {r['model']} {r['mode']} vs reference ops")
        values.append(r["speedup"])
        colors.append("tab:purple")
    ax_latest.barh(range(len(values)), values, color=colors)
    ax_latest.set_yticks(range(len(values)), labels, fontsize=7)
    ax_latest.invert_yaxis()
    ax_latest.axvline(1.0, color="black", linewidth=0.8)
    ax_latest.set(
        title=f"Latest run ({latest['created']}, {latest['config']['preset']}): how many times faster "
        "fused is",
        xscale="log",
        xlabel="ratio (x)",
    )
    ax_latest.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
