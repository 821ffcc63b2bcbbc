"""Where droplets sit in a frame: pure, seeded placement functions.

Shorthand: D droplets. Every function returns an array of shape (D, 5) with
columns ``cx, cy, a, b, theta``: centre in px (pixel centres at integer + 0.5
in the frame's continuous coordinates), semi-axes ``a >= b`` in px and the
orientation of ``a`` in radians.
"""
from typing import Optional, Tuple

import numpy as np

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 region to fill


def sample_radii(rng: np.random.Generator, n: int, mean_area: float,
                 size_cv: float, polydisperse: bool, poly_cv: float,
                 max_ellipticity: float) -> np.ndarray:
    """Semi-axes and orientations for ``n`` droplets.

    The *area* ``pi * a * b`` follows a normal law around ``mean_area`` with
    coefficient of variation ``size_cv`` (monodisperse, as from a
    flow-focusing junction) or a log-normal with CV ``poly_cv``
    (polydisperse). Ellipticity ``1 - b / a`` is uniform in
    ``[0, max_ellipticity]`` and the area is kept.

    Returns:
        np.ndarray: (n, 3) array of ``a, b, theta``.
    """
    if polydisperse:
        sigma = np.sqrt(np.log1p(poly_cv**2))
        area = mean_area * rng.lognormal(-sigma**2 / 2, sigma, n)
    else:
        area = mean_area * (1 + size_cv * rng.standard_normal(n))
    area = np.clip(area, 0.2 * mean_area, 5 * mean_area)
    ecc = rng.uniform(0, max_ellipticity, n)  # b = a * (1 - ecc)
    a = np.sqrt(area / (np.pi * (1 - ecc)))
    b = a * (1 - ecc)
    theta = rng.uniform(0, np.pi, n)
    return np.stack([a, b, theta], axis=1)


def place_sparse(rng: np.random.Generator, shapes: np.ndarray, region: Box,
                 max_overlap: float, tries_per_droplet: int = 30
                 ) -> np.ndarray:
    """Random non-overlapping placement (sparse flow, touching allowed).

    Two droplets keep a centre distance of at least
    ``(r_i + r_j) * (1 - o)`` where ``o`` is drawn per pair-candidate in
    ``[0, max_overlap]``; ``r`` is the larger semi-axis, so ``o = 0`` means
    at most touching. Droplets that find no room after
    ``tries_per_droplet`` candidates are left out (the frame is full).

    Args:
        shapes: (D, 3) ``a, b, theta`` from :func:`sample_radii`.
        region: box the centres are drawn from (may extend past the frame
            so that droplets are cut by its border).

    Returns:
        np.ndarray: (D', 5) placed droplets, D' <= D.
    """
    x0, y0, x1, y1 = region
    placed = np.zeros((0, 5))
    for a, b, theta in shapes:
        cand = np.stack([rng.uniform(x0, x1, tries_per_droplet),
                         rng.uniform(y0, y1, tries_per_droplet)], axis=1)
        overlap = rng.uniform(0, max_overlap, tries_per_droplet)
        if len(placed):
            dist = np.linalg.norm(cand[:, None, :] - placed[None, :, :2],
                                  axis=2)
            need = (a + placed[None, :, 2]) * (1 - overlap[:, None])
            ok = np.flatnonzero((dist >= need).all(axis=1))
        else:
            ok = np.arange(tries_per_droplet)
        if len(ok):
            cx, cy = cand[ok[0]]
            placed = np.vstack([placed, [cx, cy, a, b, theta]])
    return placed


def place_packed(rng: np.random.Generator, shapes: np.ndarray, region: Box,
                 compression: float, jitter: float, vacancy: float,
                 mask_fn=None) -> np.ndarray:
    """Near-hexagonal packing, as in a dense emulsion.

    The lattice pitch is the mean droplet diameter times
    ``(1 - compression)`` (``compression > 0`` makes neighbours overlap
    slightly in projection), rotated by a random angle, each site jittered by
    ``jitter`` x radius and left empty with probability ``vacancy``.

    Args:
        shapes: (D, 3) shapes; D must be at least the number of sites (extra
            shapes are unused). The mean of ``a`` sets the pitch.
        mask_fn: optional ``f(x, y) -> bool array`` keeping only the sites of
            a cluster inside some shape.

    Returns:
        np.ndarray: (D', 5) placed droplets.
    """
    x0, y0, x1, y1 = region
    r = float(np.mean(np.sqrt(shapes[:, 0] * shapes[:, 1])))
    pitch = 2 * r * (1 - compression)
    angle = rng.uniform(0, np.pi / 3)
    span = np.hypot(x1 - x0, y1 - y0)
    n = int(span / pitch) + 2
    i, j = np.meshgrid(np.arange(-n, n + 1), np.arange(-n, n + 1))
    u = (i + 0.5 * (j % 2)) * pitch
    v = j * pitch * np.sqrt(3) / 2
    cx0, cy0 = (x0 + x1) / 2, (y0 + y1) / 2
    c, s = np.cos(angle), np.sin(angle)
    xs = cx0 + c * u - s * v
    ys = cy0 + s * u + c * v
    keep = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    if mask_fn is not None:
        keep &= mask_fn(xs, ys)
    xs, ys = xs[keep].ravel(), ys[keep].ravel()
    keep = rng.random(len(xs)) >= vacancy
    xs, ys = xs[keep], ys[keep]
    m = min(len(xs), len(shapes))
    order = rng.permutation(len(xs))[:m]
    xs = xs[order] + rng.normal(0, jitter * r, m)
    ys = ys[order] + rng.normal(0, jitter * r, m)
    return np.concatenate([np.stack([xs, ys], 1), shapes[:m]], axis=1)


def place_channel(rng: np.random.Generator, shapes: np.ndarray, width: int,
                  channel: Tuple[float, float], gap: float,
                  margin: float) -> np.ndarray:
    """Droplets flowing in a straight horizontal channel between two walls.

    Droplets fill the channel in one or more rows (as many as fit in its
    height), spaced along the flow by ``gap`` x diameter on average, and
    enter/leave through the left and right frame borders.

    Args:
        channel: ``(y_top, y_bottom)`` of the channel's inner walls.
        gap: mean spacing between consecutive droplets along the flow, as a
            fraction of the diameter (0 = touching trains).
        margin: how far past the left/right border centres may sit (px).
    """
    y_top, y_bot = channel
    d = 2 * float(np.mean(shapes[:, 0]))
    rows = max(1, int((y_bot - y_top) // (d * 0.95)))
    row_y = y_top + (np.arange(rows) + 0.5) * (y_bot - y_top) / rows
    out = []
    k = 0
    for yc in row_y:
        x = -margin + rng.uniform(0, d)
        while x < width + margin and k < len(shapes):
            a, b, theta = shapes[k]
            out.append([x, yc + rng.normal(0, 0.05 * d), a, b, theta])
            x += d * (1 + rng.exponential(gap) if gap > 0 else 1.0)
            k += 1
    return np.asarray(out, dtype=float).reshape(-1, 5)


def blob_mask_fn(rng: np.random.Generator, width: int, height: int,
                 coverage: float):
    """A random smooth blob covering about ``coverage`` of the frame.

    Returns:
        callable: ``f(x, y) -> bool`` inside test for cluster sites.
    """
    cx, cy = rng.uniform(0.25, 0.75) * width, rng.uniform(0.25, 0.75) * height
    base = np.sqrt(coverage * width * height / np.pi)
    harmonics = rng.normal(0, 0.15, 4)
    phases = rng.uniform(0, 2 * np.pi, 4)

    def inside(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        ang = np.arctan2(y - cy, x - cx)
        rad = base * (1 + sum(h * np.cos((k + 2) * ang + p)
                              for k, (h, p) in enumerate(
                                  zip(harmonics, phases))))
        return np.hypot(x - cx, y - cy) <= rad

    return inside


def frame_region(width: int, height: int, border_margin: float) -> Box:
    """Region for centres: the frame grown by ``border_margin`` px."""
    return (-border_margin, -border_margin, width + border_margin,
            height + border_margin)


def choose_layout(rng: np.random.Generator, layout: str,
                  weights: Optional[Tuple[float, float, float]] = None
                  ) -> str:
    """Pick ``'sparse'``, ``'packed'`` or ``'channel'`` for ``'mixed'``."""
    if layout != 'mixed':
        return layout
    weights = weights or (0.4, 0.4, 0.2)
    return str(rng.choice(['sparse', 'packed', 'channel'], p=weights))
