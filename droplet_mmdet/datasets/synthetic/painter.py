"""All brightfield droplets of a frame in one pass (the v2 painter).

The same optics as :func:`.optics.paint_droplet` (see its module
docstring), computed for every droplet patch at once on flat arrays: a
brightfield droplet multiplies the light behind it by a factor that does
not depend on that light, so the patches are shaded together and then
multiplied into the frame one by one (cheap), and the mask owner is
written in drawing order. One pass over ~10^5 pixels costs far less than a
few dozen small NumPy calls per droplet.

Shorthand: M droplets, N pixels of all their patches together (one patch
after the other, row-major), h x w one patch.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

from .optics import defocus_sigma
from .shapes import Outline

Geom = Tuple[int, int, np.ndarray, np.ndarray]


def _boxes(outlines: List[Outline], pad: np.ndarray, H: int, W: int
           ) -> np.ndarray:
    """(M, 4) int boxes ``x0, y0, x1, y1`` of the patches, clipped."""
    b = np.array([o.bounds() for o in outlines]).reshape(-1, 4)
    box = np.stack([np.floor(b[:, 0] - pad), np.floor(b[:, 1] - pad),
                    np.ceil(b[:, 2] + pad), np.ceil(b[:, 3] + pad)], 1)
    box = box.astype(np.int64)
    np.clip(box[:, 0::2], 0, W, out=box[:, 0::2])
    np.clip(box[:, 1::2], 0, H, out=box[:, 1::2])
    return box


def _ranges(start: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``arange(start[j], start[j] + length[j])`` for every ``j``, end to
    end (int64)."""
    end = np.cumsum(length)
    return np.arange(end[-1]) + np.repeat(start - end + length, length)


def _field(outlines: List[Outline], box: np.ndarray, nh: int, d: np.ndarray,
           rn: np.ndarray) -> None:
    """``(d, rn)`` of ellipses with harmonics (the first ``nh`` outlines)
    and without (the rest) on their patches ``box``, written end to end
    into the flat ``d`` and ``rn`` (float64); the formulas of
    :meth:`Outline.field`.

    With ``X``, ``Y`` a pixel centre minus the droplet's centre, the
    droplet-frame coordinates ``u = X c + Y s``, ``v = Y c - X s`` scaled
    by the semi-axes, and ``rho^2 = X^2 + Y^2``, are outer sums of a
    per-column and a per-row term: those terms are computed for every
    patch at once, and each patch costs one outer sum per quantity.
    """
    w = box[:, 2] - box[:, 0]
    h = box[:, 3] - box[:, 1]
    off = np.concatenate([[0], np.cumsum(w * h)])
    cw = np.concatenate([[0], np.cumsum(w)])
    ch = np.concatenate([[0], np.cumsum(h)])
    p = np.array([[o.cx, o.cy, o.theta, o.a, o.b]
                  for o in outlines]).reshape(-1, 5)
    c, s = np.cos(p[:, 2]), np.sin(p[:, 2])
    X = (_ranges(box[:, 0], w) + 0.5) - np.repeat(p[:, 0], w)
    Y = (_ranges(box[:, 1], h) + 0.5) - np.repeat(p[:, 1], h)
    # column terms (X ...) and row terms (Y ...): u / a, v / b, rho^2
    Xa, Xb = X * np.repeat(c / p[:, 3], w), X * np.repeat(s / p[:, 4], w)
    Ya, Yb = Y * np.repeat(s / p[:, 3], h), Y * np.repeat(c / p[:, 4], h)
    X2, Y2 = X * X, Y * Y
    vb = np.empty(off[-1])
    rho = np.empty(off[-1])
    # Python ints: slicing with NumPy scalars costs more than the sums
    cw, ch, off_, hw = cw.tolist(), ch.tolist(), off.tolist(), list(zip(
        h.tolist(), w.tolist()))
    for j in range(len(outlines)):
        cs, rs = slice(cw[j], cw[j + 1]), slice(ch[j], ch[j + 1])
        sl = slice(off_[j], off_[j + 1])
        np.add(Xa[None, cs], Ya[rs, None], out=rn[sl].reshape(hw[j]))
        np.subtract(Yb[rs, None], Xb[None, cs], out=vb[sl].reshape(hw[j]))
        np.add(X2[None, cs], Y2[rs, None], out=rho[sl].reshape(hw[j]))
    if nh:
        # z = (u + i v) / rho of the ellipses with harmonics (u = a u/a,
        # v = b v/b); the perturbation (|sum| <= ~0.2) in single
        # precision moves the boundary by < 1e-5 px
        end = int(off[nh])
        k = max(len(o.harm) for o in outlines[:nh])
        coef = np.zeros((nh, k), np.complex128)
        for i, o in enumerate(outlines[:nh]):
            coef[i, :len(o.harm)] = o.harm
        n = np.diff(off[:nh + 1])
        inv = 1 / np.maximum(np.sqrt(rho[:end]), 1e-12)
        z = np.empty(end, np.complex64)
        z.real = rn[:end] * np.repeat(p[:nh, 3], n) * inv
        z.imag = vb[:end] * np.repeat(p[:nh, 4], n) * inv
        coef = np.repeat(coef.astype(np.complex64).T, n, axis=1)
        acc = coef[-1] * z
        for j in range(k - 2, -1, -1):
            acc += coef[j]
            acc *= z
        acc *= z
        acc.real += 1
    np.multiply(rn, rn, out=rn)
    np.multiply(vb, vb, out=vb)
    rn += vb
    np.sqrt(rn, out=rn)
    if nh:
        rn[:end] /= acc.real
    np.sqrt(rho, out=rho)
    # d = rho - rho / max(rn, 1e-6)
    np.maximum(rn, 1e-6, out=vb)
    np.divide(rho, vb, out=d)
    np.subtract(rho, d, out=d)


def paint_brightfield(img: np.ndarray, owner: np.ndarray,
                      outlines: List[Outline], labelled: np.ndarray,
                      z: np.ndarray, rim_extra: np.ndarray,
                      contents_prob: float, rng: np.random.Generator,
                      bubble: Optional[np.ndarray] = None
                      ) -> Dict[int, Geom]:
    """Shade and blend every droplet into ``img`` (in place) and write the
    labelled ones into ``owner`` in drawing order (later = in front).

    Args:
        img: (H, W) float32 frame.
        owner: (H, W) int32, -1 = no droplet.
        outlines: the M droplets in drawing order.
        labelled: (M,) bool, which droplets get a mask.
        z: (M,) defocus; rim_extra: (M,) px added to the rim width.
        contents_prob: chance a droplet holds 1-3 beads/cells.
        bubble: (M, 3) gas bubbles instead of droplets (shadowgraphy):
            body level (fraction of the light behind), centre spot radius
            (fraction of the radius) and spot level per droplet; None:
            droplets. Bubbles hold no beads.

    Returns:
        dict: ``{index: (x0, y0, d, rn)}`` of the labelled droplets whose
        patch meets the frame.
    """
    H, W = img.shape
    M = len(outlines)
    if M == 0:
        return {}
    f32 = np.float32
    r = np.array([np.sqrt(o.a * o.b) for o in outlines])
    sigma = defocus_sigma(z, r)
    box = _boxes(outlines, 4.0 + 3 * sigma, H, W)
    keep = np.flatnonzero((box[:, 2] > box[:, 0]) & (box[:, 3] > box[:, 1]))
    # ellipses with harmonics, plain ellipses, then pairs (few; their own
    # formula): the order of the batch, not of drawing
    kind = np.array([0 if outlines[i].lobe is not None else
                     (2 if outlines[i].harm is not None else 1)
                     for i in keep], int)
    idx = np.concatenate([keep[kind == 2], keep[kind == 1],
                          keep[kind == 0]])
    nh, npl = int((kind == 2).sum()), int((kind == 1).sum())
    bw = box[idx, 2] - box[idx, 0]
    off = np.concatenate([[0], np.cumsum(bw * (box[idx, 3] - box[idx, 1]))])
    n = np.diff(off)
    nb = int(off[nh + npl])
    d = np.empty(off[-1])
    rn = np.empty(off[-1])
    if nb:
        _field([outlines[i] for i in idx[:nh + npl]], box[idx[:nh + npl]],
               nh, d[:nb], rn[:nb])
    for j in range(nh + npl, len(idx)):
        x0, y0, x1, y1 = box[idx[j]]
        sl = slice(off[j], off[j + 1])
        dd, rr = outlines[idx[j]].field(
            np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5,
            np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5)
        d[sl], rn[sl] = dd.ravel(), rr.ravel()

    # per-droplet optics (see optics.py), then per pixel
    m = len(idx)
    zi, si, ri = z[idx], sigma[idx], r[idx]
    rim_w = rng.uniform(1.5, 3.0, m) + rim_extra[idx]
    gain = rng.uniform(0.05, 0.25, m)
    dark = rng.uniform(0.5, 0.9, m)
    contents = rng.random(m) < contents_prob
    below = zi < 0
    za = np.minimum(np.abs(zi), 1.0)
    sd = np.hypot(0.5 * rim_w, si)
    rim_amp = dark * np.where(below, np.maximum(0, 1 - 1.6 * np.abs(zi)),
                              1.0) * (0.5 * rim_w / sd)
    spot = np.where(below, 0.0, 0.35 * za)
    centre_dark = np.where(below, 0.5 * za, 0.0)
    halo_c = np.where(below, 0.5 + 0.5 * si, 1.2 + si)
    halo_a = np.where(below, 0.08 + 0.25 * za, 0.08)

    # per-droplet parameters, repeated over their pixels in one call
    par = np.repeat(np.array([
        gain, centre_dark, 1 / (0.3 + si / np.maximum(ri, 1.0)), spot,
        0.6 * rim_w, 1 / sd, rim_amp, 1 / (1 + 2 * si), halo_c,
        1 / (0.8 + si), halo_a, below], np.float32), n, axis=1)
    (gain_p, cdark_p, spot_w, spot_p, rim_c, rim_inv, rim_p, cov_inv, halo_cp,
     halo_inv, halo_p, below_p) = par
    d32 = d.astype(np.float32)
    rn32 = rn.astype(np.float32)
    q2 = np.minimum(rn32, f32(1))
    q2 *= q2
    q2 -= 1  # -(1 - q^2)
    val = 1 - gain_p * q2
    val *= 1 + cdark_p * q2
    e = rn32 * spot_w
    e *= e
    e *= f32(-0.5)
    val *= 1 + spot_p * np.exp(e, out=e)
    # the rim is darkest from the boundary in to 0.6 x its width (a sharp
    # outer edge, as the refraction cuts off), then fades inwards
    e = d32 + rim_c
    np.minimum(e, 0, out=e)
    e *= rim_inv
    e *= e
    e *= f32(-0.5)
    val *= 1 - rim_p * np.exp(e, out=e)
    if bubble is not None:
        # a dark body with a flat-topped bright centre spot, widened by
        # defocus; replaces the droplet's lens, rim and spot
        body_p, spot_p2, level_p = np.repeat(np.array([
            bubble[idx, 0], 1 / (bubble[idx, 1] + si / np.maximum(ri, 1.0)),
            bubble[idx, 2] - bubble[idx, 0]], np.float32), n, axis=1)
        e = rn32 * spot_p2
        e *= e
        e *= e
        e *= f32(-0.5)
        val = np.exp(e, out=e)
        val *= level_p
        val += body_p
    cov = f32(0.5) - d32 * cov_inv
    np.clip(cov, 0, 1, out=cov)
    val -= 1
    val *= cov
    e = d32 - halo_cp
    e *= halo_inv
    e *= e
    e *= f32(-0.5)
    halo = np.exp(e, out=e)
    halo *= halo_p
    halo *= np.maximum(d32 > 0, below_p)
    val += halo
    val += 1

    geoms: Dict[int, Geom] = {}
    off_, boxes = off.tolist(), box.tolist()
    contents, labelled_ = contents.tolist(), labelled.tolist()
    for j, i in enumerate(idx.tolist()):
        x0, y0, x1, y1 = boxes[i]
        h, w = y1 - y0, x1 - x0
        sl = slice(off_[j], off_[j + 1])
        f = val[sl].reshape(h, w)
        if contents[j]:
            # gas holds no beads: drawn on a copy, so that the frame's
            # stream draws what it would for droplets
            _contents(f if bubble is None else f.copy(),
                      cov[sl].reshape(h, w), rng)
        img[y0:y1, x0:x1] *= f
        if labelled_[i]:
            geoms[i] = (x0, y0, d[sl].reshape(h, w), rn[sl].reshape(h, w))
    for i in sorted(geoms):  # drawing order: later droplets in front
        x0, y0, dd, _ = geoms[i]
        owner[y0:y0 + dd.shape[0], x0:x0 + dd.shape[1]][dd < 0] = i
    return geoms


def _contents(f: np.ndarray, cov: np.ndarray, rng: np.random.Generator
              ) -> None:
    """1-3 dark beads/cells inside a droplet's factor patch (in place)."""
    h, w = f.shape
    for _ in range(rng.integers(1, 4)):
        rr = rng.uniform(1.2, 3.0)
        ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5)
        bx = (w / 2) + dist * (w / 2 - 4) * np.cos(ang)
        by = (h / 2) + dist * (h / 2 - 4) * np.sin(ang)
        # the bead is 0 beyond rr + 0.5 px from its centre: shade only
        # the pixels within that reach
        x0, x1 = max(int(bx - rr) - 1, 0), min(int(bx + rr) + 2, w)
        y0, y1 = max(int(by - rr) - 1, 0), min(int(by + rr) + 2, h)
        if x1 <= x0 or y1 <= y0:
            continue
        xx = np.arange(x0, x1, dtype=np.float32)[None, :] + np.float32(0.5)
        yy = np.arange(y0, y1, dtype=np.float32)[:, None] + np.float32(0.5)
        bead = np.clip(np.float32(rr + 0.5) - np.sqrt(
            (xx - np.float32(bx))**2 + (yy - np.float32(by))**2), 0, 1)
        f[y0:y1, x0:x1] *= 1 - np.float32(0.5) * bead * cov[y0:y1, x0:x1]
