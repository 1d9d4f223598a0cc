"""A synthetic DAVIS recording: textured objects moving over a textured background, seen by an APS
frame stream and a DVS event stream at once, with ground-truth boxes at every render.

The scene is rendered at a high internal rate (``render_hz``, 1 kHz by default). The APS stream is
every Nth render (``frame_hz``) with shot and read noise quantised to 8 bits; the DVS stream is the
event emulator run over every render, so events fill the time between frames. Paths are straight
lines that bounce off the borders, circles (like the authors' turning disk) and constant
accelerations (also bouncing); ``speed`` multiplies every velocity, as in the paper's Fig. 2c. Object
0 is the tracked target and is drawn on top. Everything is a function of ``(config, seed)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...data.emulator import EventEmulator

PATHS = ("linear", "circular", "accelerating")
SHAPES = ("disk", "square")


@dataclass(frozen=True)
class DavisSynthConfig:
    """Sensor, timing and scene parameters. ``speed`` scales the paths' velocities; the base speed
    (``base_speed_px_s``) is the mean object speed at 1x."""

    height: int = 64
    width: int = 64
    render_hz: float = 1000.0
    frame_hz: float = 25.0
    duration_ms: float = 400.0
    speed: float = 1.0
    base_speed_px_s: float = 30.0
    n_objects: tuple[int, int] = (1, 3)
    radius_px: tuple[float, float] = (6.0, 9.0)
    paths: tuple[str, ...] = PATHS
    aps_read_noise: float = 2.0
    threshold_on: float = 0.2
    threshold_off: float = 0.2
    threshold_mismatch: float = 0.03
    refractory_us: float = 100.0
    shot_noise_rate_hz: float = 0.05

    def __post_init__(self) -> None:
        if self.height < 16 or self.width < 16:
            raise ValueError(f"height and width must be >= 16, got {self.height}x{self.width}")
        for name in ("render_hz", "frame_hz", "duration_ms", "speed", "base_speed_px_s"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        ratio = self.render_hz / self.frame_hz
        if abs(ratio - round(ratio)) > 1e-9 or ratio < 1:
            raise ValueError(
                f"render_hz / frame_hz must be a whole number >= 1, got "
                f"{self.render_hz}/{self.frame_hz} = {ratio:g}"
            )
        lo, hi = self.n_objects
        if not 1 <= lo <= hi:
            raise ValueError(f"n_objects must be (min, max) with 1 <= min <= max, got {self.n_objects}")
        rlo, rhi = self.radius_px
        if not 1 <= rlo <= rhi or 2 * rhi + 4 > min(self.height, self.width):
            raise ValueError(
                f"radius_px {self.radius_px}: need 1 <= min <= max and objects that fit the sensor"
            )
        bad = [p for p in self.paths if p not in PATHS]
        if not self.paths or bad:
            raise ValueError(f"paths must be a non-empty subset of {PATHS}, got {self.paths}")
        if self.aps_read_noise < 0:
            raise ValueError(f"aps_read_noise must be >= 0, got {self.aps_read_noise}")

    @property
    def renders_per_frame(self) -> int:
        return round(self.render_hz / self.frame_hz)

    @property
    def n_renders(self) -> int:
        return round(self.duration_ms * 1e-3 * self.render_hz) + 1


@dataclass
class DavisSequence:
    """One synthetic recording.

    render_t_us [R]: render times; boxes [R, N, 4]: (x0, y0, x1, y1) in pixels (pixel i spans
    [i, i + 1)) of every object at every render, target first; aps [F, H, W] uint8 frames taken at
    renders ``aps_index`` [F]; events: the DVS stream (hnn_fast.data.EVENT_DTYPE) over all renders;
    shapes/paths: per object.
    """

    config: DavisSynthConfig
    render_t_us: np.ndarray
    boxes: np.ndarray
    aps: np.ndarray
    aps_index: np.ndarray
    events: np.ndarray
    shapes: list[str]
    paths: list[str]
    intensity: np.ndarray | None = None  # [R, H, W] noiseless renders, kept only when asked


def _texture(rng: np.random.Generator, size: int, scale: float, lo: float, hi: float) -> np.ndarray:
    """A smooth random texture in [lo, hi]: white noise low-passed in the Fourier domain."""
    noise = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)
    r2 = f[:, None] ** 2 + f[None, :] ** 2
    smooth = np.real(np.fft.ifft2(np.fft.fft2(noise) * np.exp(-r2 * (size / scale) ** 2)))
    smooth = (smooth - smooth.min()) / max(np.ptp(smooth), 1e-12)
    return lo + (hi - lo) * smooth


def _fold(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect x into [lo, hi]: a path that bounces off the borders instead of leaving."""
    span = hi - lo
    y = np.mod(x - lo, 2 * span)
    return lo + np.where(y > span, 2 * span - y, y)


def _trajectory(rng: np.random.Generator, kind: str, s: np.ndarray, radius: float, cfg: DavisSynthConfig):
    """Centre (x, y) at path times s (seconds times the speed multiplier)."""
    lo = radius + 1.0
    hx, hy = cfg.width - radius - 1.0, cfg.height - radius - 1.0
    v = cfg.base_speed_px_s * rng.uniform(0.7, 1.3)
    if kind == "circular":
        max_r = min(hx - lo, hy - lo) / 2
        r = rng.uniform(0.4, 1.0) * max_r
        cx = rng.uniform(lo + r, hx - r)
        cy = rng.uniform(lo + r, hy - r)
        w = v / r * rng.choice([-1.0, 1.0])
        phase = rng.uniform(0, 2 * np.pi)
        return cx + r * np.cos(w * s + phase), cy + r * np.sin(w * s + phase)
    angle = rng.uniform(0, 2 * np.pi)
    d = np.array([np.cos(angle), np.sin(angle)])
    x0, y0 = rng.uniform(lo, hx), rng.uniform(lo, hy)
    if kind == "linear":
        dist = v * s
    else:
        # From rest-ish to about twice the base speed over the recording's path time.
        horizon = max(s[-1], 1e-6)
        a = 2.0 * v / horizon
        dist = 0.3 * v * s + 0.5 * a * s**2
    return _fold(x0 + d[0] * dist, lo, hx), _fold(y0 + d[1] * dist, lo, hy)


def _coverage(kind: str, dx: np.ndarray, dy: np.ndarray, radius: float) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a shape centred at the origin (one-pixel soft edge)."""
    if kind == "disk":
        inside = radius - np.sqrt(dx**2 + dy**2)
    else:
        inside = radius - np.maximum(np.abs(dx), np.abs(dy))
    return np.clip(inside + 0.5, 0.0, 1.0)


def generate(
    config: DavisSynthConfig | None = None, seed: int = 0, *, keep_intensity: bool = False
) -> DavisSequence:
    """Renders one recording; the same (config, seed) gives the same arrays."""
    cfg = config or DavisSynthConfig()
    rng = np.random.default_rng(seed)
    H, W = cfg.height, cfg.width
    R = cfg.n_renders
    t_s = np.arange(R) / cfg.render_hz
    s = t_s * cfg.speed

    n_obj = int(rng.integers(cfg.n_objects[0], cfg.n_objects[1] + 1))
    tex_size = 2 * max(H, W)
    background = _texture(rng, tex_size, 6.0, 0.15, 0.55)[:H, :W]
    shapes, paths, radii, centres, textures = [], [], [], [], []
    for _ in range(n_obj):
        radius = rng.uniform(*cfg.radius_px)
        kind = str(rng.choice(cfg.paths))
        shapes.append(str(rng.choice(SHAPES)))
        paths.append(kind)
        radii.append(radius)
        centres.append(np.stack(_trajectory(rng, kind, s, radius, cfg), axis=1))
        # Objects are brighter than the background on average, textured so the ANN can tell them apart.
        textures.append(
            _texture(rng, 32, rng.uniform(2.0, 5.0), rng.uniform(0.45, 0.7), rng.uniform(0.8, 1.0))
        )

    intensity = np.broadcast_to(background, (R, H, W)).copy()
    for r in range(R):
        img = intensity[r]
        # Reverse order so that object 0 (the target) is drawn last, on top.
        for k in reversed(range(n_obj)):
            cx, cy = centres[k][r]
            # Only the pixels the shape can touch (its box plus the one-pixel soft edge).
            x0, x1 = max(int(cx - radii[k]) - 1, 0), min(int(cx + radii[k]) + 2, W)
            y0, y1 = max(int(cy - radii[k]) - 1, 0), min(int(cy + radii[k]) + 2, H)
            dx = np.arange(x0, x1)[None, :] + 0.5 - cx
            dy = np.arange(y0, y1)[:, None] + 0.5 - cy
            cov = _coverage(shapes[k], dx, dy, radii[k])
            # The texture moves with the object: sampled in object coordinates (nearest texel).
            tx = np.clip(np.floor(dx + 16).astype(np.int64), 0, 31)
            ty = np.clip(np.floor(dy + 16).astype(np.int64), 0, 31)
            patch = img[y0:y1, x0:x1]
            img[y0:y1, x0:x1] = patch * (1 - cov) + textures[k][ty, tx] * cov
    half = np.asarray(radii)[None, :, None]
    c = np.stack(centres, axis=1)
    boxes = np.concatenate([c - half, c + half], axis=-1)

    emulator = EventEmulator(
        H,
        W,
        threshold_on=cfg.threshold_on,
        threshold_off=cfg.threshold_off,
        threshold_mismatch=cfg.threshold_mismatch,
        refractory_us=cfg.refractory_us,
        shot_noise_rate_hz=cfg.shot_noise_rate_hz,
        seed=int(rng.integers(2**31)),
    )
    render_t_us = np.rint(t_s * 1e6).astype(np.int64)
    events = emulator(intensity, render_t_us)

    aps_index = np.arange(0, R, cfg.renders_per_frame)
    aps = aps_frames(intensity[aps_index], cfg.aps_read_noise, rng)
    return DavisSequence(
        cfg, render_t_us, boxes, aps, aps_index, events, shapes, paths, intensity if keep_intensity else None
    )


def aps_frames(intensity: np.ndarray, read_noise: float, rng: np.random.Generator) -> np.ndarray:
    """8-bit APS frames from intensities in [0, 1]: photon shot noise, read noise, quantisation."""
    full_well = 400.0
    electrons = rng.poisson(np.clip(intensity, 0, 1) * full_well).astype(np.float64)
    dn = electrons * (255.0 / full_well) + read_noise * rng.standard_normal(intensity.shape)
    return np.clip(np.rint(dn), 0, 255).astype(np.uint8)
