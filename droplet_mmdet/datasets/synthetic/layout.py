"""Where droplets sit in a frame: pure, seeded placement functions.

Shorthand: D droplets. Every function returns an array of shape (D, 5) with
columns ``cx, cy, a, b, theta``: centre in px (pixel centres at integer + 0.5
in the frame's continuous coordinates), semi-axes ``a >= b`` in px and the
orientation of ``a`` in radians.
"""
from typing import List, Optional, Tuple

import numpy as np

Box = Tuple[float, float, float, float]  # x0, y0, x1, y1 region to fill


def sample_radii(rng: np.random.Generator, n: int, mean_area: float,
                 size_cv: float, polydisperse: bool, poly_cv: float,
                 max_ellipticity: float,
                 diameter_range: Optional[Tuple[float, float]] = None
                 ) -> np.ndarray:
    """Semi-axes and orientations for ``n`` droplets.

    The *area* ``pi * a * b`` follows a normal law around ``mean_area`` with
    coefficient of variation ``size_cv`` (monodisperse, as from a
    flow-focusing junction) or, when ``polydisperse``, a log-normal law of
    mean ``mean_area`` whose equivalent *diameter* has CV ``poly_cv``.
    Without ``diameter_range`` areas are clipped to 0.2-5 x ``mean_area``;
    with it, equivalent diameters outside ``(lo, hi)`` px are drawn once
    more and then clipped into it. Ellipticity ``1 - b / a`` is uniform in
    ``[0, max_ellipticity]`` and the area is kept.

    Returns:
        np.ndarray: (n, 3) array of ``a, b, theta``.
    """
    def areas():
        if polydisperse:
            sigma = 2 * np.sqrt(np.log1p(poly_cv**2))
            return mean_area * rng.lognormal(-sigma**2 / 2, sigma, n)
        return mean_area * (1 + size_cv * rng.standard_normal(n))

    area = areas()
    if diameter_range is None:
        area = np.clip(area, 0.2 * mean_area, 5 * mean_area)
    else:
        lo, hi = (np.pi / 4 * float(v)**2 for v in diameter_range)
        out = (area < lo) | (area > hi)
        area = np.clip(np.where(out, areas(), area), lo, hi)
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
    placed = np.zeros((len(shapes), 5))
    n = 0
    for a, b, theta in shapes:
        cx = rng.uniform(x0, x1, tries_per_droplet)
        cy = rng.uniform(y0, y1, tries_per_droplet)
        overlap = rng.uniform(0, max_overlap, tries_per_droplet)
        first = 0 if n == 0 else None
        if n:
            px, py, pa = placed[:n, 0], placed[:n, 1], placed[:n, 2]
            # the first candidate that keeps its distance to every placed
            # droplet; most frames find one among the first few
            for lo, hi in ((0, 4), (4, tries_per_droplet)):
                dx = cx[lo:hi, None] - px
                dy = cy[lo:hi, None] - py
                dist = np.sqrt(dx * dx + dy * dy)
                need = (a + pa) * (1 - overlap[lo:hi, None])
                ok = np.flatnonzero((dist >= need).all(axis=1))
                if len(ok):
                    first = lo + int(ok[0])
                    break
        if first is not None:
            placed[n] = cx[first], cy[first], a, b, theta
            n += 1
    return placed[:n]


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


def boundary_radius(a: np.ndarray, b: np.ndarray, theta: np.ndarray,
                    phi: np.ndarray) -> np.ndarray:
    """Distance from an ellipse's centre to its boundary in direction
    ``phi`` (frame angle)."""
    c, s = np.cos(phi - theta), np.sin(phi - theta)
    return a * b / np.hypot(b * c, a * s)


def add_stacked(rng: np.random.Generator, drops: np.ndarray,
                shapes: np.ndarray, rate: float) -> np.ndarray:
    """Droplets stacked on others (drawn in front, partly hiding them).

    About ``rate`` per droplet (Poisson), each on a random droplet with its
    centre ``0.3-0.85 x (r_i + r_new)`` away (``r``: larger semi-axis).

    Args:
        drops: (D, 5) placed droplets.
        shapes: (>= K, 3) shapes for the new droplets.

    Returns:
        np.ndarray: (K, 5) new droplets.
    """
    if len(drops) == 0:
        return np.zeros((0, 5))
    k = min(int(rng.poisson(rate * len(drops))), len(shapes))
    base = drops[rng.integers(0, len(drops), k)]
    phi = rng.uniform(0, 2 * np.pi, k)
    dist = rng.uniform(0.3, 0.85, k) * (base[:, 2] + shapes[:k, 0])
    return np.concatenate([np.stack([base[:, 0] + dist * np.cos(phi),
                                     base[:, 1] + dist * np.sin(phi)], 1),
                           shapes[:k]], axis=1)


def add_satellites(rng: np.random.Generator, drops: np.ndarray, rate: float,
                   min_parent: float = 16.0, min_diameter: float = 5.0
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Small satellite droplets beside their parents, as a break-up leaves
    them (labelled droplets, unlike the unlabelled specks).

    Each droplet of equivalent diameter >= ``min_parent`` px gets a Poisson
    number (mean ``rate``) of satellites of diameter 0.12-0.35 x its own
    (at least ``min_diameter``), nearly round, just outside its outline
    (gap -0.15 to 0.6 x the satellite's radius; negative = overlapping).

    Returns:
        tuple: (S, 5) satellites and (S,) index of each one's parent.
    """
    dpar = 2 * np.sqrt(drops[:, 2] * drops[:, 3]) if len(drops) else \
        np.zeros(0)
    counts = rng.poisson(rate, len(drops)) * (dpar >= min_parent)
    parent = np.repeat(np.arange(len(drops)), counts)
    p = drops[parent]
    k = len(parent)
    ds = np.maximum(dpar[parent] * rng.uniform(0.12, 0.35, k), min_diameter)
    ecc = rng.uniform(0, 0.05, k)
    rs = ds / 2
    a = rs / np.sqrt(1 - ecc)
    phi = rng.uniform(0, 2 * np.pi, k)
    dist = boundary_radius(p[:, 2], p[:, 3], p[:, 4], phi) + rs * (
        1 + rng.uniform(-0.15, 0.6, k))
    sats = np.stack([p[:, 0] + dist * np.cos(phi),
                     p[:, 1] + dist * np.sin(phi), a, a * (1 - ecc),
                     rng.uniform(0, np.pi, k)], axis=1)
    return sats.reshape(-1, 5), parent


def coalescing_lobes(rng: np.random.Generator, drops: np.ndarray,
                     frac: float,
                     diameter_range: Optional[Tuple[float, float]] = None
                     ) -> List[Tuple[int, Tuple[float, float, float],
                                     float]]:
    """Second lobes that turn droplets into coalescing pairs.

    A fraction ``frac`` of droplets gets a disc of radius 0.45-1 x its own
    equivalent radius ``r1`` (clipped to ``diameter_range / 2``), centred
    0.55-0.9 x ``(r1 + r2)`` away, joined by a neck of 0.3-0.8 x the
    smaller radius.

    Returns:
        list: ``(index, (x2, y2, r2), neck)`` per pair.
    """
    n = len(drops)
    pick = rng.random(n) < frac
    r2f, phi, gapf, neckf = (rng.uniform(lo, hi, n) for lo, hi in (
        (0.45, 1.0), (0, 2 * np.pi), (0.55, 0.9), (0.3, 0.8)))
    out = []
    for i in np.flatnonzero(pick):
        cx, cy, a, b, _ = drops[i]
        r1 = np.sqrt(a * b)
        r2 = r1 * r2f[i]
        if diameter_range is not None:
            r2 = float(np.clip(r2, diameter_range[0] / 2,
                               diameter_range[1] / 2))
        dist = gapf[i] * (r1 + r2)
        out.append((int(i), (float(cx + dist * np.cos(phi[i])),
                             float(cy + dist * np.sin(phi[i])), float(r2)),
                    float(neckf[i] * min(r1, r2))))
    return out
