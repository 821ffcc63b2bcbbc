"""Render one synthetic microfluidic droplet frame with exact instance masks.

Pure and seeded: :func:`render_frame` takes a :class:`FrameSpec` and a seed
and returns the image and its droplets; no file I/O.

**The mask rule** (used everywhere in droplet_mmdet): a pixel belongs to a
droplet when the pixel's centre lies inside the droplet's *outer* boundary
(the dark refraction rim is part of the droplet; the boundary is the
outline of :mod:`.shapes`: ellipse, radial harmonics, coalescing pair) and
no labelled droplet drawn later (in front) covers that centre (one whose
visible remnant is under ``min_visible_px`` and so gets no annotation
still covers it, as in v1). A field
stop's opaque surround lies in front of everything: pixels whose centre is
outside the aperture belong to no droplet. Rendering is anti-aliased with
the same boundary, so the mask is exactly the set of pixels whose droplet
coverage is at least one half.

What is not a droplet and has no mask: strongly defocused droplets
(``|z| > label_defocus``) are unlabelled background, drawn before (behind)
every labelled droplet, so they never hide one; v1's tiny satellites,
specks, debris, walls, droplet contents, burned-in scale bars and text
(drawn over droplets without changing their masks, as an annotator labels
through them).

Shorthand: H x W frame, D droplets.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from . import background as B
from . import layout as L
from . import optics
from .painter import paint_brightfield
from .shapes import Outline, area_centroids
from .spec import (S_BUBBLE, S_COALESCE, S_DEPTH, S_FRINGE, S_HARMONIC,
                   S_JPEG, S_MOTION, S_OVERLAY, S_RIM, S_SATELLITE, S_SIZE,
                   S_SPECKLE, S_STACK, S_STOP, S_TEXTURE, S_VIGNETTE,
                   FrameSpec, draw, is_on, stream)

__all__ = ['FrameSpec', 'Droplet', 'render_frame']


@dataclass
class Droplet:
    """One rendered, labelled droplet.

    ``cx, cy`` is the centroid and ``diameter`` the true equivalent
    diameter ``2 sqrt(area / pi)`` of the whole outline (sub-pixel; for an
    ellipse ``2 sqrt(a b)``); ``a, b, theta`` the ellipse of the (main)
    outline; ``rle_mask`` is the visible mask as a boolean patch placed at
    ``(x0, y0)``; ``cut`` tells whether the frame border (or a field stop)
    cuts it. ``kind`` is ``'droplet'``, ``'satellite'`` or ``'pair'``
    (two coalescing droplets, one instance); ``depth`` its defocus ``z``;
    ``outline`` its exact boundary.
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
    kind: str = 'droplet'
    depth: float = 0.0
    outline: Optional[Outline] = field(default=None, repr=False)

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def bbox(self) -> List[float]:
        """Tight ``[x, y, w, h]`` box of the visible mask, COCO style."""
        ys, xs = np.nonzero(self.mask)
        x, y = self.x0 + xs.min(), self.y0 + ys.min()
        return [float(x), float(y), float(self.x0 + xs.max() + 1 - x),
                float(self.y0 + ys.max() + 1 - y)]


def _place(spec: FrameSpec, rng: np.random.Generator, mean_area: float,
           seed: int):
    H, W = spec.height, spec.width
    kind = L.choose_layout(rng, spec.layout)
    r_mean = np.sqrt(mean_area / np.pi)
    margin = 0.7 * r_mean if spec.border_cut else -1.05 * r_mean
    region = L.frame_region(W, H, margin)
    channel = None
    n_max = int(2.0 * H * W / mean_area) + 10
    poly, poly_cv = spec.polydisperse, 0.0
    if spec.polydisperse or spec.poly_prob > 0:
        r = stream(seed, S_SIZE)
        poly = poly or bool(r.random() < spec.poly_prob)
        poly_cv = draw(r, spec.poly_cv)
        if kind == 'packed':  # a lattice holds only narrow spreads
            poly_cv = min(poly_cv, 0.25)
    law = (mean_area, spec.size_cv, poly, poly_cv, spec.max_ellipticity,
           spec.diameter_range)
    shapes = L.sample_radii(rng, n_max, *law)
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
    return kind, drops, channel, poly, law


def _structure(spec: FrameSpec, seed: int, drops: np.ndarray, law):
    """v2 outlines: stacked droplets, coalescing pairs, satellites,
    harmonics and depths (each from its own stream).

    Returns:
        tuple: ``(outlines, kinds, z, rim_extra)`` in drawing order.
    """
    if spec.stacked > 0 and len(drops):
        r = stream(seed, S_STACK)
        pool = L.sample_radii(r, int(4 * spec.stacked * len(drops)) + 8,
                              *law)
        drops = np.concatenate([drops, L.add_stacked(r, drops, pool,
                                                     spec.stacked)])
    outlines = [Outline(*map(float, row)) for row in drops]
    kinds = ['droplet'] * len(outlines)
    if spec.coalesce > 0:
        for i, lobe, neck in L.coalescing_lobes(
                stream(seed, S_COALESCE), drops, spec.coalesce,
                spec.diameter_range):
            outlines[i].lobe, outlines[i].neck = lobe, neck
            kinds[i] = 'pair'
    if is_on(spec.harmonics):
        # amplitudes shrink below 15 px radius (small droplets are rounder:
        # higher Laplace pressure); under 0.2 px of deviation: an ellipse
        r = stream(seed, S_HARMONIC)
        amp = draw(r, spec.harmonics)
        mag = amp * r.uniform(0, 1, (len(outlines), 4)) * (2.0 / np.arange(
            2, 6)) * np.minimum(1, np.sqrt(drops[:, 2:3] * drops[:, 3:4]) /
                                15)
        phase = r.uniform(0, 2 * np.pi, (len(outlines), 4))
        for o, m, p in zip(outlines, mag, phase):
            if o.lobe is None and m.sum() * o.a >= 0.2:
                o.harm = m * np.exp(1j * p)
    parent = np.zeros(0, int)
    if spec.satellite_rate > 0:
        sats, parent = L.add_satellites(stream(seed, S_SATELLITE), drops,
                                        spec.satellite_rate)
        outlines += [Outline(*map(float, row)) for row in sats]
        kinds += ['satellite'] * len(sats)
    n = len(outlines)
    z = np.zeros(n)
    if is_on(spec.defocus):
        r = stream(seed, S_DEPTH)
        zmax = draw(r, spec.defocus)
        z = r.uniform(-zmax, zmax, n)
        # satellites sit about as deep as their parent
        z[n - len(parent):] = z[parent] + r.normal(0, 0.05, len(parent))
    rim = np.zeros(n)
    if is_on(spec.rim_scale):
        r = stream(seed, S_RIM)
        rim = draw(r, spec.rim_scale) * r.uniform(0.7, 1.3, n) * np.array(
            [np.sqrt(o.a * o.b) for o in outlines])
    return outlines, kinds, z, rim


def _v2_droplets(spec: FrameSpec) -> bool:
    """Whether a v2 droplet knob is on (brightfield frames then use the
    one-pass painter; otherwise droplets are painted one by one, as v1
    did)."""
    return (is_on(spec.defocus) or is_on(spec.rim_scale)
            or is_on(spec.harmonics) or spec.coalesce > 0
            or spec.stacked > 0 or spec.satellite_rate > 0)


def _paint_each(img: np.ndarray, owner: np.ndarray, outlines: List[Outline],
                labelled: np.ndarray, z: np.ndarray, rim: np.ndarray,
                look: str, contents_prob: float, rng: np.random.Generator
                ) -> Dict[int, Any]:
    """Paint droplets one by one (unlabelled, i.e. strongly defocused,
    first: behind everything) and write the labelled ones into
    ``owner``."""
    H, W = img.shape
    order = list(np.flatnonzero(~labelled)) + list(np.flatnonzero(labelled))
    geoms: Dict[int, Any] = {}
    for i in order:
        o = outlines[i]
        r_eq = np.sqrt(o.a * o.b)
        geom = o.patch(4.0 + 3 * optics.defocus_sigma(z[i], r_eq), H, W)
        if geom is None:
            continue
        optics.paint_droplet(img, geom, look, rng,
                             rng.random() < contents_prob, z=float(z[i]),
                             rim_extra=float(rim[i]), r=float(r_eq))
        if labelled[i]:
            geoms[int(i)] = geom
            x0, y0, d, _ = geom
            owner[y0:y0 + d.shape[0], x0:x0 + d.shape[1]][d < 0] = i
    return geoms


def _gas_bubbles(spec: FrameSpec, seed: int, n: int, look: str
                 ) -> Optional[np.ndarray]:
    """(n, 3) body level, spot radius and spot level of the frame's gas
    bubbles (see :class:`FrameSpec`), or None for a frame of droplets."""
    r = stream(seed, S_BUBBLE)
    if look != 'brightfield' or r.random() >= spec.gas_bubbles:
        return None
    body = r.uniform(0.04, 0.35) * r.uniform(0.8, 1.2, n)
    spot = r.uniform(0.08, 0.6) * r.uniform(0.75, 1.25, n)
    level = r.uniform(0.5, 1.15) * r.uniform(0.85, 1.15, n)
    return np.stack([body, spot, level], 1)


def _gate(spec: FrameSpec, seed: int, key: int, knob
          ) -> Optional[np.random.Generator]:
    """The stream of an artefact that this frame gets, else ``None``."""
    if not is_on(knob) or spec.artefact_prob <= 0:
        return None
    r = stream(seed, key)
    return r if r.random() < spec.artefact_prob else None


def render_frame(spec: FrameSpec, seed: int
                 ) -> Tuple[np.ndarray, List[Droplet], Dict[str, Any]]:
    """Render one frame.

    Args:
        spec: what to draw.
        seed: any non-negative integer; the same ``(spec, seed)`` always
            gives the same bytes.

    Returns:
        tuple: ``(image, droplets, info)``: ``image`` is (H, W) uint8 (or
        uint16 for ``output_bits=16``); ``droplets`` holds the labelled
        droplets in drawing order (visible mask, true geometry); ``info``
        records the per-frame draws (layout, look, blur, noise, and the v2
        features that are on).
    """
    rng = np.random.default_rng(seed)
    H, W = spec.height, spec.width
    look = spec.look
    if look == 'mixed':
        look = 'brightfield' if rng.random() < 0.7 else 'fluorescence'
    mean_area = rng.uniform(*spec.mean_area)
    kind, drops, channel, poly, law = _place(spec, rng, mean_area, seed)
    outlines, kinds, z, rim = _structure(spec, seed, drops, law)
    info: Dict[str, Any] = {}

    base = rng.uniform(0.55, 0.8) if look == 'brightfield' else \
        rng.uniform(0.03, 0.08)
    img = np.full((H, W), base, np.float32)
    if is_on(spec.texture):
        r = stream(seed, S_TEXTURE)
        img *= B.texture(H, W, draw(r, spec.texture), r)
    if is_on(spec.speckle):
        r = stream(seed, S_SPECKLE)
        B.speckle(img, draw(r, spec.speckle), look, r)
    if channel is not None:
        B.draw_walls(img, channel, look)
    owner = np.full((H, W), -1, np.int32)
    labelled = np.ones(len(outlines), bool)
    if spec.label_defocus is not None:
        labelled = np.abs(z) <= spec.label_defocus
    bubble = None
    if spec.gas_bubbles > 0:
        bubble = _gas_bubbles(spec, seed, len(outlines), look)
        info['gas_bubbles'] = bubble is not None
    if look == 'brightfield' and (_v2_droplets(spec) or bubble is not None):
        geoms = paint_brightfield(img, owner, outlines, labelled, z, rim,
                                  spec.contents_prob, rng, bubble)
    else:
        geoms = _paint_each(img, owner, outlines, labelled, z, rim, look,
                            spec.contents_prob, rng)
    B.draw_distractors(img, spec.satellites, spec.debris, look, rng)

    light = B.illumination(H, W, spec.illumination, rng)
    if is_on(spec.vignetting):
        r = stream(seed, S_VIGNETTE)
        light *= B.vignette(H, W, draw(r, spec.vignetting), r)
    r = _gate(spec, seed, S_FRINGE, spec.fringes)
    if r is not None:
        light *= optics.fringes(H, W, draw(r, spec.fringes), r)
    img *= light
    stop = None
    if spec.field_stop > 0:
        r = stream(seed, S_STOP)
        info['field_stop'] = None
        if r.random() < spec.field_stop:
            stop = B.FieldStop.draw(H, W, r)
            stop.apply(img, r)
            info['field_stop'] = stop.to_info()
    sigma = rng.uniform(*spec.blur_sigma)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    r = _gate(spec, seed, S_MOTION, spec.motion_blur)
    if r is not None:
        length = draw(r, spec.motion_blur)
        img = optics.motion_blur(img, length, r)
        info['motion_blur'] = round(length, 3)
    photons = rng.uniform(*spec.photons)
    read = rng.uniform(*spec.read_noise)
    img = optics.sensor(img, photons, read, rng)
    if spec.overlay > 0:
        r = stream(seed, S_OVERLAY)
        info['overlay'] = bool(r.random() < spec.overlay)
        if info['overlay']:
            optics.overlay(img, r)
    image = optics.quantise(img, spec.bit_depth, spec.output_bits)
    r = _gate(spec, seed, S_JPEG, spec.jpeg_quality)
    if r is not None and spec.output_bits == 8:
        quality = draw(r, spec.jpeg_quality)
        image = optics.jpeg(image, quality)
        info['jpeg_quality'] = int(round(quality))

    droplets = []
    exact = [i for i in geoms if not outlines[i].plain]
    sizes = dict(zip(exact, area_centroids([outlines[i] for i in exact])))
    for i in sorted(geoms):
        x0, y0, d, _ = geoms[i]
        h, w = d.shape
        mask = owner[y0:y0 + h, x0:x0 + w] == i
        aperture = None
        if stop is not None:
            aperture = stop.inside(x0, y0, h, w)
            mask &= aperture
        if mask.sum() < spec.min_visible_px:
            continue
        o = outlines[i]
        if o.plain:
            cx, cy, diameter = o.cx, o.cy, 2 * np.sqrt(o.a * o.b)
            cut = bool(cx - o.a < 0 or cy - o.a < 0 or cx + o.a > W
                       or cy + o.a > H)
        else:
            area, cx, cy = sizes[i]
            diameter = 2 * np.sqrt(area / np.pi)
            bx0, by0, bx1, by1 = o.bounds()
            cut = bool(bx0 < 0 or by0 < 0 or bx1 > W or by1 > H)
        if aperture is not None and not cut:
            cut = bool((d < 0)[~aperture].any())
        droplets.append(
            Droplet(float(cx), float(cy), float(o.a), float(o.b),
                    float(o.theta), float(diameter), cut, x0, y0, mask,
                    kind=kinds[i], depth=float(z[i]), outline=o))
    info.update(layout=kind, look=look, mean_area=float(mean_area),
                blur_sigma=float(sigma), photons=float(photons))
    if spec.polydisperse or spec.poly_prob > 0:
        info['polydisperse'] = poly
    if is_on(spec.defocus):
        info['unlabelled_defocused'] = int((~labelled).sum())
    return image, droplets, _ordered(info)


def _ordered(info: Dict[str, Any]) -> Dict[str, Any]:
    """v1's keys first, in v1's order (v1 frames keep v1's JSON bytes)."""
    head = ('layout', 'look', 'mean_area', 'blur_sigma', 'photons')
    out = {k: info[k] for k in head}
    out.update((k, v) for k, v in info.items() if k not in head)
    return out
