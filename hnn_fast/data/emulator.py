"""A frame-to-event camera emulator (DVS pixel model).

Each pixel remembers the log intensity at its last event. When the current log intensity moves
above that memory by the ON threshold (or below it by the OFF threshold) the pixel emits an event
and its memory moves one threshold towards the input. Between two rendered frames the log
intensity is taken to change linearly, so an edge moving across a pixel yields events at the
interpolated crossing times, not only at frame times. After an event the pixel is held in reset
for the refractory period: it cannot fire and its memory follows the input, so changes during
that time are lost (as in the circuit, where the reset switch shorts the memory capacitor).
"""

from __future__ import annotations

import numpy as np

from .events import make_events


class _PixelArray:
    """Flat array of independent DVS pixels; batches of images share one array for speed."""

    def __init__(self, theta_on: np.ndarray, theta_off: np.ndarray, refractory_us: float):
        self.theta_on = theta_on
        self.neg_theta_off = -theta_off
        self.refractory_us = float(refractory_us)
        self.memory: np.ndarray | None = None
        self.level: np.ndarray | None = None
        self.time: float | None = None
        self.release = np.full(theta_on.shape[0], -np.inf)
        # Pixels still in reset at self.time; few at a time, so kept as indices, not a mask.
        self.held = np.empty(0, dtype=np.int64)

    def start(self, log_frame: np.ndarray, t: float) -> None:
        self.memory = log_frame.astype(self.theta_on.dtype, copy=True)
        self.level = self.memory.copy()
        self.time = float(t)

    def step(self, log_frame: np.ndarray, t1: float):
        """Advance to ``log_frame`` at time ``t1``; returns (pixel, time_us float, polarity)."""
        t0, L0, L1, M = self.time, self.level, log_frame, self.memory
        dt = t1 - t0
        d = L1 - M
        # The path between frames is monotone, so a pixel not held in reset fires in this step
        # exactly when the new frame is a threshold away from its memory.
        mask = (d >= self.theta_on) | (d <= self.neg_theta_off)
        mask[self.held] = True
        cand = np.flatnonzero(mask)
        a = L0[cand].astype(np.float64)
        b = L1[cand].astype(np.float64)
        m = M[cand].astype(np.float64)
        g = (b - a) / dt
        rel = self.release[cand]
        h = rel > t0
        s = np.where(h, np.minimum(rel, t1), t0)
        m[h] = a[h] + g[h] * (s[h] - t0)
        up = b - m >= self.theta_on[cand]
        # g == 0 only when float32 storage of the memory rounded it just past a threshold; such
        # a pixel fires once the input moves again, instead of dividing by a zero slope here.
        fire = (s < t1) & (g != 0) & (up | (b - m <= self.neg_theta_off[cand]))
        f = np.flatnonzero(fire)
        up = up[f]
        theta = np.where(up, self.theta_on[cand[f]], self.neg_theta_off[cand[f]]).astype(np.float64)
        gf, sf, mf = g[f], s[f], m[f]
        # On a linear path each event restarts the pixel at the level reached after the
        # refractory period, so successive events are evenly spaced by r + theta / slope.
        r = self.refractory_us
        first = sf + (mf + theta - (a[f] + gf * (sf - t0))) / gf
        first = np.clip(first, sf, t1)
        spacing = r + theta / gf
        n = np.floor((t1 - first) / spacing).astype(np.int64) + 1
        start = np.cumsum(n) - n
        k = np.arange(n.sum()) - np.repeat(start, n)
        rep = np.repeat(np.arange(f.size), n)
        times = first[rep] + k * spacing[rep]
        last = first + (n - 1) * spacing
        rel[f] = last + r
        m[f] = np.where(last + r < t1, mf + n * (theta + gf * r), b[f])
        # A pixel held past this frame follows the input until it is released.
        still = rel > t1
        m[still] = b[still]
        M[cand] = m
        self.release[cand] = rel
        self.held = cand[still]
        self.level = L1.astype(self.theta_on.dtype, copy=True)
        self.time = float(t1)
        return cand[f][rep], times, up[rep]


def _positive(name: str, value, shape) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(f"{name} must be a scalar or broadcast to {shape}, got shape {arr.shape}") from None
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got min {arr.min()}")
    return arr


class EventEmulator:
    """Turn a sequence of intensity frames into DVS events, streaming across calls.

    Args:
        height, width: sensor size in pixels.
        threshold_on, threshold_off: log-intensity contrast thresholds (> 0); a scalar or an
            ``[height, width]`` array for pixels that differ.
        threshold_mismatch: relative standard deviation of per-pixel threshold mismatch, drawn
            once per emulator (fixed-pattern, like a real sensor); 0 for identical pixels.
        refractory_us: time a pixel stays in reset after an event, in microseconds.
        shot_noise_rate_hz: rate of spontaneous events per pixel (either polarity, equally
            likely), added independently of the signal.
        log_eps: offset inside ``log(I + log_eps)``; sets how strongly dark pixels respond.
        seed: seed for mismatch and noise.

    Frames are non-negative intensities (any linear scale; ``log_eps`` is in the same units).
    The first frame ever given sets the pixel memories and yields no events.
    """

    def __init__(
        self,
        height: int,
        width: int,
        threshold_on=0.2,
        threshold_off=0.2,
        threshold_mismatch: float = 0.0,
        refractory_us: float = 0.0,
        shot_noise_rate_hz: float = 0.0,
        log_eps: float = 1e-2,
        seed: int | None = None,
    ):
        if int(height) < 1 or int(width) < 1:
            raise ValueError(f"height and width must be >= 1, got {height}x{width}")
        if not np.isfinite(threshold_mismatch) or threshold_mismatch < 0:
            raise ValueError(f"threshold_mismatch must be >= 0, got {threshold_mismatch}")
        if not np.isfinite(refractory_us) or refractory_us < 0:
            raise ValueError(f"refractory_us must be >= 0, got {refractory_us}")
        if not np.isfinite(shot_noise_rate_hz) or shot_noise_rate_hz < 0:
            raise ValueError(f"shot_noise_rate_hz must be >= 0, got {shot_noise_rate_hz}")
        if not np.isfinite(log_eps) or log_eps <= 0:
            raise ValueError(f"log_eps must be > 0, got {log_eps}")
        self.height, self.width = int(height), int(width)
        shape = (self.height, self.width)
        on = _positive("threshold_on", threshold_on, shape)
        off = _positive("threshold_off", threshold_off, shape)
        self.rng = np.random.default_rng(seed)
        on, off = mismatched_thresholds(on, off, threshold_mismatch, self.rng)
        self.threshold_on, self.threshold_off = on, off
        self.refractory_us = float(refractory_us)
        self.shot_noise_rate_hz = float(shot_noise_rate_hz)
        self.log_eps = float(log_eps)
        self.reset()

    def reset(self) -> None:
        """Forget the pixel memories and the time (thresholds and the noise stream are kept)."""
        self._pixels = _PixelArray(self.threshold_on.ravel(), self.threshold_off.ravel(), self.refractory_us)

    def __call__(self, frames, timestamps_us) -> np.ndarray:
        """Feed frames ``[F, height, width]`` at ``timestamps_us`` ``[F]``; returns events sorted by t."""
        frames = np.asarray(frames, dtype=np.float64)
        if frames.ndim != 3 or frames.shape[1:] != (self.height, self.width):
            raise ValueError(
                f"frames must have shape [F, {self.height}, {self.width}], got {tuple(frames.shape)}"
            )
        ts = np.asarray(timestamps_us, dtype=np.float64).reshape(-1)
        if ts.shape[0] != frames.shape[0]:
            raise ValueError(f"timestamps_us has {ts.shape[0]} entries for {frames.shape[0]} frames")
        if not np.all(np.isfinite(ts)):
            raise ValueError("timestamps_us must be finite")
        if ts.size > 1 and np.any(np.diff(ts) <= 0):
            raise ValueError("timestamps_us must be strictly increasing")
        if not np.all(np.isfinite(frames)) or (frames.size and frames.min() < 0):
            raise ValueError("frames must be finite, non-negative intensities")
        px = self._pixels
        if px.time is not None and ts.size and ts[0] <= px.time:
            raise ValueError(
                f"timestamps_us must continue after the previous call's last time {px.time:g}, got {ts[0]:g}"
            )
        logs = np.log(frames.reshape(frames.shape[0], -1) + self.log_eps)
        chunks = []
        t_first = px.time
        for i in range(frames.shape[0]):
            if px.time is None:
                px.start(logs[i], ts[i])
                t_first = ts[i]
            else:
                chunks.append(px.step(logs[i], ts[i]))
        if self.shot_noise_rate_hz > 0 and t_first is not None and px.time > t_first:
            chunks.append(
                shot_noise(self.rng, self.height * self.width, self.shot_noise_rate_hz, t_first, px.time)
            )
        if not chunks:
            return make_events([], [], [], [])
        pix, tf, pol = (np.concatenate(c) for c in zip(*chunks))
        t = np.rint(tf).astype(np.int64)
        order = np.argsort(t, kind="stable")
        pix, t, pol = pix[order], t[order], pol[order]
        return make_events(pix % self.width, pix // self.width, t, pol)


def mismatched_thresholds(on: np.ndarray, off: np.ndarray, sigma: float, rng: np.random.Generator):
    """Scale thresholds by ``1 + sigma * N(0, 1)`` per pixel and polarity."""
    if sigma == 0:
        return np.array(on, dtype=np.float64), np.array(off, dtype=np.float64)
    # A threshold near zero would fire on numerical noise; a 10% floor keeps every pixel sane.
    on = on * np.maximum(1.0 + sigma * rng.standard_normal(on.shape), 0.1)
    off = off * np.maximum(1.0 + sigma * rng.standard_normal(off.shape), 0.1)
    return on, off


def shot_noise(rng: np.random.Generator, n_pixels: int, rate_hz: float, t0: float, t1: float):
    """Poisson noise events over ``(t0, t1]``: (pixel, time_us, polarity) arrays."""
    n = rng.poisson(rate_hz * n_pixels * (t1 - t0) * 1e-6)
    pix = rng.integers(0, n_pixels, n)
    t = t1 - rng.random(n) * (t1 - t0)
    pol = rng.random(n) < 0.5
    return pix, t, pol
