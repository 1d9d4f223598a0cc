"""Event-digits: a small offline stand-in for N-MNIST.

scikit-learn's bundled handwritten digits (1,797 real 8x8 scans) are scaled to a 28x28 digit on
a 34x34 black canvas and moved along three straight saccades that trace a triangle, as the
N-MNIST camera moved in front of a screen, then turned into events by the DVS emulator and
binned into ``[T, 2, 34, 34]`` counts. All samples are emulated together as one large pixel
array, one rendered frame at a time, so the whole set builds in seconds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .emulator import _PixelArray, mismatched_thresholds, shot_noise
from .events import make_events

SIZE = 34
DIGIT_SIZE = 28
N_DIGITS = 1797
N_TEST = 360
# Bump when the generation changes, so stale caches are never read.
_FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class EventDigitsConfig:
    """Everything that shapes the generated data (and so keys the cache).

    ``saccade_vertices`` are the digit's top-left corner positions (x, y) in pixels at the
    triangle's corners; the digit travels P0 -> P1 -> P2 -> P0, one saccade each, and stays
    inside the canvas for positions in [0, 6].
    """

    n_bins: int = 10
    seed: int = 0
    saccade_ms: float = 100.0
    frame_rate_hz: float = 1000.0
    saccade_vertices: tuple = ((1.0, 5.0), (3.0, 1.0), (5.0, 5.0))
    threshold: float = 0.25
    threshold_mismatch: float = 0.05
    refractory_us: float = 500.0
    shot_noise_rate_hz: float = 0.2
    log_eps: float = 0.1

    def __post_init__(self):
        if int(self.n_bins) < 1:
            raise ValueError(f"n_bins must be >= 1, got {self.n_bins}")
        if self.saccade_ms <= 0 or self.frame_rate_hz <= 0:
            raise ValueError("saccade_ms and frame_rate_hz must be > 0")
        if self.threshold <= 0:
            raise ValueError(f"threshold must be > 0, got {self.threshold}")
        verts = np.asarray(self.saccade_vertices, dtype=np.float64)
        if verts.shape != (3, 2) or verts.min() < 0 or verts.max() > SIZE - DIGIT_SIZE:
            raise ValueError(
                f"saccade_vertices must be three (x, y) positions in [0, {SIZE - DIGIT_SIZE}], "
                f"got {self.saccade_vertices}"
            )

    @property
    def duration_us(self) -> int:
        return round(3 * self.saccade_ms * 1000)

    def key(self) -> str:
        blob = json.dumps({"v": _FORMAT_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_digit_images() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 scikit-learn digits as float intensities in [0, 1], ``[N, 8, 8]``, and labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("event-digits needs scikit-learn (pip install scikit-learn)") from e
    d = load_digits()
    return d.images.astype(np.float64) / 16.0, d.target.astype(np.int64)


def saccade_path(config: EventDigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """Render times (us) and the digit's top-left position ``[F, 2]`` (x, y) at each."""
    n_frames = round(3 * config.saccade_ms * 1e-3 * config.frame_rate_hz) + 1
    t = np.linspace(0.0, config.duration_us, n_frames)
    v = np.asarray(config.saccade_vertices, dtype=np.float64)
    corners = np.concatenate([v, v[:1]])
    u = t / (config.saccade_ms * 1000)
    leg = np.minimum(u.astype(np.int64), 2)
    frac = (u - leg)[:, None]
    return t, corners[leg] * (1 - frac) + corners[leg + 1] * frac


def _render(digits: np.ndarray, pos: np.ndarray, canvas: np.ndarray) -> np.ndarray:
    """Place ``[B, 28, 28]`` digits at sub-pixel position (x, y) on a ``[B, 34, 34]`` view of
    ``canvas`` (``[B, 35, 35]``, reused across frames; the spare row and column let the bilinear
    neighbour of the last position fit)."""
    ix, iy = int(np.floor(pos[0])), int(np.floor(pos[1]))
    fx, fy = pos[0] - ix, pos[1] - iy
    canvas.fill(0.0)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            if wx * wy > 0:
                view = canvas[:, iy + dy : iy + dy + DIGIT_SIZE, ix + dx : ix + dx + DIGIT_SIZE]
                view += np.float32(wx * wy) * digits
    return canvas[:, :SIZE, :SIZE]


def _upsample(images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(images)[:, None]
    up = F.interpolate(x, size=(DIGIT_SIZE, DIGIT_SIZE), mode="bilinear", align_corners=False)
    return up[:, 0].numpy().astype(np.float32)


def _thresholds(config: EventDigitsConfig, indices: np.ndarray):
    """Per-sample mismatch and noise come from a generator seeded by (seed, sample index), so a
    sample's data do not depend on which other samples are built with it."""
    npix = SIZE * SIZE
    on, off, noise = [], [], []
    for i in indices:
        rng = np.random.default_rng([config.seed, int(i)])
        base = np.full(npix, config.threshold)
        a, b = mismatched_thresholds(base, base, config.threshold_mismatch, rng)
        on.append(a)
        off.append(b)
        if config.shot_noise_rate_hz > 0:
            noise.append(shot_noise(rng, npix, config.shot_noise_rate_hz, 0.0, config.duration_us))
    # float32 pixels halve the memory traffic of the per-frame passes over every pixel.
    return np.concatenate(on).astype(np.float32), np.concatenate(off).astype(np.float32), noise


def _emulate(config: EventDigitsConfig, images: np.ndarray, indices: np.ndarray):
    """Events of a batch: (sample position in batch, y, x, t_us int, polarity)."""
    digits = _upsample(images)
    on, off, noise = _thresholds(config, indices)
    pixels = _PixelArray(on, off, config.refractory_us)
    times, path = saccade_path(config)
    parts = []
    canvas = np.empty((digits.shape[0], SIZE + 1, SIZE + 1), dtype=np.float32)
    logf = np.empty(digits.shape[0] * SIZE * SIZE, dtype=np.float32)
    eps = np.float32(config.log_eps)
    for k, (t, pos) in enumerate(zip(times, path)):
        frame = _render(digits, pos, canvas)
        np.add(frame.reshape(logf.shape), eps, out=logf)
        np.log(logf, out=logf)
        if k == 0:
            pixels.start(logf, t)
        else:
            parts.append(pixels.step(logf, t))
    npix = SIZE * SIZE
    for b, (pix, t, pol) in enumerate(noise):
        parts.append((pix + b * npix, t, pol))
    pix, tf, pol = (np.concatenate(c) for c in zip(*parts))
    t = np.rint(tf).astype(np.int64)
    order = np.argsort(t, kind="stable")
    pix, t, pol = pix[order], t[order], pol[order]
    sample, rest = np.divmod(pix, npix)
    y, x = np.divmod(rest, SIZE)
    return sample, y, x, t, pol


def build_event_digits(
    config: EventDigitsConfig | None = None, indices=None, chunk: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """Emulate and bin digits: counts ``uint16 [N, T, 2, 34, 34]`` and labels ``[N]``.

    ``indices`` selects digits of the scikit-learn set (default all 1,797).
    """
    config = config or EventDigitsConfig()
    images, labels = load_digit_images()
    indices = np.arange(N_DIGITS) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
    if indices.size and (indices.min() < 0 or indices.max() >= N_DIGITS):
        raise ValueError(f"indices must lie in [0, {N_DIGITS})")
    T = int(config.n_bins)
    counts = np.zeros((indices.size, T, 2, SIZE, SIZE), dtype=np.uint16)
    # One past the last render time, so events at the final frame fall in the last bin.
    span = config.duration_us + 1
    for start in range(0, indices.size, chunk):
        idx = indices[start : start + chunk]
        sample, y, x, t, pol = _emulate(config, images[idx], idx)
        bins = (t * T) // span
        flat = (((sample * T + bins) * 2 + pol) * SIZE + y) * SIZE + x
        c = np.bincount(flat, minlength=idx.size * T * 2 * SIZE * SIZE)
        if c.max() > np.iinfo(np.uint16).max:
            raise OverflowError(
                "event-digits: a bin count exceeds uint16; use more bins or higher thresholds"
            )
        counts[start : start + idx.size] = c.reshape(idx.size, T, 2, SIZE, SIZE)
    return counts, labels[indices]


def digit_events(index: int, config: EventDigitsConfig | None = None) -> np.ndarray:
    """The raw event stream of one digit (tonic layout), the same events the dataset bins."""
    config = config or EventDigitsConfig()
    images, _ = load_digit_images()
    idx = np.array([int(index)])
    _, y, x, t, pol = _emulate(config, images[idx], idx)
    return make_events(x, y, t, pol)


def split_indices(labels: np.ndarray, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test split: each class gives test samples in proportion to its size."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    classes, sizes = np.unique(labels, return_counts=True)
    quota = sizes * n_test / labels.size
    take = np.floor(quota).astype(np.int64)
    # Largest remainders get the leftover test slots so the total is exactly n_test.
    take[np.argsort(-(quota - take), kind="stable")[: n_test - take.sum()]] += 1
    test = []
    for c, k in zip(classes, take):
        members = np.flatnonzero(labels == c)
        test.append(rng.permutation(members)[:k])
    test = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(labels.size), test)
    return train, test


def default_cache_dir() -> Path:
    return Path(os.environ.get("HNN_FAST_CACHE") or Path.home() / ".cache" / "hnn_fast")


def load_event_digits(
    config: EventDigitsConfig | None = None, root=None, limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Counts and labels of the first ``limit`` digits (default all), built once and cached."""
    config = config or EventDigitsConfig()
    n = N_DIGITS if limit is None else int(limit)
    if not 1 <= n <= N_DIGITS:
        raise ValueError(f"limit must be in [1, {N_DIGITS}], got {limit}")
    root = Path(root) if root is not None else default_cache_dir()
    path = root / f"event_digits_{config.key()}_n{n}.npz"
    if path.exists():
        return _read_cache(path, n)
    counts, labels = build_event_digits(config, np.arange(n))
    root.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a concurrent reader never sees half a file.
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, counts=counts, labels=labels)
    os.replace(tmp, path)
    return counts, labels


def _read_cache(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The cached (counts, labels), read without pickles and checked; a damaged file is an error naming
    it (delete it to rebuild)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            counts, labels = z["counts"], z["labels"]
    except Exception as e:  # zip, zlib, EOF, missing member: all mean "damaged"
        reason = " ".join(str(e).split()) or type(e).__name__
        raise ValueError(f"event-digits cache {path} is damaged ({reason}); delete it to rebuild") from None
    if (
        counts.ndim < 2
        or len(counts) != n
        or labels.shape != (n,)
        or not np.issubdtype(labels.dtype, np.integer)
        or not ((labels >= 0) & (labels <= 9)).all()
    ):
        raise ValueError(
            f"event-digits cache {path} does not hold {n} digits (counts {counts.shape}, labels "
            f"{labels.shape} {labels.dtype}); delete it to rebuild"
        )
    return counts, labels


class EventDigits(torch.utils.data.Dataset):
    """Event-digits as a torch Dataset of ``(float tensor [T, 2, 34, 34], label)``.

    The split is fixed: 360 of the 1,797 digits, stratified by class, are the test set (the same
    fraction of a ``limit`` subset). ``root`` is the cache directory (default ``$HNN_FAST_CACHE``
    or ``~/.cache/hnn_fast``).
    """

    def __init__(
        self,
        train: bool = True,
        config: EventDigitsConfig | None = None,
        root=None,
        limit: int | None = None,
        transform=None,
        split_seed: int = 0,
    ):
        self.config = config or EventDigitsConfig()
        counts, labels = load_event_digits(self.config, root, limit)
        n_test = round(labels.size * N_TEST / N_DIGITS)
        train_idx, test_idx = split_indices(labels, n_test, split_seed)
        self.indices = train_idx if train else test_idx
        self.data = torch.from_numpy(counts[self.indices].astype(np.float32))
        self.targets = torch.from_numpy(labels[self.indices])
        self.transform = transform

    def __len__(self) -> int:
        return self.targets.shape[0]

    def __getitem__(self, i):
        x = self.data[i]
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.targets[i])
