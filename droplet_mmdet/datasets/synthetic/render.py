"""Render one synthetic microfluidic droplet frame with exact instance masks.

Pure and seeded: :func:`render_frame` takes a :class:`FrameSpec` and a seed
and returns the image and its droplets; no file I/O.

**The mask rule** (used everywhere in droplet_mmdet): a pixel belongs to a
droplet when the pixel's centre lies inside the droplet's *outer* boundary
(the dark refraction rim is part of the droplet) and no droplet drawn later
(in front) covers that centre. Rendering is anti-aliased with the same
boundary, so the mask is exactly the set of pixels whose droplet coverage is
at least one half. Satellites, debris, walls and droplet contents are drawn
but are not droplets and have no mask.

Shorthand: H x W frame, D droplets.
"""
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np

from . import layout as L

Range = Tuple[float, float]


@dataclass
class FrameSpec:
    """Everything that controls a frame. Ranges ``(lo, hi)`` are drawn
    uniformly per frame.

    Size: ``mean_area`` (px^2, default 400-500, i.e. ~22-25 px across),
    ``size_cv`` (monodisperse spread), ``polydisperse``/``poly_cv``,
    ``max_ellipticity`` (``1 - b/a``).
    Arrangement: ``layout`` is ``'sparse'``, ``'packed'``, ``'channel'`` or
    ``'mixed'``; ``sparse_coverage`` (area fraction for sparse flow),
    ``cluster_coverage`` (frame fraction of a packed cluster, 1 = whole
    frame), ``max_overlap`` (projected overlap of neighbours, fraction of
    the radius sum), ``border_cut`` (let droplets run past the border).
    Optics: ``look`` is ``'brightfield'``, ``'fluorescence'`` or ``'mixed'``;
    ``illumination`` (strength of uneven lighting), ``blur_sigma`` (defocus,
    px), ``photons`` (Poisson photon count at full scale; lower = noisier),
    ``read_noise`` (Gaussian sigma, fraction of full scale), ``bit_depth``
    (sensor quantisation before the 8-bit output).
    Distractors: ``satellites`` and ``debris`` (mean count per frame),
    ``contents_prob`` (chance a droplet holds beads/cells).
    """
    height: int = 512
    width: int = 512
    mean_area: Range = (400.0, 500.0)
    size_cv: float = 0.03
    polydisperse: bool = False
    poly_cv: float = 0.25
    max_ellipticity: float = 0.08
    layout: str = 'mixed'
    sparse_coverage: Range = (0.12, 0.35)
    cluster_coverage: Range = (0.25, 0.6)
    max_overlap: float = 0.06
    border_cut: bool = True
    look: str = 'brightfield'
    illumination: float = 0.25
    blur_sigma: Range = (0.0, 1.2)
    photons: Range = (80.0, 600.0)
    read_noise: Range = (0.004, 0.02)
    bit_depth: int = 8
    satellites: float = 6.0
    debris: float = 4.0
    contents_prob: float = 0.15
    min_visible_px: int = 10

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class Droplet:
    """One rendered droplet.

    ``diameter`` is the true equivalent diameter ``2 * sqrt(a * b)`` (sub-
    pixel); ``rle_mask`` is the visible mask as a boolean patch placed at
    ``(x0, y0)``; ``cut`` tells whether the frame border cuts it.
    """
    cx: float
    cy: float
    a: float
    b: float
    theta: float
    diameter: float
    cut: bool
    x0: int
    y0: int
    mask: np.ndarray = field(repr=False)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def bbox(self) -> List[float]:
        """Tight ``[x, y, w, h]`` box of the visible mask, COCO style."""
        ys, xs = np.nonzero(self.mask)
        x, y = self.x0 + xs.min(), self.y0 + ys.min()
        return [float(x), float(y), float(self.x0 + xs.max() + 1 - x),
                float(self.y0 + ys.max() + 1 - y)]


def _ellipse_patch(cx: float, cy: float, a: float, b: float, theta: float,
                   pad: float, height: int, width: int):
    """Signed radial distance (px, negative inside) on the droplet's patch.

    Returns:
        tuple: ``(x0, y0, d, rn)``; ``d`` and ``rn`` (normalised radius,
        1 on the boundary) are (h, w) arrays for the clipped patch, or
        ``None`` when the patch lies outside the frame.
    """
    r = a + pad
    x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)), width)
    y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)), height)
    if x1 <= x0 or y1 <= y0:
        return None
    # float64: the inside test (rn < 1) is the mask rule, keep it exact
    xs = np.arange(x0, x1, dtype=np.float64) + 0.5 - cx
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - cy
    c, s = np.cos(theta), np.sin(theta)
    u = xs * c + ys * s
    v = -xs * s + ys * c
    rn = np.sqrt((u / a)**2 + (v / b)**2)
    rho = np.sqrt(u * u + v * v)
    d = rho - rho / np.maximum(rn, 1e-6)
    return x0, y0, d, rn


def _coverage(d: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - d, 0.0, 1.0)


def _draw_droplet(img: np.ndarray, owner: np.ndarray, idx: int,
                  geom, look: str, rng: np.random.Generator,
                  contents: bool) -> None:
    x0, y0, d, rn = geom
    h, w = d.shape
    cov = _coverage(d)
    sl = (slice(y0, y0 + h), slice(x0, x0 + w))
    bg = img[sl]
    if look == 'brightfield':
        rim_w = rng.uniform(1.5, 3.0)
        gain = rng.uniform(0.05, 0.25)
        val = bg * (1 + gain * (1 - np.clip(rn, 0, 1)**2))
        rim = np.exp(-0.5 * ((d + rim_w * 0.6) / (rim_w * 0.5))**2)
        val = val * (1 - rng.uniform(0.5, 0.8) * rim)
        halo = 0.08 * np.exp(-0.5 * ((d - 1.2) / 0.8)**2) * (d > 0)
        new = bg * (1 - cov) + val * cov + halo * bg
    else:
        level = rng.uniform(0.45, 0.8)
        val = level * (0.85 + 0.15 * (1 - np.clip(rn, 0, 1)**2))
        new = bg * (1 - cov) + val * cov
    if contents:
        for _ in range(rng.integers(1, 4)):
            rr = rng.uniform(1.2, 3.0)
            ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5)
            bx = (w / 2) + dist * (w / 2 - 4) * np.cos(ang)
            by = (h / 2) + dist * (h / 2 - 4) * np.sin(ang)
            yy, xx = np.mgrid[0:h, 0:w]
            bead = np.clip(rr + 0.5 - np.hypot(xx + 0.5 - bx, yy + 0.5 - by),
                           0, 1) * cov
            tone = 0.5 if look == 'brightfield' else 1.4
            new = new * (1 - bead) + new * tone * bead
    img[sl] = new
    owner[sl][d < 0] = idx


def _draw_distractors(img: np.ndarray, spec: FrameSpec, look: str,
                      rng: np.random.Generator) -> None:
    """Satellite droplets and debris: drawn, never labelled."""
    H, W = img.shape
    for _ in range(rng.poisson(spec.satellites)):
        r = rng.uniform(1.5, 4.0)
        geom = _ellipse_patch(rng.uniform(0, W), rng.uniform(0, H), r,
                              r * rng.uniform(0.9, 1), 0.0, 3, H, W)
        if geom is None:
            continue
        x0, y0, d, _ = geom
        sl = (slice(y0, y0 + d.shape[0]), slice(x0, x0 + d.shape[1]))
        cov = _coverage(d)
        tone = 0.55 if look == 'brightfield' else 1 + rng.uniform(3, 8)
        img[sl] = img[sl] * (1 - cov) + img[sl] * tone * cov
    for _ in range(rng.poisson(spec.debris)):
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


def _draw_walls(img: np.ndarray, channel: Tuple[float, float], look: str
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


def _illumination(H: int, W: int, strength: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Smooth multiplicative field: a tilt plus an off-centre vignette."""
    x = (np.arange(W, dtype=np.float32) / W - 0.5)[None, :]
    y = (np.arange(H, dtype=np.float32) / H - 0.5)[:, None]
    gx, gy = rng.normal(0, 1, 2).astype(np.float32)
    cx, cy = rng.uniform(-0.3, 0.3, 2).astype(np.float32)
    return 1 + strength * (0.5 * (gx * x + gy * y) -
                           ((x - cx)**2 + (y - cy)**2))


def _place(spec: FrameSpec, rng: np.random.Generator, mean_area: float):
    H, W = spec.height, spec.width
    kind = L.choose_layout(rng, spec.layout)
    r_mean = np.sqrt(mean_area / np.pi)
    margin = 0.7 * r_mean if spec.border_cut else -1.05 * r_mean
    region = L.frame_region(W, H, margin)
    channel = None
    n_max = int(2.0 * H * W / mean_area) + 10
    shapes = L.sample_radii(rng, n_max, mean_area, spec.size_cv,
                            spec.polydisperse, spec.poly_cv,
                            spec.max_ellipticity)
    if kind == 'sparse':
        n = int(rng.uniform(*spec.sparse_coverage) * H * W / mean_area)
        drops = L.place_sparse(rng, shapes[:n], region, spec.max_overlap)
    elif kind == 'packed':
        cov = rng.uniform(*spec.cluster_coverage)
        mask_fn = None if cov >= 1 else L.blob_mask_fn(rng, W, H, cov)
        drops = L.place_packed(rng, shapes, region,
                               compression=rng.uniform(-0.03, 0.05),
                               jitter=0.05, vacancy=rng.uniform(0, 0.08),
                               mask_fn=mask_fn)
    else:
        d = 2 * r_mean
        ch_h = d * rng.uniform(1.2, 3.5)
        top = rng.uniform(0.1 * H, max(0.1 * H, H - ch_h - 0.1 * H))
        channel = (top, top + ch_h)
        drops = L.place_channel(rng, shapes, W, channel,
                                gap=rng.uniform(0.0, 0.8),
                                margin=max(margin, 0))
    return kind, drops, channel


def render_frame(spec: FrameSpec, seed: int
                 ) -> Tuple[np.ndarray, List[Droplet], Dict[str, Any]]:
    """Render one frame.

    Args:
        spec: what to draw.
        seed: any non-negative integer; the same ``(spec, seed)`` always
            gives the same bytes.

    Returns:
        tuple: ``(image, droplets, info)``: ``image`` is (H, W) uint8;
        ``droplets`` holds the labelled droplets in drawing order (visible
        mask, true geometry); ``info`` records the per-frame draws
        (layout, look, blur, noise).
    """
    rng = np.random.default_rng(seed)
    H, W = spec.height, spec.width
    look = spec.look
    if look == 'mixed':
        look = 'brightfield' if rng.random() < 0.7 else 'fluorescence'
    mean_area = rng.uniform(*spec.mean_area)
    kind, drops, channel = _place(spec, rng, mean_area)

    base = rng.uniform(0.55, 0.8) if look == 'brightfield' else \
        rng.uniform(0.03, 0.08)
    img = np.full((H, W), base, np.float32)
    if channel is not None:
        _draw_walls(img, channel, look)
    owner = np.full((H, W), -1, np.int32)
    geoms = []
    for i, (cx, cy, a, b, theta) in enumerate(drops):
        geom = _ellipse_patch(cx, cy, a, b, theta, 4.0, H, W)
        geoms.append(geom)
        if geom is not None:
            _draw_droplet(img, owner, i, geom, look, rng,
                          rng.random() < spec.contents_prob)
    _draw_distractors(img, spec, look, rng)

    img *= _illumination(H, W, spec.illumination, rng)
    sigma = rng.uniform(*spec.blur_sigma)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    # Sensor noise: shot noise (Poisson with ``photons`` counts at full
    # scale, in its Gaussian form, variance = signal / photons) plus
    # Gaussian read noise, then quantisation to ``bit_depth`` bits.
    photons = rng.uniform(*spec.photons)
    read = rng.uniform(*spec.read_noise)
    np.clip(img, 0, None, out=img)
    sd = np.sqrt(img / np.float32(photons) + np.float32(read**2))
    img += sd * rng.standard_normal(img.shape, dtype=np.float32)
    levels = np.float32(2**spec.bit_depth - 1)
    np.clip(img, 0, 1, out=img)
    img = np.round(img * levels) * np.float32(255 / levels)
    image = np.round(img).astype(np.uint8)

    droplets = []
    for i, geom in enumerate(geoms):
        if geom is None:
            continue
        x0, y0, d, _ = geom
        h, w = d.shape
        mask = owner[y0:y0 + h, x0:x0 + w] == i
        if mask.sum() < spec.min_visible_px:
            continue
        cx, cy, a, b, theta = drops[i]
        cut = bool(cx - a < 0 or cy - a < 0 or cx + a > W or cy + a > H)
        droplets.append(
            Droplet(float(cx), float(cy), float(a), float(b), float(theta),
                    float(2 * np.sqrt(a * b)), cut, x0, y0, mask))
    info = dict(layout=kind, look=look, mean_area=float(mean_area),
                blur_sigma=float(sigma), photons=float(photons))
    return image, droplets, info
