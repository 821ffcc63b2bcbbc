"""What lies around and behind the droplets: the continuous phase, lighting,
channel walls, field stops and unlabelled distractors.

Pure functions on float32 frames (H x W, 1 = full scale); every random draw
comes from the generator passed in. Multiplicative fields are returned as
(H, W) float32 arrays for the caller to apply.
"""
from dataclasses import dataclass
from typing import Any, Dict, Tuple

import cv2
import numpy as np

from .shapes import ellipse_patch


def smooth_noise(H: int, W: int, cell: float, rng: np.random.Generator,
                 scale: int = 1) -> np.ndarray:
    """Smooth zero-mean noise with features of about ``cell`` px and an sd
    of about 1: a coarse Gaussian grid upsampled bicubically (cheap at any
    size). ``scale > 1`` returns it at ``1 / scale`` of the frame's size.
    """
    h, w = -(-H // scale), -(-W // scale)
    gh, gw = max(int(H / cell), 1) + 3, max(int(W / cell), 1) + 3
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    # the grid's outer nodes fall outside the frame: no edge effects
    big = cv2.resize(grid, (int((gw - 1) * w / (gw - 3)),
                            int((gh - 1) * h / (gh - 3))),
                     interpolation=cv2.INTER_CUBIC)
    oy, ox = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    # bicubic interpolation of unit-variance nodes leaves ~0.75 of the sd
    return big[oy:oy + h, ox:ox + w] * np.float32(1 / 0.75)


def texture(H: int, W: int, amp: float, rng: np.random.Generator
            ) -> np.ndarray:
    """Mottled continuous phase: ``1 + amp * noise`` over three scales
    (about 64, 20 and 8 px), summed at half resolution."""
    field = smooth_noise(H, W, 64, rng, 2)
    field += np.float32(0.7) * smooth_noise(H, W, 20, rng, 2)
    field += np.float32(0.4) * smooth_noise(H, W, 8, rng, 2)
    field *= np.float32(amp / 1.28)
    field += np.float32(1)
    return cv2.resize(field, (W, H), interpolation=cv2.INTER_LINEAR)


def speckle(img: np.ndarray, count: float, look: str,
            rng: np.random.Generator) -> None:
    """Tiny unlabelled specks (about 1.5-4 px across, soft) in the
    continuous phase, in place: dark in brightfield, bright in
    fluorescence. ``count`` is per 512 x 512 px."""
    H, W = img.shape
    n = rng.poisson(count * H * W / 512**2)
    if n == 0:
        return
    canvas = np.zeros((H, W), np.uint8)
    xy = np.round(rng.uniform(0, 1, (n, 2)) * (W * 16, H * 16)).astype(int)
    rad = np.round(rng.uniform(0.6, 1.8, n) * 16).astype(int)
    tone = np.round(rng.uniform(0.2, 0.85, n) * 255).astype(int)
    for (x, y), r, t in zip(xy.tolist(), rad.tolist(), tone.tolist()):
        cv2.circle(canvas, (x, y), r, t, -1, cv2.LINE_AA, 4)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 0.6)
    k = np.float32(-1 / 255 if look == 'brightfield' else 4 / 255)
    img *= 1 + k * canvas


def illumination(H: int, W: int, strength: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative field: a tilt plus an off-centre vignette."""
    x = (np.arange(W, dtype=np.float32) / W - 0.5)[None, :]
    y = (np.arange(H, dtype=np.float32) / H - 0.5)[:, None]
    gx, gy = rng.normal(0, 1, 2).astype(np.float32)
    cx, cy = rng.uniform(-0.3, 0.3, 2).astype(np.float32)
    return 1 + strength * (0.5 * (gx * x + gy * y) -
                           ((x - cx)**2 + (y - cy)**2))


def vignette(H: int, W: int, strength: float, rng: np.random.Generator
             ) -> np.ndarray:
    """Lens vignetting: ``1 - strength * (2 r^2)^2`` around a point near
    the centre (``r`` in frame units: about ``1 - strength`` in the
    corners)."""
    cx, cy = rng.uniform(-0.1, 0.1, 2)
    x = ((np.arange(W) + 0.5) / W - 0.5 - cx)**2
    y = ((np.arange(H) + 0.5) / H - 0.5 - cy)**2
    r2 = (2 * y.astype(np.float32))[:, None] + (2 * x.astype(np.float32))
    r2 *= r2
    r2 *= np.float32(-strength)
    r2 += np.float32(1)
    return r2


@dataclass
class FieldStop:
    """A round or regular octagonal aperture; outside it the frame is dark.

    Inside test at ``(x, y)``, ``(u, v)`` = offset from ``(cx, cy)``
    rotated by ``-angle``: circle ``hypot(u, v) < size``; octagon
    ``max(|u|, |v|, (|u| + |v|) / sqrt 2) < size`` (``size`` = apothem,
    the edges' normals at ``angle + k pi / 4``).
    """
    shape: str
    cx: float
    cy: float
    size: float
    angle: float

    @classmethod
    def draw(cls, H: int, W: int, rng: np.random.Generator) -> 'FieldStop':
        shape = 'octagon' if rng.random() < 0.6 else 'circle'
        m = min(H, W)
        return cls(shape, W / 2 + rng.uniform(-0.12, 0.12) * m,
                   H / 2 + rng.uniform(-0.12, 0.12) * m,
                   rng.uniform(0.36, 0.62) * m, rng.uniform(0, np.pi / 4))

    def signed_distance(self, xs: np.ndarray, ys: np.ndarray
                        ) -> np.ndarray:
        """Distance to the edge (px, < 0 inside) at points ``xs`` (1, w)
        / ``ys`` (h, 1), in their dtype; pixel centres are at
        ``integer + 0.5``."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        xs, ys = xs - xs.dtype.type(self.cx), ys - ys.dtype.type(self.cy)
        u = np.abs(xs * xs.dtype.type(c) + ys * ys.dtype.type(s))
        v = np.abs(ys * ys.dtype.type(c) - xs * xs.dtype.type(s))
        if self.shape == 'circle':
            return np.sqrt(u * u + v * v) - xs.dtype.type(self.size)
        return np.maximum(np.maximum(u, v), (u + v) * xs.dtype.type(
            1 / np.sqrt(2))) - xs.dtype.type(self.size)

    def inside(self, x0: int, y0: int, h: int, w: int) -> np.ndarray:
        """(h, w) bool: pixel centres of a patch inside the aperture
        (float64: the mask rule)."""
        xs = np.arange(x0, x0 + w, dtype=np.float64)[None, :] + 0.5
        ys = np.arange(y0, y0 + h, dtype=np.float64)[:, None] + 0.5
        return self.signed_distance(xs, ys) < 0

    def apply(self, img: np.ndarray, rng: np.random.Generator) -> None:
        """Darken the surround in place: a textured level of 3-25 % of the
        light, a soft edge of 1-4 px."""
        H, W = img.shape
        edge = rng.uniform(1.0, 4.0)
        level = rng.uniform(0.03, 0.25)
        xs = np.arange(W, dtype=np.float32)[None, :] + np.float32(0.5)
        ys = np.arange(H, dtype=np.float32)[:, None] + np.float32(0.5)
        ap = self.signed_distance(xs, ys)
        ap *= np.float32(-1 / edge)
        ap += np.float32(0.5)
        np.clip(ap, 0, 1, out=ap)
        sur = smooth_noise(H, W, 12, rng, 2)
        sur *= np.float32(0.6 * level)
        sur += np.float32(level)
        np.maximum(sur, np.float32(0.1 * level), out=sur)
        sur = cv2.resize(sur, (W, H), interpolation=cv2.INTER_LINEAR)
        # img * (ap + (1 - ap) * sur)
        sur -= sur * ap
        sur += ap
        img *= sur

    def to_info(self) -> Dict[str, Any]:
        return dict(shape=self.shape, cx=float(self.cx), cy=float(self.cy),
                    size=float(self.size), angle=float(self.angle))


def draw_walls(img: np.ndarray, channel: Tuple[float, float], look: str
               ) -> None:
    """Channel walls: a dark edge line and a slightly different outside."""
    H, W = img.shape
    y = np.arange(H, dtype=np.float32)[:, None] + 0.5
    top, bot = channel
    outside = np.clip(top - y + 0.5, 0, 1) + np.clip(y - bot + 0.5, 0, 1)
    edge = (np.exp(-0.5 * ((y - top) / 1.2)**2) +
            np.exp(-0.5 * ((y - bot) / 1.2)**2))
    if look == 'brightfield':
        img *= (1 - 0.12 * outside) * (1 - 0.6 * edge)
    else:
        img += 0.05 * edge


def draw_distractors(img: np.ndarray, satellites: float, debris: float,
                     look: str, rng: np.random.Generator) -> None:
    """v1's tiny round specks and debris (fibres, particles): drawn, never
    labelled. ``satellites`` and ``debris`` are mean counts per frame."""
    H, W = img.shape
    for _ in range(rng.poisson(satellites)):
        r = rng.uniform(1.5, 4.0)
        geom = ellipse_patch(rng.uniform(0, W), rng.uniform(0, H), r,
                             r * rng.uniform(0.9, 1), 0.0, 3, H, W)
        if geom is None:
            continue
        x0, y0, d, _ = geom
        sl = (slice(y0, y0 + d.shape[0]), slice(x0, x0 + d.shape[1]))
        cov = np.clip(0.5 - d, 0.0, 1.0)
        tone = 0.55 if look == 'brightfield' else 1 + rng.uniform(3, 8)
        img[sl] = img[sl] * (1 - cov) + img[sl] * tone * cov
    for _ in range(rng.poisson(debris)):
        # drawn on a local 64 x 64 canvas, then blended into the frame
        S = 64
        canvas = np.zeros((S, S), np.uint8)
        if rng.random() < 0.5:  # fibre
            p = rng.uniform(16, 48, 2)
            q = p + np.clip(rng.normal(0, 12, 2), -16, 16)
            cv2.line(canvas, tuple(int(v) for v in p),
                     tuple(int(v) for v in q), 255,
                     int(rng.integers(1, 3)), cv2.LINE_AA)
        else:  # irregular particle
            pts = 32 + rng.normal(0, rng.uniform(2, 6), (7, 2))
            cv2.fillPoly(canvas, [cv2.convexHull(pts.astype(np.int32))],
                         255, cv2.LINE_AA)
        ox, oy = int(rng.integers(-S // 2, W - S // 2)), int(
            rng.integers(-S // 2, H - S // 2))
        fx0, fy0 = max(ox, 0), max(oy, 0)
        fx1, fy1 = min(ox + S, W), min(oy + S, H)
        alpha = canvas[fy0 - oy:fy1 - oy, fx0 - ox:fx1 - ox].astype(
            np.float32) * (rng.uniform(0.3, 0.7) / 255)
        tone = 0.3 if look == 'brightfield' else 2.5
        img[fy0:fy1, fx0:fx1] *= 1 - alpha + tone * alpha
