"""Droplet outlines and their signed distance on a pixel patch.

An :class:`Outline` is the zero level set of ``d`` (px, negative inside);
``d < 0`` at a pixel centre is the inside test of the mask rule.

* **Ellipse** ``(cx, cy, a, b, theta)``: in the droplet's frame
  ``u`` (along ``a``), ``v``, with ``rho = hypot(u, v)`` and
  ``psi = atan2(v, u)``, the boundary radius is
  ``R_e(psi) = a b / hypot(b cos psi, a sin psi)`` and ``d = rho - R_e``.
* **Radial harmonics** ``harm`` (complex ``c_k`` for ``k = 2, 3, ...``):
  ``R(psi) = R_e(psi) * (1 + sum_k Re(c_k exp(i k psi)))``, i.e. amplitude
  ``|c_k|`` and phase ``arg c_k`` of ``cos(k psi + phase)``;
  ``d = rho - R``.
* **Coalescing pair**: the outline above plus a disc ``lobe = (x2, y2,
  r2)`` with ``d2 = |p - (x2, y2)| - r2``, joined by the polynomial smooth
  minimum of width ``neck``:
  ``h = clip(1/2 + (d2 - d1) / (2 neck), 0, 1)``,
  ``d = d2 (1 - h) + d1 h - neck h (1 - h)``. So the pair holds both lobes
  and a neck between them, and lies within ``neck / 4`` px of their union.

Shorthand: h x w patch.
"""
from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

Patch = Tuple[int, int, np.ndarray, np.ndarray]


def ellipse_patch(cx: float, cy: float, a: float, b: float, theta: float,
                  pad: float, height: int, width: int) -> Optional[Patch]:
    """Signed radial distance (px, negative inside) on an ellipse's patch.

    Returns:
        tuple: ``(x0, y0, d, rn)``; ``d`` and ``rn`` (normalised radius,
        1 on the boundary) are (h, w) float64 arrays for the patch clipped
        to the frame, or ``None`` when the patch lies outside the frame.
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


@dataclass
class Outline:
    """A droplet's outer boundary (see the module docstring)."""
    cx: float
    cy: float
    a: float
    b: float
    theta: float
    harm: Optional[np.ndarray] = None
    lobe: Optional[Tuple[float, float, float]] = None
    neck: float = 0.0

    @property
    def plain(self) -> bool:
        """An ellipse without harmonics or lobe (v1's shape)."""
        return self.harm is None and self.lobe is None

    def reach(self) -> float:
        """Radius around ``(cx, cy)`` that holds the main outline."""
        if self.harm is None:
            return self.a
        return self.a * (1 + float(np.abs(self.harm).sum()))

    def bounds(self) -> Tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)`` holding the whole outline."""
        r = self.reach()
        x0, y0, x1, y1 = self.cx - r, self.cy - r, self.cx + r, self.cy + r
        if self.lobe is not None:
            x2, y2, r2 = self.lobe
            r2 += self.neck
            x0, y0 = min(x0, x2 - r2), min(y0, y2 - r2)
            x1, y1 = max(x1, x2 + r2), max(y1, y2 + r2)
        return x0, y0, x1, y1

    def radius(self, psi: np.ndarray) -> np.ndarray:
        """Boundary radius ``R(psi)`` of the main outline (droplet frame)."""
        c, s = np.cos(psi), np.sin(psi)
        r = self.a * self.b / np.hypot(self.b * c, self.a * s)
        if self.harm is not None:
            r = r * self._h(c, s, np.ones_like(c))
        return r

    def _h(self, u: np.ndarray, v: np.ndarray, rho: np.ndarray
           ) -> np.ndarray:
        """``1 + Re(sum_k c_k z^k)``, ``z = (u + i v) / rho`` (Horner)."""
        z = np.empty(u.shape, np.complex128)
        z.real = u
        z.imag = v
        z /= np.maximum(rho, 1e-12)
        acc = self.harm[-1] * z
        for c in self.harm[-2::-1]:
            acc += c
            acc *= z
        acc *= z
        return 1 + acc.real

    def field(self, xs: np.ndarray, ys: np.ndarray
              ) -> Tuple[np.ndarray, np.ndarray]:
        """``(d, rn)`` at points ``xs`` (1, w) / ``ys`` (h, 1), float64.

        ``rn`` is the normalised radius for shading: 0 at a lobe's centre,
        1 on the boundary.
        """
        dx, dy = xs - self.cx, ys - self.cy
        c, s = np.cos(self.theta), np.sin(self.theta)
        u = dx * c + dy * s
        v = -dx * s + dy * c
        rn = np.sqrt((u / self.a)**2 + (v / self.b)**2)
        rho = np.sqrt(u * u + v * v)
        if self.harm is not None:
            rn = rn / self._h(u, v, rho)
        d = rho - rho / np.maximum(rn, 1e-6)
        if self.lobe is None:
            return d, rn
        x2, y2, r2 = self.lobe
        dist2 = np.sqrt((xs - x2)**2 + (ys - y2)**2)
        d2 = dist2 - r2
        k = self.neck
        h = np.clip(0.5 + 0.5 * (d2 - d) / k, 0.0, 1.0)
        d = d2 * (1 - h) + d * h - k * h * (1 - h)
        return d, np.minimum(rn, dist2 / r2)

    def patch(self, pad: float, height: int, width: int) -> Optional[Patch]:
        """``(x0, y0, d, rn)`` on the outline's patch grown by ``pad`` px,
        clipped to the frame; ``None`` outside it."""
        if self.plain:
            return ellipse_patch(self.cx, self.cy, self.a, self.b,
                                 self.theta, pad, height, width)
        bx0, by0, bx1, by1 = self.bounds()
        x0, x1 = max(int(np.floor(bx0 - pad)), 0), min(
            int(np.ceil(bx1 + pad)), width)
        y0, y1 = max(int(np.floor(by0 - pad)), 0), min(
            int(np.ceil(by1 + pad)), height)
        if x1 <= x0 or y1 <= y0:
            return None
        xs = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5
        ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
        d, rn = self.field(xs, ys)
        return x0, y0, d, rn

    def area_centroid(self) -> Tuple[float, float, float]:
        """``(area, x, y)`` of the region inside the outline.

        Polar integrals (trapezoid rule over 64 directions: exact to
        rounding for the ellipse and harmonics; for a pair, whose boundary
        radius is found by bisection from a point inside both lobes, to
        ~1e-5 relative).
        """
        if self.plain:
            return np.pi * self.a * self.b, self.cx, self.cy
        n = 64
        psi = np.arange(n) * (2 * np.pi / n)
        if self.lobe is None:
            ox, oy = self.cx, self.cy
            r = self.radius(psi - self.theta)
        else:
            ox, oy, r = self._pair_radius(psi)
        w = 2 * np.pi / n
        area = 0.5 * w * float((r * r).sum())
        mx = w / 3 * float((r**3 * np.cos(psi)).sum())
        my = w / 3 * float((r**3 * np.sin(psi)).sum())
        return area, ox + mx / area, oy + my / area

    def _pair_radius(self, psi: np.ndarray):
        """Boundary radius of a pair along directions ``psi`` from a point
        inside both lobes (bisection). The parameters may also be (P, 1)
        arrays of P pairs without harmonics (see :func:`area_centroids`):
        the same arithmetic, element by element."""
        x2, y2, r2 = self.lobe
        r1 = np.sqrt(self.a * self.b)
        gap = np.hypot(x2 - self.cx, y2 - self.cy)
        t = np.where(gap == 0, 0.5, np.clip(
            (r1 - 0.5 * (r1 + r2 - gap)) / np.where(gap == 0, 1, gap),
            0, 1))
        ox, oy = self.cx + t * (x2 - self.cx), self.cy + t * (y2 - self.cy)
        c, s = np.cos(psi), np.sin(psi)

        def exit_(x, y, rad):  # ray from (ox, oy) leaving a disc
            px, py = ox - x, oy - y
            pd = px * c + py * s
            return -pd + np.sqrt(np.maximum(pd * pd - (px * px + py * py -
                                                       rad * rad), 0))

        # the pair holds both lobes' inscribed discs and lies within their
        # bounding discs grown by neck / 4: a tight bracket
        hh = 0.0 if self.harm is None else float(np.abs(self.harm).sum())
        lo = np.maximum(exit_(self.cx, self.cy, self.b * (1 - hh)),
                        exit_(x2, y2, r2))
        grow = 0.25 * self.neck + 1e-9
        hi = np.maximum(exit_(self.cx, self.cy, self.reach() + grow),
                        exit_(x2, y2, r2 + grow))
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            d, _ = self.field(ox + mid * c, oy + mid * s)
            inside = d < 0
            lo = np.where(inside, mid, lo)
            hi = np.where(inside, hi, mid)
            if float((hi - lo).max()) < 1e-4:
                break
        return ox, oy, 0.5 * (lo + hi)


def area_centroids(outlines: List[Outline]) -> np.ndarray:
    """:meth:`Outline.area_centroid` of many outlines, the ellipses with
    harmonics in one batch.

    Returns:
        np.ndarray: (N, 3) rows ``area, x, y``.
    """
    out = np.zeros((len(outlines), 3))
    harm = [i for i, o in enumerate(outlines)
            if o.harm is not None and o.lobe is None]
    pairs = [i for i, o in enumerate(outlines)
             if o.harm is None and o.lobe is not None]
    for i in sorted(set(range(len(outlines))) - set(harm) - set(pairs)):
        out[i] = outlines[i].area_centroid()
    n = 64
    psi = np.arange(n) * (2 * np.pi / n)
    w = 2 * np.pi / n
    if pairs:
        # every pair's bisection at once: one Outline of (P, 1) arrays
        q = np.array([[o.cx, o.cy, o.a, o.b, o.theta, *o.lobe, o.neck]
                      for o in (outlines[i] for i in pairs)]).T[..., None]
        both = Outline(*q[:5], lobe=tuple(q[5:8]), neck=q[8])
        ox, oy, r = both._pair_radius(psi)
        area = 0.5 * w * (r * r).sum(1)
        mx = w / 3 * (r**3 * np.cos(psi)).sum(1)
        my = w / 3 * (r**3 * np.sin(psi)).sum(1)
        out[pairs] = np.stack([area, ox[:, 0] + mx / area,
                               oy[:, 0] + my / area], 1)
    if harm:
        p = np.array([[o.cx, o.cy, o.a, o.b, o.theta] for o in
                      (outlines[i] for i in harm)])
        c = np.array([outlines[i].harm for i in harm])  # (M, K)
        t = psi[None, :] - p[:, 4:5]  # droplet-frame angle (M, n)
        r = p[:, 2:3] * p[:, 3:4] / np.hypot(p[:, 3:4] * np.cos(t),
                                             p[:, 2:3] * np.sin(t))
        k = np.arange(2, 2 + c.shape[1])
        r = r * (1 + np.einsum('mk,mkn->mn', c, np.exp(
            1j * k[None, :, None] * t[:, None, :])).real)
        area = 0.5 * w * (r * r).sum(1)
        mx = w / 3 * (r**3 * np.cos(psi)).sum(1)
        my = w / 3 * (r**3 * np.sin(psi)).sum(1)
        out[harm] = np.stack([area, p[:, 0] + mx / area,
                              p[:, 1] + my / area], 1)
    return out
