"""How the networks' runs draw their figures: matplotlib without a display, each figure saved alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, which writes files and needs no display (runs go to
    clusters and CI); imported on first use, as matplotlib is needed only for the figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save(fig: Any, path: Path) -> None:
    """Writes the figure to path and frees it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
